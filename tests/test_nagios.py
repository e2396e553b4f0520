"""Nagios plugin output from an in-process report and from an endpoint's JSON body."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest
from flask import Flask

from flask_healthcheck import CheckResult, HealthCheck, Outcome, Report
from flask_healthcheck.nagios import PluginStatus, ResponseTime, from_json, from_report, unknown


def result(name: str, passed: bool = True, **fields: object) -> CheckResult:
    values: dict[str, object] = {
        "output": f"{name} output",
        "timestamp": 0.0,
        "expires": 0.0,
        "response_time": 0.002,
        **fields,
    }
    return CheckResult(name=name, passed=passed, **values)  # type: ignore[arg-type]


def report(*results: CheckResult) -> Report:
    return Report.of(results, "web-1", 0.0, "run")


def test_ok_counts_the_checks_and_gives_perfdata_per_check() -> None:
    output = from_report(report(result("database"), result("redis", response_time=0.0001)))

    assert output == (
        PluginStatus.OK,
        "HEALTHCHECK OK - 2 checks passed | 'database'=0.002s;;;0 'redis'=0.0001s;;;0",
    )


def test_a_failing_critical_check_is_critical_and_named_first() -> None:
    status, text = from_report(
        report(
            result("redis", False, critical=False, output="timed out"),
            result("database", False, output="connection refused"),
        )
    )

    assert status == PluginStatus.CRITICAL == 2
    assert text.startswith(
        "HEALTHCHECK CRITICAL - database failed: connection refused; "
        "redis failed (non-critical): timed out | "
    )


def test_a_failing_non_critical_check_or_a_warning_is_a_warning() -> None:
    status, text = from_report(
        report(
            result("database"),
            result("redis", False, critical=False, output="timed out"),
            result("disk", warning=True, output="91% full"),
        )
    )

    assert status == PluginStatus.WARNING == 1
    assert text.startswith(
        "HEALTHCHECK WARNING - redis failed (non-critical): timed out; disk warn: 91% full |"
    )


def test_no_checks_is_ok_without_perfdata() -> None:
    assert from_report(report()) == (PluginStatus.OK, "HEALTHCHECK OK - no checks")


def test_output_stays_on_one_line_and_never_starts_the_perfdata() -> None:
    _, text = from_report(report(result("db", False, output="a | b\nc\td")))

    assert text == "HEALTHCHECK CRITICAL - db failed: a / b c d | 'db'=0.002s;;;0"


def test_perfdata_values_are_plain_decimals() -> None:
    _, text = from_report(
        report(result("fast", response_time=1e-06), result("zero", response_time=0))
    )

    assert text.endswith("'fast'=0.000001s;;;0 'zero'=0s;;;0")


def test_withheld_details_show_only_when_asked() -> None:
    failed = result(
        "db", False, output="raised OSError (details withheld)", detail="raised OSError: x"
    )

    assert "details withheld" in from_report(report(failed)).text
    assert "raised OSError: x" in from_report(report(failed), show_details=True).text


def test_unknown_is_exit_3_with_the_reason() -> None:
    assert unknown("timed out after 3 s") == (3, "HEALTHCHECK UNKNOWN - timed out after 3 s")


@pytest.mark.parametrize(
    "checks",
    [
        {},
        {"redis": False},
        {"disk": "warn"},
        {"database": False},
        {"database": False, "redis": False, "disk": "warn"},
    ],
)
def test_the_endpoint_json_gives_the_same_status_and_text_as_the_report(
    health: HealthCheck, make_app: Callable[..., Flask], checks: dict[str, object]
) -> None:
    def make(name: str) -> Callable[[], Outcome]:
        state = checks.get(name, True)
        return lambda: Outcome(state is not False, f"{name} says so", warning=state == "warn")

    health.add_check(make("database"), name="database")
    health.add_check(make("redis"), name="redis", critical=False)
    health.add_check(make("disk"), name="disk")
    app = make_app()
    body = app.test_client().get("/healthz").json
    with app.app_context():
        in_process = from_report(health.run())

    from_body = from_json(body)

    assert from_body.status == in_process.status
    assert from_body.text.split(" | ")[0] == in_process.text.split(" | ")[0]
    assert [datum.split("=")[0] for datum in from_body.text.split(" | ")[1].split()] == [
        "'database'",
        "'redis'",
        "'disk'",
    ]


def test_an_error_answer_is_unknown_with_its_message() -> None:
    body = {"status": "failure", "error": "invalid token"}

    assert from_json(body) == (
        PluginStatus.UNKNOWN,
        "HEALTHCHECK UNKNOWN - the endpoint answered an error: invalid token",
    )


@pytest.mark.parametrize(
    "body",
    [None, [], "ok", {"status": "success"}, {"status": "up", "results": []}, {"results": [1]}],
)
def test_a_body_of_another_shape_is_unknown(body: object) -> None:
    assert from_json(body).status == PluginStatus.UNKNOWN


def test_a_failure_body_without_a_failing_check_is_still_critical() -> None:
    assert from_json({"status": "failure", "results": []}) == (
        PluginStatus.CRITICAL,
        "HEALTHCHECK CRITICAL - the endpoint reported failure",
    )


def test_label_quotes_are_doubled() -> None:
    body = {
        "status": "success",
        "results": [{"checker": "it's", "passed": True, "response_time": 1}],
    }

    assert from_json(body).text == "HEALTHCHECK OK - 1 check passed | 'it''s'=1s;;;0"


def test_the_module_does_not_import_flask() -> None:
    import subprocess

    code = "import flask_healthcheck.nagios, sys; print('flask' in sys.modules)"
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert completed.stdout.strip() == "False"


OK_BODY = {
    "status": "success",
    "results": [{"checker": "database", "passed": True, "response_time": 0.002}],
}


@pytest.mark.parametrize(
    ("seconds", "status"),
    [
        (0.5, PluginStatus.OK),
        (1.0, PluginStatus.OK),  # as check_http: a threshold is exceeded only above it
        (1.5, PluginStatus.WARNING),
        (2.5, PluginStatus.CRITICAL),
    ],
)
def test_response_time_status_against_the_thresholds(seconds: float, status: PluginStatus) -> None:
    assert ResponseTime(seconds, warning=1.0, critical=2.0).status == status


def test_response_time_without_thresholds_is_ok() -> None:
    assert ResponseTime(99.0).status == PluginStatus.OK
    assert ResponseTime(99.0, critical=100.0).status == PluginStatus.OK


@pytest.mark.parametrize(
    ("response_time", "datum"),
    [
        (ResponseTime(0.012, 1.0, 2.0), "time=0.012s;1.000;2.000;0"),
        (ResponseTime(0.012345678), "time=0.012346s;;;0"),
        (ResponseTime(1e-06, warning=0.5), "time=0.000001s;0.500;;0"),
        (ResponseTime(3.0, critical=2.25), "time=3.000s;;2.250;0"),
    ],
)
def test_response_time_perfdatum_has_the_thresholds(
    response_time: ResponseTime, datum: str
) -> None:
    assert response_time.perfdatum() == datum


def test_a_slow_answer_of_a_passing_report_is_a_warning_with_the_time() -> None:
    output = from_json(OK_BODY, response_time=ResponseTime(1.5, warning=1.0, critical=2.0))

    assert output == (
        PluginStatus.WARNING,
        "HEALTHCHECK WARNING - 1 check passed; answered in 1.500 s, above the warning "
        "threshold of 1 s | 'database'=0.002s;;;0 time=1.500s;1.000;2.000;0",
    )


def test_a_too_slow_answer_is_critical() -> None:
    status, text = from_json(OK_BODY, response_time=ResponseTime(2.5, warning=1.0, critical=2.0))

    assert status == PluginStatus.CRITICAL
    assert "answered in 2.500 s, above the critical threshold of 2 s |" in text


def test_a_fast_answer_changes_only_the_perfdata() -> None:
    output = from_json(OK_BODY, response_time=ResponseTime(0.25, warning=1.0))

    assert output == (
        PluginStatus.OK,
        "HEALTHCHECK OK - 1 check passed | 'database'=0.002s;;;0 time=0.250s;1.000;;0",
    )


def test_a_slow_answer_never_improves_the_status() -> None:
    body = {"status": "failure", "results": [{"checker": "db", "passed": False, "output": "x"}]}

    status, text = from_json(body, response_time=ResponseTime(1.5, warning=1.0, critical=2.0))

    assert status == PluginStatus.CRITICAL
    assert text.startswith("HEALTHCHECK CRITICAL - db failed: x; answered in 1.500 s, above")


def test_an_error_answer_stays_unknown_whatever_its_time() -> None:
    output = from_json({"error": "invalid token"}, response_time=ResponseTime(5.0, critical=1.0))

    assert output.status == PluginStatus.UNKNOWN
    assert "time=" not in output.text
