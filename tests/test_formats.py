"""Report formats: Runscope JSON, IETF health+json, Kubernetes-style text; how one is chosen."""

from __future__ import annotations

import dataclasses
import datetime
import importlib.metadata
import json
import re
import socket
import sys
import types
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_healthcheck import Endpoint, HealthCheck, Outcome
from flask_healthcheck.formats import _result_json, render_health_json, render_json, render_text
from flask_healthcheck.results import CheckResult, Report, Status


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    # "redis" below never passes: without the start-up gate, so no start-up thread keeps trying.
    return make_app(HEALTHCHECK_STARTUP_GATE=())


@pytest.fixture
def mixed(health: HealthCheck) -> None:
    health.add_check(lambda: (True, "database ok"), name="database")
    health.add_check(lambda: (False, "connection refused"), name="redis")
    health.add_check(
        lambda: Outcome(True, "12 GiB free", observed_value=12, observed_unit="GiB"), name="disk"
    )


# -- choosing the format -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "mimetype"),
    [
        ("", "application/json"),
        ("?format=json", "application/json"),
        ("?format=health%2Bjson", "application/health+json"),
        ("?format=health+json", "application/health+json"),  # "+" read as a space, stripped
        ("?format=text", "text/plain"),
        ("?format=TEXT", "text/plain"),
        ("?verbose", "text/plain"),
        ("?verbose=1", "text/plain"),
    ],
)
def test_format_query_parameter_chooses_the_format(
    mixed: None, client: FlaskClient, query: str, mimetype: str
) -> None:
    response = client.get(f"/healthz{query}")

    assert response.mimetype == mimetype
    assert response.status_code == 503


@pytest.mark.parametrize(
    ("accept", "mimetype"),
    [
        ("application/json", "application/json"),
        ("application/health+json", "application/health+json"),
        ("text/plain", "text/plain"),
        ("text/*", "text/plain"),
        ("*/*", "application/json"),
        ("image/png", "application/json"),
        ("application/json;q=0.5, application/health+json", "application/health+json"),
        ("text/plain;q=0.9, application/json;q=0.1", "text/plain"),
    ],
)
def test_accept_header_chooses_the_format(
    mixed: None, client: FlaskClient, accept: str, mimetype: str
) -> None:
    response = client.get("/healthz/ready", headers={"Accept": accept})

    assert response.mimetype == mimetype


def test_format_query_wins_over_accept(mixed: None, client: FlaskClient) -> None:
    response = client.get("/healthz?format=json", headers={"Accept": "text/plain"})

    assert response.mimetype == "application/json"


@pytest.mark.parametrize("fmt", ["yaml", "", "xml", "json2"])
def test_unknown_format_is_a_400_listing_the_formats(
    mixed: None, client: FlaskClient, fmt: str
) -> None:
    response = client.get(f"/healthz?format={fmt}")

    assert response.status_code == 400
    assert response.mimetype == "application/json"
    assert "json, health+json, text" in response.json["error"]  # the formats it accepts


def test_every_endpoint_speaks_every_format(mixed: None, client: FlaskClient) -> None:
    for path in (
        "/healthz",
        "/healthz/live",
        "/healthz/ready",
        "/healthz/startup",
        "/healthz/disk",
    ):
        assert client.get(f"{path}?format=json").json["results"]
        assert "status" in client.get(f"{path}?format=health%2Bjson").json
        assert client.get(f"{path}?format=text").text.endswith("\n")


# -- health+json -------------------------------------------------------------------------


def test_health_json_follows_the_ietf_draft(mixed: None, client: FlaskClient) -> None:
    response = client.get("/healthz", headers={"Accept": "application/health+json"})

    assert response.status_code == 503
    body = json.loads(response.data)
    assert body["status"] == "fail"
    assert set(body["checks"]) == {"database", "redis", "disk"}
    [database] = body["checks"]["database"]
    assert database["status"] == "pass"
    assert "output" not in database  # the draft: omitted while a check passes
    assert datetime.datetime.fromisoformat(database["time"]).tzinfo is not None
    [redis] = body["checks"]["redis"]
    assert (redis["status"], redis["output"]) == ("fail", "connection refused")
    [disk] = body["checks"]["disk"]
    assert (disk["observedValue"], disk["observedUnit"]) == (12, "GiB")
    assert "observedValue" not in database
    assert "redis" in body["output"]


