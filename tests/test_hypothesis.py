"""Whatever a client sends under the base path, the answer is never a 500 and is well formed."""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck as Hypothesis
from hypothesis import example, given, settings
from hypothesis import strategies as st

from flask_healthcheck import HealthCheck, Outcome

PATHS = ["", "/", "/live", "/ready", "/startup", "/db", "/mail", "/disk", "/nope"]
STATUSES = {200, 400, 401, 404, 503}
MIMETYPES = {"application/json", "application/health+json", "text/plain", "text/html"}
FUZZ = settings(
    max_examples=200, deadline=None, suppress_health_check=[Hypothesis.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def client() -> FlaskClient:
    health = HealthCheck()
    health.add_check(lambda: (True, "database ok"), name="db")
    health.add_check(lambda: (False, "mail slow"), name="mail", critical=False)
    health.add_check(
        lambda: Outcome(True, "ok", observed_value=3, observed_unit="GiB"), name="disk"
    )
    health.add_check(lambda: (True, "loop turns"), name="loop", tags="live")
    health.add_check(lambda: 1 / 0, name="broken", tags="extra", critical=False)
    app = Flask(__name__)
    app.config.update(HEALTHCHECK_TOKEN="tok")
    health.init_app(app)
    health.set_live(False, "wedged", app=app)
    return app.test_client()


def assert_well_formed(response: object, head: bool = False) -> None:
    status = response.status_code  # type: ignore[attr-defined]
    if status == 308:  # Werkzeug merges repeated slashes with a redirect before any view runs
        assert response.location.startswith("http://localhost/healthz")  # type: ignore[attr-defined]
        return
    assert status in STATUSES, status
    assert response.headers["Cache-Control"] == "no-store"  # type: ignore[attr-defined]
    mimetype = response.mimetype  # type: ignore[attr-defined]
    assert mimetype in MIMETYPES
    data: bytes = response.data  # type: ignore[attr-defined]
    if head:
        assert data == b""
        return
    if mimetype == "text/html":
        assert data.startswith(b"<!doctype html>")
        assert data.rstrip().endswith(b"</html>")
        return
    if mimetype == "text/plain":
        lines = data.decode("utf-8").splitlines()
        assert lines
        if lines[0].startswith("# "):  # {path}/metrics: the Prometheus text format
            return
        assert all(line.startswith(("[+]", "[-]")) for line in lines[:-1])
        assert lines[-1].endswith(("passed", "failed", "degraded"))
        return
    body = json.loads(data)
    if status in (400, 401, 404):
        assert body["status"] == "failure"
        assert isinstance(body["error"], str)
    elif mimetype == "application/health+json":
        assert body["status"] in ("pass", "warn", "fail")
        assert isinstance(body["checks"], dict)
    else:
        assert body["status"] in ("success", "failure")
        assert isinstance(body["results"], list)


query_pairs = st.lists(
    st.tuples(
        st.sampled_from(["format", "exclude", "verbose", "x", ""]) | st.text(max_size=10),
        st.sampled_from(["json", "text", "health+json", "db", "mail", "nope", ""])
        | st.text(max_size=20),
    ),
    max_size=4,
)
raw_query = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="#"),
    max_size=40,
)


@FUZZ
@given(path=st.sampled_from(PATHS), pairs=query_pairs)
def test_any_query_parameters_never_give_a_500(
    client: FlaskClient, path: str, pairs: list[tuple[str, str]]
) -> None:
    assert_well_formed(client.get(f"/healthz{path}?{urlencode(pairs)}"))


@FUZZ
@given(path=st.sampled_from(PATHS), query=raw_query)
@example(path="", query="format=%ff")
@example(path="/ready", query="exclude=%80%81&exclude=")
@example(path="", query="format=json%00")
@example(path="/live", query="verbose&format=")
def test_any_raw_query_string_never_gives_a_500(client: FlaskClient, path: str, query: str) -> None:
    assert_well_formed(client.get(f"/healthz{path}", query_string=query))


@FUZZ
@given(rest=st.text(max_size=30))
@example(rest="\x00\xff")
@example(rest="/")
@example(rest="..")
@example(rest="0/\n")
def test_any_path_under_the_base_path_never_gives_a_500(client: FlaskClient, rest: str) -> None:
    path = "/healthz/" + quote(rest, safe="/:@!$&'()*+,;=-._~")
    response = client.get(path)
    assert_well_formed(response)
    assert_well_formed(client.head(path), head=True)


header_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=60,
)
accept = header_text | st.lists(
    st.tuples(
        st.sampled_from(
            [
                "application/json",
                "application/health+json",
                "text/plain",
                "text/*",
                "*/*",
                "application/*",
                "text/html",
                "image/png",
                "*",
                "application/health+json;charset=x",
            ]
        ),
        st.floats(min_value=-1, max_value=2) | st.just(float("nan")) | st.none(),
    ),
    max_size=4,
).map(lambda parts: ", ".join(m if q is None else f"{m};q={q}" for m, q in parts))


@FUZZ
@given(path=st.sampled_from(PATHS), accept_header=accept)
def test_any_accept_header_never_gives_a_500(
    client: FlaskClient, path: str, accept_header: str
) -> None:
    assert_well_formed(client.get(f"/healthz{path}", headers={"Accept": accept_header}))


@FUZZ
@given(path=st.sampled_from(PATHS), authorization=header_text)
def test_any_authorization_header_never_gives_a_500(
    client: FlaskClient, path: str, authorization: str
) -> None:
    response = client.get(f"/healthz{path}", headers={"Authorization": authorization})
    assert_well_formed(response)
    scheme, _, offered = authorization.partition(" ")
    authorised = scheme.lower() == "bearer" and offered.strip() == "tok"
    assert (response.status_code == 401) is not authorised


def test_the_fuzzed_app_has_passing_degraded_and_failing_answers(client: FlaskClient) -> None:
    assert client.get("/healthz/db").status_code == 200
    degraded = client.get("/healthz")
    assert degraded.status_code == 200
    # set_live(False) shows in the full report too, as a non-critical result.
    assert set(degraded.json["warnings"]) == {"mail", "broken", "liveness"}
    assert client.get("/healthz/live").status_code == 503  # set_live(False)
