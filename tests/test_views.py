"""The endpoints: paths, methods, statuses, headers, selection of checks and the token."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_healthcheck import HealthCheck

from .conftest import Calls

FAST = {"HEALTHCHECK_SUCCESS_TTL": 0, "HEALTHCHECK_FAILED_TTL": 0}
# Liveness and readiness as the core defines them, without the start-up gate in front of them.
NO_GATE = {"HEALTHCHECK_STARTUP_GATE": ()}
ENDPOINTS = ["/healthz", "/healthz/", "/healthz/live", "/healthz/ready", "/healthz/startup"]


def names(response: object) -> list[str]:
    return [r["checker"] for r in response.json["results"]]  # type: ignore[attr-defined]


@pytest.fixture
def toggle(health: HealthCheck) -> threading.Event:
    """A check named ``toggle`` that passes while the event is set (it starts set)."""
    healthy = threading.Event()
    healthy.set()
    health.add_check(
        lambda: (healthy.is_set(), "up" if healthy.is_set() else "down"), name="toggle"
    )
    return healthy


# -- every endpoint ----------------------------------------------------------------------


@pytest.mark.parametrize("path", [*ENDPOINTS, "/healthz/toggle"])
def test_every_endpoint_answers_get_with_no_store(
    toggle: threading.Event, client: FlaskClient, path: str
) -> None:
    assert client.get("/healthz/startup").status_code == 200
    response = client.get(path)

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json["status"] == "success"


@pytest.mark.parametrize("path", [*ENDPOINTS, "/healthz/toggle"])
def test_every_endpoint_answers_head_with_status_headers_and_no_body(
    toggle: threading.Event, make_app: Callable[..., Flask], path: str
) -> None:
    client = make_app(**FAST).test_client()
    assert client.get("/healthz/startup").status_code == 200

    response = client.head(path)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.mimetype == "application/json"
    assert response.data == b""

    if path not in ("/healthz/live", "/healthz/startup"):  # those do not run "toggle" now
        toggle.clear()
        assert client.head(path).status_code == 503


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/healthz/nope", {}, 404),
        ("/healthz/a/b/c", {}, 404),
        ("/healthz?exclude=nope", {}, 400),
        ("/healthz/ready?format=yaml", {}, 400),
        ("/healthz/live?format=xml", {}, 400),
        ("/healthz", {"Authorization": "Bearer wrong"}, 401),
        ("/healthz/live", {"Authorization": "Bearer wrong"}, 401),
    ],
)
def test_error_answers_are_json_and_not_stored(
    toggle: threading.Event,
    make_app: Callable[..., Flask],
    path: str,
    headers: dict[str, str],
    status: int,
) -> None:
    client = make_app(HEALTHCHECK_TOKEN="right").test_client()

    response = client.get(path, headers=headers)

    assert response.status_code == status
    assert response.headers["Cache-Control"] == "no-store"
    assert response.mimetype == "application/json"
    assert response.json["status"] == "failure"
    assert response.json["error"]
    assert client.head(path, headers=headers).status_code == status


def test_endpoints_need_no_authentication_even_with_a_token(
    toggle: threading.Event, make_app: Callable[..., Flask]
) -> None:
    client = make_app(HEALTHCHECK_TOKEN="secret-token").test_client()

    for path in ENDPOINTS:
        assert client.get(path).status_code == 200


def test_post_is_not_allowed(client: FlaskClient) -> None:
    assert client.post("/healthz").status_code == 405


# -- the full report ---------------------------------------------------------------------


def test_report_runs_every_check_whatever_its_tags(
    health: HealthCheck, client: FlaskClient
) -> None:
    health.add_check(lambda: (True, ""), name="untagged")
    health.add_check(lambda: (True, ""), name="alive", tags="live")
    health.add_check(lambda: (True, ""), name="other", tags=["custom"])

    assert names(client.get("/healthz")) == ["untagged", "alive", "other"]


def test_report_fails_when_a_critical_check_fails(
    toggle: threading.Event, make_app: Callable[..., Flask]
) -> None:
    client = make_app(**FAST).test_client()
    toggle.clear()

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json["status"] == "failure"


def test_failing_non_critical_check_degrades_but_keeps_200(
    health: HealthCheck, client: FlaskClient
) -> None:
    health.add_check(lambda: (True, "db ok"), name="db")
    health.add_check(lambda: (False, "mail slow"), name="mail", critical=False)

    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json
    assert body["status"] == "success"
    assert body["degraded"] is True
    assert body["warnings"] == ["mail"]
    mail = next(r for r in body["results"] if r["checker"] == "mail")
    assert (mail["passed"], mail["critical"], mail["status"]) == (False, False, "fail")
    text = client.get("/healthz?format=text").text
    assert "[-]mail failed (non-critical): mail slow" in text
    assert "[+]db ok" in text
    assert text.endswith("check passed, degraded\n")
    assert client.get("/healthz/ready").status_code == 200


def test_healthy_report_is_not_degraded(health: HealthCheck, client: FlaskClient) -> None:
    health.add_check(lambda: (True, ""), name="db")

    body = client.get("/healthz").json

    assert body["degraded"] is False
    assert body["warnings"] == []


# -- liveness ----------------------------------------------------------------------------


def test_live_runs_only_live_tagged_checks_and_never_an_untagged_one(
    health: HealthCheck, make_app: Callable[..., Flask], calls: Calls
) -> None:
    def dependency() -> tuple[bool, str]:
        calls.add()
        return False, "database down"

    health.add_check(dependency)
    health.add_check(lambda: (True, "event loop turns"), name="loop", tags="live")
    client = make_app(**FAST).test_client()  # the default start-up gate: readiness only

    response = client.get("/healthz/live")

    assert response.status_code == 200
    assert names(response) == ["liveness", "loop"]
    assert calls.count == 0


def test_live_without_live_checks_touches_no_check(
    health: HealthCheck, make_app: Callable[..., Flask], calls: Calls
) -> None:
    health.add_check(lambda: (calls.add() < 0, "never"), name="dependency")
    client = make_app(**FAST).test_client()

    for _ in range(3):
        response = client.get("/healthz/live")
        assert response.status_code == 200
        assert names(response) == ["liveness"]
        assert response.json["results"][0]["output"] == "live"

    assert calls.count == 0


def test_failing_live_check_fails_liveness(
    health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    health.add_check(lambda: (False, "deadlocked"), name="loop", tags="live")
    client = make_app().test_client()

    response = client.get("/healthz/live")

    assert response.status_code == 503
    assert names(response) == ["liveness", "loop"]


def test_set_live_false_is_reflected_at_once(
    health: HealthCheck, app: Flask, client: FlaskClient
) -> None:
    health.set_live(False, "worker wedged")

    for query in ("", "?format=text"):
        response = client.get(f"/healthz/live{query}")
        assert response.status_code == 503
        assert "worker wedged" in response.text

    health.set_live(True)
    response = client.get("/healthz/live")
    assert response.status_code == 200
    assert response.json["results"][0]["output"] == "live"


def test_set_live_uses_the_configured_failed_status(
    health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    app = make_app(HEALTHCHECK_FAILED_STATUS=500)

    health.set_live(False, app=app)

    response = app.test_client().get("/healthz/live")
    assert response.status_code == 500
    assert response.json["results"][0]["output"] == "not live"


# -- readiness ---------------------------------------------------------------------------


def test_ready_runs_untagged_and_ready_tagged_checks_only(
    health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    client = make_app(**NO_GATE).test_client()
    health.add_check(lambda: (True, ""), name="untagged")
    health.add_check(lambda: (True, ""), name="tagged", tags=["ready", "db"])
    health.add_check(lambda: (True, ""), name="alive", tags="live")
    health.add_check(lambda: (True, ""), name="both", tags=["live", "ready"])
    health.add_check(lambda: (True, ""), name="other", tags="custom")

    assert names(client.get("/healthz/ready")) == ["readiness", "untagged", "tagged", "both"]


def test_ready_fails_with_an_untagged_failing_check(
    toggle: threading.Event, make_app: Callable[..., Flask]
) -> None:
    client = make_app(**FAST, **NO_GATE).test_client()
    toggle.clear()

    response = client.get("/healthz/ready")

    assert response.status_code == 503
    assert names(response) == ["readiness", "toggle"]
    assert response.json["results"][1] == response.json["results"][1] | {
        "passed": False,
        "output": "down",
    }


def test_after_start_up_live_and_ready_select_as_without_the_gate(
    health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    health.add_check(lambda: (True, ""), name="untagged")
    health.add_check(lambda: (True, ""), name="alive", tags="live")
    health.add_check(lambda: (True, ""), name="other", tags="custom")
    client = make_app().test_client()

    assert client.get("/healthz/startup").status_code == 200

    assert names(client.get("/healthz/live")) == ["liveness", "alive"]
    assert names(client.get("/healthz/ready")) == ["readiness", "untagged"]


def test_set_ready_false_is_reflected_at_once_and_back(
    toggle: threading.Event, health: HealthCheck, app: Flask, client: FlaskClient
) -> None:
    assert client.get("/healthz/ready").status_code == 200

    health.set_ready(False, "maintenance")

    response = client.get("/healthz/ready")
    assert response.status_code == 503
    assert response.json["results"][0] == response.json["results"][0] | {
        "checker": "readiness",
        "passed": False,
        "output": "maintenance",
    }
    assert "[-]readiness failed: maintenance" in client.get("/healthz/ready?format=text").text
    assert client.get("/healthz/live").status_code == 200

    health.set_ready(True)
    assert client.get("/healthz/ready").status_code == 200


def test_set_ready_inside_an_app_context(
    health: HealthCheck, app: Flask, client: FlaskClient
) -> None:
    with app.app_context():
        health.set_ready(False, "draining")

    assert client.get("/healthz/ready").status_code == 503


# -- startup -----------------------------------------------------------------------------


def test_startup_passes_once_every_critical_check_passed_then_never_runs_checks_again(
    health: HealthCheck, make_app: Callable[..., Flask], calls: Calls
) -> None:
    healthy = threading.Event()

    @health.check
    def migrations() -> tuple[bool, str]:
        calls.add()
        return healthy.is_set(), "state"

    client = make_app(**FAST).test_client()

    assert client.get("/healthz/startup").status_code == 503
    assert client.get("/healthz/startup").status_code == 503
    healthy.set()
    assert client.get("/healthz/startup").status_code == 200
    runs = calls.count
    assert runs == 3

    healthy.clear()  # fails from now on; startup must not notice
    for _ in range(5):
        response = client.get("/healthz/startup")
        assert response.status_code == 200
        assert response.json["status"] == "success"
    assert calls.count == runs
    assert client.get("/healthz/ready").status_code == 503  # readiness does notice


def test_startup_counts_a_pass_seen_by_another_endpoint(
    health: HealthCheck, make_app: Callable[..., Flask], calls: Calls
) -> None:
    healthy = threading.Event()
    healthy.set()
    health.add_check(lambda: (calls.add() > 0 and healthy.is_set(), "state"), name="db")
    client = make_app(**FAST, **NO_GATE).test_client()

    assert client.get("/healthz/ready").status_code == 200
    healthy.clear()

    assert client.get("/healthz/startup").status_code == 200
    assert calls.count == 1


def test_startup_reruns_only_the_checks_that_have_not_passed_yet(
    health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    counts = {"early": 0, "late": 0}
    late_ready = threading.Event()

    def early() -> tuple[bool, str]:
        counts["early"] += 1
        return True, "up at once"

    def late() -> tuple[bool, str]:
        counts["late"] += 1
        return late_ready.is_set(), "warming up"

    health.add_check(early)
    health.add_check(late)
    client = make_app(**FAST).test_client()

    first = client.get("/healthz/startup")
    assert first.status_code == 503
    assert names(first) == ["early", "late"]

    second = client.get("/healthz/startup")
    assert second.status_code == 503
    assert names(second) == ["late"]

    late_ready.set()
    assert client.get("/healthz/startup").status_code == 200
    assert counts == {"early": 1, "late": 3}


def test_startup_does_not_wait_for_non_critical_checks(
    health: HealthCheck, client: FlaskClient
) -> None:
    health.add_check(lambda: (True, ""), name="db")
    health.add_check(lambda: (False, ""), name="mail", critical=False)

    assert client.get("/healthz/startup").status_code == 200
    assert client.get("/healthz/startup").status_code == 200


def test_startup_with_no_checks_passes(client: FlaskClient) -> None:
    assert client.get("/healthz/startup").status_code == 200


class _SlowDebugHandler(logging.Handler):
    """A handler that takes its time over DEBUG records (the runner logs passes at DEBUG)."""

    def handle(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.DEBUG:
            time.sleep(0.3)
        return True


@pytest.fixture
def slow_logging() -> Iterator[None]:
    logger = logging.getLogger("flask_healthcheck")
    handler, level = _SlowDebugHandler(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_startup_latches_on_the_request_that_saw_the_pass_even_with_slow_logging(
    health: HealthCheck, make_app: Callable[..., Flask], slow_logging: None
) -> None:
    healthy = threading.Event()
    healthy.set()
    health.add_check(lambda: (healthy.is_set(), "state"), name="db", timeout=5)
    client = make_app(**FAST).test_client()

    assert client.get("/healthz/startup").status_code == 200
    healthy.clear()

    assert client.get("/healthz/startup").status_code == 200


# -- one check by name -------------------------------------------------------------------


def test_one_check_by_name_runs_only_it(
    health: HealthCheck, make_app: Callable[..., Flask], calls: Calls
) -> None:
    health.add_check(lambda: (True, "db ok"), name="db")
    health.add_check(lambda: (calls.add() < 0, ""), name="other")
    client = make_app(**FAST).test_client()

    response = client.get("/healthz/db")

    assert response.status_code == 200
    assert names(response) == ["db"]
    assert calls.count == 0


def test_one_failing_check_by_name_answers_503(health: HealthCheck, client: FlaskClient) -> None:
    health.add_check(lambda: (False, "down"), name="db")

    assert client.get("/healthz/db").status_code == 503


def test_unknown_check_name_is_a_404_json_error_naming_it(
    health: HealthCheck, client: FlaskClient
) -> None:
    health.add_check(lambda: (True, ""), name="db")

    response = client.get("/healthz/dbb")

    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert response.json["status"] == "failure"
    assert "'dbb'" in response.json["error"]
    assert "db" in response.json["error"]  # and lists the checks there are


def test_deeper_paths_are_404_json(client: FlaskClient) -> None:
    response = client.get("/healthz/db/extra")

    assert response.status_code == 404
    assert response.json["error"] == "no health endpoint at '/healthz/db/extra'"


# -- ?exclude= ---------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["exclude=slow&exclude=flaky", "exclude=slow,flaky"])
def test_exclude_leaves_checks_out_of_one_request(
    health: HealthCheck, make_app: Callable[..., Flask], calls: Calls, query: str
) -> None:
    health.add_check(lambda: (True, ""), name="db")
    health.add_check(lambda: (calls.add() < 0, ""), name="slow")
    health.add_check(lambda: (calls.add() < 0, ""), name="flaky")
    client = make_app(**FAST, **NO_GATE).test_client()

    for path in ("/healthz", "/healthz/ready", "/healthz/startup"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 200, path
        assert "slow" not in names(response)
        assert "flaky" not in names(response)
    assert calls.count == 0
    assert client.get("/healthz").status_code == 503


@pytest.mark.parametrize(
    "path", ["/healthz", "/healthz/live", "/healthz/ready", "/healthz/startup"]
)
def test_unknown_exclude_is_a_400_naming_it(
    health: HealthCheck, client: FlaskClient, path: str
) -> None:
    health.add_check(lambda: (True, ""), name="db")

    response = client.get(f"{path}?exclude=db&exclude=typo")

    assert response.status_code == 400
    assert "'typo'" in response.json["error"]


@pytest.mark.parametrize(
    "query", ["exclude=other", "exclude=toggle", "exclude=", "format=text&exclude=x"]
)
def test_exclude_on_the_endpoint_of_one_check_is_a_400(
    health: HealthCheck, toggle: threading.Event, client: FlaskClient, query: str
) -> None:
    health.add_check(lambda: (True, ""), name="other")

    response = client.get(f"/healthz/toggle?{query}")

    assert response.status_code == 400
    assert response.mimetype == "application/json"
    assert "?exclude= does not apply to the endpoint of one check" in response.json["error"]
    assert client.get("/healthz/toggle?format=text").status_code == 200


def test_every_answer_says_nosniff(toggle: threading.Event, client: FlaskClient) -> None:
    for path in [*ENDPOINTS, "/healthz/toggle", "/healthz/nope", "/healthz?format=yaml"]:
        assert client.get(path).headers["X-Content-Type-Options"] == "nosniff", path


# -- detail visibility -------------------------------------------------------------------


@pytest.fixture
def leaky(health: HealthCheck) -> None:
    @health.check
    def database() -> tuple[bool, str]:
        raise ConnectionError("password authentication failed for user app")


def test_token_bearer_sees_the_exception_text(leaky: None, make_app: Callable[..., Flask]) -> None:
    client = make_app(HEALTHCHECK_TOKEN="s3cret-token").test_client()
    authorised = {"Authorization": "Bearer s3cret-token"}

    for fmt in ("json", "health+json", "text"):
        response = client.get(f"/healthz?format={fmt}", headers=authorised)
        assert response.status_code == 503
        assert "password authentication failed for user app" in response.text
        assert "ConnectionError" in response.text


def test_a_non_ascii_token_matches_the_utf8_bytes_sent(
    leaky: None, make_app: Callable[..., Flask]
) -> None:
    client = make_app(HEALTHCHECK_TOKEN="jeton-secr\u00e9t").test_client()
    # A client sends the token's UTF-8 bytes; WSGI hands them over decoded as latin-1.
    sent = "Bearer jeton-secr\u00e9t".encode().decode("latin-1")

    response = client.get("/healthz", headers={"Authorization": sent})

    assert "password authentication failed" in response.text


def test_token_scheme_is_case_insensitive(leaky: None, make_app: Callable[..., Flask]) -> None:
    client = make_app(HEALTHCHECK_TOKEN="tok").test_client()

    response = client.get("/healthz", headers={"Authorization": "bearer tok"})

    assert "password authentication failed" in response.text


@pytest.mark.parametrize(
    "authorization",
    ["Bearer wrong", "Bearer s3cret-token2", "Bearer ", "Basic czNjcmV0LXRva2Vu", "s3cret-token"],
)
def test_wrong_token_is_401(
    leaky: None, make_app: Callable[..., Flask], authorization: str
) -> None:
    client = make_app(HEALTHCHECK_TOKEN="s3cret-token").test_client()

    response = client.get("/healthz", headers={"Authorization": authorization})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert b"password authentication" not in response.data


def test_no_authorization_header_gets_the_public_view(
    leaky: None, make_app: Callable[..., Flask]
) -> None:
    client = make_app(HEALTHCHECK_TOKEN="s3cret-token").test_client()

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json["results"][0]["output"] == "raised ConnectionError (details withheld)"
    assert b"password authentication" not in response.data


def test_without_a_configured_token_details_are_never_shown(
    leaky: None, client: FlaskClient
) -> None:
    for header in ("Bearer anything", "Bearer ", "Bearer None"):
        for fmt in ("json", "health+json", "text"):
            response = client.get(f"/healthz?format={fmt}", headers={"Authorization": header})
            assert response.status_code == 503
            assert b"password authentication" not in response.data
            assert "details withheld" in response.text