def test_health_json_status_pass_and_warn(health: HealthCheck, client: FlaskClient) -> None:
    health.add_check(lambda: (True, "ok"), name="db")
    assert client.get("/healthz?format=health%2Bjson").json["status"] == "pass"

    health.add_check(lambda: (False, "slow"), name="mail", critical=False)
    response = client.get("/healthz?format=health%2Bjson")
    assert response.status_code == 200
    assert response.json["status"] == "warn"
    assert response.json["checks"]["mail"][0]["status"] == "fail"
    assert "mail" in response.json["notes"][0]


# -- text --------------------------------------------------------------------------------


def test_text_is_kubernetes_verbose_style(mixed: None, client: FlaskClient) -> None:
    response = client.get("/healthz?format=text")

    assert response.mimetype == "text/plain"
    lines = response.text.splitlines()
    assert lines[0].startswith("[+]database ok")
    assert lines[1].startswith("[-]redis failed")
    assert lines[2].startswith("[+]disk ok")
    assert lines[-1] == "healthz check failed"
    assert all(re.fullmatch(r"\[[+-]\][\w.:-]+ (ok|failed|warn).*", line) for line in lines[:-1])


def test_text_of_a_passing_endpoint(health: HealthCheck, client: FlaskClient) -> None:
    health.add_check(lambda: (True, "database ok"), name="database")

    response = client.get("/healthz/ready", headers={"Accept": "text/plain"})

    assert response.status_code == 200
    assert (
        response.text
        == "[+]readiness ok: ready\n[+]database ok: database ok\nreadyz check passed\n"
    )


def test_text_keeps_one_line_per_check_whatever_the_output(
    health: HealthCheck, client: FlaskClient
) -> None:
    health.add_check(lambda: (False, "line one\nline two\r\n\tend"), name="multi")

    lines = client.get("/healthz?format=text").text.splitlines()

    assert lines == ["[-]multi failed: line one line two end", "healthz check failed"]


# -- the formatters on their own ---------------------------------------------------------


def _report() -> Report:
    result = CheckResult(
        name="db",
        passed=False,
        output="raised OSError (details withheld)",
        timestamp=1_500_000_000.0,
        expires=1_500_000_009.0,
        response_time=0.25,
        detail="raised OSError: no route to host",
    )
    return Report.of([result], "web-1", 1_500_000_000.5, Endpoint.REPORT)


def test_formatters_show_details_only_when_told() -> None:
    report = _report()
    for render in (render_json, render_health_json, render_text):
        assert "no route to host" not in render(report, False)
        assert "details withheld" in render(report, False)
        assert "no route to host" in render(report, True)


def test_runscope_json_of_a_report() -> None:
    body = json.loads(render_json(_report(), False))

    assert body["status"] == "failure"
    assert body["hostname"] == "web-1"
    assert body["timestamp"] == 1_500_000_000.5
    [result] = body["results"]
    assert result == result | {
        "checker": "db",
        "passed": False,
        "timestamp": 1_500_000_000.0,
        "expires": 1_500_000_009.0,
        "response_time": 0.25,
        "critical": True,
        "tags": [],
    }


def test_runscope_json_is_json_dumps_of_the_whole_body_every_time() -> None:
    # render_json encodes a cached result once and joins the texts: the answer must stay what
    # json.dumps of the whole body gives, for the first answer and those from the cache alike.
    cached = _report().results[0]
    warned = CheckResult(
        "disk", True, "91% full", 1.0, 11.0, 0.001, warning=True, tags=frozenset({"ready"})
    )
    fresh = CheckResult.synthetic("readiness", True, "ready", "ready")
    reports = [
        Report.of([fresh, cached, warned], "web-1", 2.5, Endpoint.READY),
        Report.of([warned], "web-1", 3.5, Endpoint.READY),
        Report.of([], "web-1", 4.5, Endpoint.STARTUP),
    ]
    for report in reports * 2:
        for details in (False, True):
            expected = {
                "status": "success" if report.passed else "failure",
                "hostname": report.hostname,
                "timestamp": report.timestamp,
                "degraded": report.status is Status.WARN,
                "warnings": report.warnings,
                "results": [_result_json(result, details) for result in report.results],
            }
            assert render_json(report, details) == json.dumps(expected)
    assert json.loads(render_json(reports[1], False))["degraded"] is True


def test_a_cached_result_is_encoded_once_and_a_result_made_from_it_afresh() -> None:
    cached = _report().results[0]
    render_json(Report.of([cached], "web-1", 2.0, Endpoint.READY), False)
    [kept] = cached.rendered.values()  # kept on the result itself, not in a global cache

    render_json(Report.of([cached], "web-1", 3.0, Endpoint.READY), False)
    changed = dataclasses.replace(cached, output="raised TimeoutError (details withheld)")
    other = render_json(Report.of([changed], "web-1", 4.0, Endpoint.READY), False)

    [again] = cached.rendered.values()
    assert again is kept
    assert "TimeoutError" in other
    assert "TimeoutError" not in kept
    assert changed == dataclasses.replace(changed)  # the kept text takes no part in equality
    assert "rendered" not in repr(cached)


def test_a_result_made_for_one_answer_is_not_kept() -> None:
    synthetic = CheckResult.synthetic("readiness", True, "ready", "ready")

    render_json(Report.of([synthetic], "web-1", 2.0, Endpoint.READY), False)

    assert synthetic.rendered == {}


@pytest.mark.parametrize(
    ("endpoint", "check", "verdict"),
    [
        (Endpoint.REPORT, None, "healthz check passed"),
        (Endpoint.LIVE, None, "livez check passed"),
        (Endpoint.READY, None, "readyz check passed"),
        (Endpoint.STARTUP, None, "startupz check passed"),
        (Endpoint.CHECK, "database", "database check passed"),
        (Endpoint.RUN, None, "run check passed"),
    ],
)
def test_the_text_report_ends_with_the_kubernetes_name_of_its_endpoint(
    endpoint: Endpoint, check: str | None, verdict: str
) -> None:
    report = Report.of([], "web-1", 1.0, endpoint, check)

    assert render_text(report, False).splitlines()[-1] == verdict
    assert (
        json.loads(render_health_json(report, False))["description"] == f"{verdict[:-13]} of web-1"
    )


def test_health_json_time_is_the_result_timestamp_in_utc() -> None:
    body = json.loads(render_health_json(_report(), False))

    [check] = body["checks"]["db"]
    assert datetime.datetime.fromisoformat(check["time"]) == datetime.datetime.fromtimestamp(
        1_500_000_000.0, datetime.timezone.utc
    )


# -- what health+json says of the service ------------------------------------------------


def test_health_json_names_the_service_after_the_app_and_leaves_out_what_it_cannot_know(
    health: HealthCheck, client: FlaskClient, app: Flask
) -> None:
    health.add_check(lambda: (True, "ok"), name="db")

    body = client.get("/healthz/ready?format=health%2Bjson").json

    assert body["serviceId"] == "test_app"  # the app's name
    assert body["description"] == f"readyz of {socket.gethostname()}"
    assert "version" not in body
    assert "releaseId" not in body


def test_health_json_service_fields_are_settings(
    health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    health.add_check(lambda: (True, "ok"), name="db")
    client = make_app(
        HEALTHCHECK_SERVICE_ID="billing-api",
        HEALTHCHECK_VERSION="2",
        HEALTHCHECK_RELEASE_ID="2.4.1-7f9c0de",
        HEALTHCHECK_DESCRIPTION="the billing API",
    ).test_client()

    body = client.get("/healthz?format=health%2Bjson").json

    assert (body["serviceId"], body["version"], body["releaseId"], body["description"]) == (
        "billing-api",
        "2",
        "2.4.1-7f9c0de",
        "the billing API",
    )


def test_health_json_version_is_discovered_from_the_app_s_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    package = types.ModuleType("billing")
    package.__version__ = "3.2.1"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "billing", package)
    app = Flask("billing.web")
    HealthCheck(app)
    installed = Flask("psutil")  # a distribution of that name is installed
    HealthCheck(installed)

    assert app.test_client().get("/healthz?format=health%2Bjson").json["version"] == "3.2.1"
    assert installed.test_client().get("/healthz?format=health%2Bjson").json["version"] == (
        importlib.metadata.version("psutil")
    )


def test_health_json_shows_output_only_for_warn_and_fail(
    health: HealthCheck, client: FlaskClient
) -> None:
    health.add_check(lambda: (True, "all good"), name="fine")
    health.add_check(lambda: Outcome(True, "92% full", warning=True), name="disk")
    health.add_check(lambda: (False, {"lag": 40}), name="replica", critical=False)

    checks = client.get("/healthz?format=health%2Bjson").json["checks"]

    assert "output" not in checks["fine"][0]
    assert checks["disk"][0]["output"] == "92% full"
    assert checks["replica"][0]["output"] == '{"lag":40}'
