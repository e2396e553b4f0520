"""How checks run: concurrently, within timeouts and deadlines, once at a time, cached, logged."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask, current_app, g
from flask.testing import FlaskClient

from flask_healthcheck import CheckError, HealthCheck, Outcome, time_left
from flask_healthcheck.clock import ManualClock
from flask_healthcheck.results import EXPECTED

from .conftest import Calls, wait_until

FAST = {"HEALTHCHECK_SUCCESS_TTL": 0, "HEALTHCHECK_FAILED_TTL": 0}


def results_by_name(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {result["checker"]: result for result in body["results"]}


def in_threads(count: int, target: Callable[[], None]) -> None:
    """Run *target* in *count* threads at once and re-raise the first failure."""
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def body() -> None:
        try:
            start.wait(10)
            target()
        except BaseException as exc:  # surfaced below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=body) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    if errors:
        raise errors[0]


# -- concurrency -------------------------------------------------------------------------


def test_checks_of_one_request_run_at_the_same_time(
    health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    # Each check waits for all eight to be running: one after another, none would pass.
    together = threading.Barrier(8)

    def meet() -> tuple[bool, str]:
        together.wait(timeout=5)
        return True, "met"

    for index in range(8):
        health.add_check(meet, name=f"meet{index}", timeout=10)
    client = make_app(HEALTHCHECK_DEADLINE=10, **FAST).test_client()

    response = client.get("/healthz")

    assert response.status_code == 200
    assert [r["output"] for r in response.json["results"]] == ["met"] * 8


def test_latency_follows_the_slowest_check_not_the_sum(
    health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    for index in range(8):
        health.add_check(lambda: (time.sleep(0.3), (True, "slept"))[1], name=f"sleep{index}")
    client = make_app(**FAST).test_client()

    started = time.monotonic()
    response = client.get("/healthz")
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert elapsed < 1.6  # one after another they would take 2.4 s


# -- timeouts and deadlines --------------------------------------------------------------


def test_check_past_its_timeout_is_reported_timed_out_and_the_answer_is_on_time(
    health: HealthCheck, make_app: Callable[..., Flask], release: threading.Event
) -> None:
    @health.check(timeout=0.3)
    def sleepy() -> tuple[bool, str]:
        release.wait(30)
        return True, "woke up"

    health.add_check(lambda: (True, "fine"), name="quick")
    client = make_app(**FAST).test_client()

    started = time.monotonic()
    response = client.get("/healthz")
    elapsed = time.monotonic() - started

    assert elapsed < 2  # although the check sleeps 30 s
    assert response.status_code == 503
    results = results_by_name(response.json)
    assert results["sleepy"]["passed"] is False
    assert results["sleepy"]["output"] == "timed out after 0.3 s"
    assert results["sleepy"]["response_time"] >= 0.3
    assert results["quick"]["passed"] is True


def test_default_timeout_comes_from_config(
    health: HealthCheck, make_app: Callable[..., Flask], release: threading.Event
) -> None:
    health.add_check(release.wait, name="hangs")
    client = make_app(HEALTHCHECK_TIMEOUT=0.2, **FAST).test_client()

    [result] = client.get("/healthz").json["results"]

    assert result["output"] == "timed out after 0.2 s"


def test_request_deadline_bounds_the_answer_even_for_a_patient_check(
    health: HealthCheck, make_app: Callable[..., Flask], release: threading.Event
) -> None:
    @health.check(timeout=30)
    def patient() -> tuple[bool, str]:
        release.wait()
        return True, "done"

    client = make_app(HEALTHCHECK_DEADLINE=0.4, **FAST).test_client()

    started = time.monotonic()
    response = client.get("/healthz")
    elapsed = time.monotonic() - started

    assert elapsed < 2
    assert response.status_code == 503
    [result] = response.json["results"]
    assert result["output"] == "timed out after 0.4 s (the request's deadline)"


def test_a_check_cut_by_the_request_deadline_is_logged(
    health: HealthCheck,
    make_app: Callable[..., Flask],
    release: threading.Event,
    caplog: pytest.LogCaptureFixture,
) -> None:
    @health.check(timeout=30)
    def patient() -> tuple[bool, str]:
        release.wait()
        return True, "done"

    client = make_app(HEALTHCHECK_DEADLINE=0.2, **FAST).test_client()
    with caplog.at_level(logging.INFO, logger="flask_healthcheck"):
        client.get("/healthz")

    assert "check patient still running at the request's deadline (0.2 s)" in caplog.text


def test_check_that_never_returns_times_out_on_every_request(
    health: HealthCheck, make_app: Callable[..., Flask], release: threading.Event
) -> None:
    @health.check(timeout=0.2)
    def hung() -> tuple[bool, str]:
        release.wait()  # set only at teardown: as far as the library knows, forever
        return True, "never seen"

    client = make_app(**FAST).test_client()

    for _ in range(5):
        started = time.monotonic()
        response = client.get("/healthz/ready")
        assert time.monotonic() - started < 2
        assert response.status_code == 503
        assert results_by_name(response.json)["hung"]["output"].startswith("timed out after 0.2 s")


def test_a_hung_check_keeps_at_most_one_abandoned_run_beside_the_current_one(
    health: HealthCheck, make_app: Callable[..., Flask], release: threading.Event, calls: Calls
) -> None:
    @health.check(timeout=0.1)
    def hung() -> tuple[bool, str]:
        calls.add()
        release.wait()
        return True, "never seen"

    app = make_app(**FAST)
    client = app.test_client()
    for _ in range(20):
        assert client.get("/healthz").status_code == 503

    def probe() -> None:
        own = app.test_client()
        for _ in range(5):
            assert own.get("/healthz/hung").status_code == 503

    in_threads(10, probe)

    # The first run was abandoned at its timeout and a second one started; that one hangs
    # too, and while the abandoned one has not returned no third run starts.
    assert calls.count == 2
    assert health.state(app).runner.abandoned() == {"hung": (1, 1)}


def test_thread_count_stays_bounded_while_a_check_hangs(
    health: HealthCheck, make_app: Callable[..., Flask], release: threading.Event
) -> None:
    health.add_check(release.wait, name="hung", timeout=0.05)
    health.add_check(lambda: (True, "ok"), name="quick")
    client = make_app(**FAST).test_client()
    client.get("/healthz")
    baseline = threading.active_count()

    for _ in range(50):
        assert client.get("/healthz").status_code == 503

    # "quick" may still be finishing its last run: one thread of slack.
    assert threading.active_count() <= baseline + 1


def test_result_of_a_run_past_its_timeout_is_discarded_and_a_new_run_starts_later(
    health: HealthCheck, make_app: Callable[..., Flask], calls: Calls, release: threading.Event
) -> None:
    gate = threading.Event()

    @health.check(timeout=0.2)
    def slow_once() -> tuple[bool, str]:
        call = calls.add()
        if call == 1:
            gate.wait(10)
        return True, f"run {call}"

    client = make_app(**FAST).test_client()
    assert client.get("/healthz").json["results"][0]["output"] == "timed out after 0.2 s"

    gate.set()
    outputs: list[str] = []
    assert wait_until(
        lambda: (
            outputs.append(client.get("/healthz").json["results"][0]["output"])
            or outputs[-1] != "timed out after 0.2 s"
        )
    )
    assert outputs[-1] == "run 2"  # never the late "run 1"


def test_run_finishing_past_its_timeout_after_requests_left_is_still_timed_out(
    health: HealthCheck, make_app: Callable[..., Flask], calls: Calls
) -> None:
    # The request deadline (0.2 s) is shorter than the check's timeout (0.4 s), so no request
    # is still waiting when the timeout passes; the run then returns, too late, with a pass.
    @health.check(timeout=0.4)
    def slow() -> tuple[bool, str]:
        calls.add()
        time.sleep(0.6)
        return True, "too late"

    app = make_app(HEALTHCHECK_DEADLINE=0.2, HEALTHCHECK_FAILED_TTL=60)
    client = app.test_client()
    first = client.get("/healthz").json["results"][0]
    assert first["output"] == "timed out after 0.2 s (the request's deadline)"

    assert wait_until(lambda: health.state(app).runner.in_flight_count() == 0)
    response = client.get("/healthz")

    assert response.status_code == 503
    [result] = response.json["results"]
    assert (result["passed"], result["output"]) == (False, "timed out after 0.4 s")
    assert result["response_time"] >= 0.6
    assert calls.count == 1


# -- caching -----------------------------------------------------------------------------


def test_passing_result_is_reused_until_success_ttl_and_expires_says_when(
    health: HealthCheck, make_app: Callable[..., Flask], calls: Calls, clock: ManualClock
) -> None:
    health.add_check(lambda: (True, f"call {calls.add()}"), name="counted")
    client = make_app(HEALTHCHECK_SUCCESS_TTL=0.5).test_client()

    first = client.get("/healthz").json["results"][0]
    clock.advance(0.49)
    second = client.get("/healthz").json["results"][0]
    clock.advance(0.01)
    third = client.get("/healthz").json["results"][0]

    assert first["expires"] - first["timestamp"] == pytest.approx(0.5)
    assert second == first
    assert third["output"] == "call 2"
    assert third["timestamp"] == pytest.approx(first["expires"])
    assert calls.count == 2


def test_failing_result_is_reused_until_failed_ttl(
    health: HealthCheck, make_app: Callable[..., Flask], calls: Calls, clock: ManualClock
) -> None:
    health.add_check(lambda: (False, f"call {calls.add()}"), name="counted")
    client = make_app(HEALTHCHECK_SUCCESS_TTL=60, HEALTHCHECK_FAILED_TTL=0.3).test_client()

    first = client.get("/healthz").json["results"][0]
    clock.advance(0.29)
    second = client.get("/healthz").json["results"][0]
    clock.advance(0.01)
    third = client.get("/healthz").json["results"][0]

    assert second == first
    assert first["expires"] - first["timestamp"] == pytest.approx(0.3)
    assert third["output"] == "call 2"
    assert calls.count == 2


def test_zero_ttl_runs_the_check_on_every_request(
    health: HealthCheck, make_app: Callable[..., Flask], calls: Calls
) -> None:
    health.add_check(lambda: (calls.add() % 2 == 0, "alternating"), name="counted")
    client = make_app(**FAST).test_client()

    for _ in range(5):
        result = client.get("/healthz").json["results"][0]
        assert result["expires"] == result["timestamp"]

    assert calls.count == 5


def test_per_check_ttl_overrides_the_app_ttl(
    health: HealthCheck, make_app: Callable[..., Flask], calls: Calls
) -> None:
    health.add_check(lambda: (True, f"call {calls.add()}"), name="counted", success_ttl=0)
    client = make_app(HEALTHCHECK_SUCCESS_TTL=60).test_client()

    client.get("/healthz")
    client.get("/healthz")

    assert calls.count == 2


def test_flood_of_concurrent_requests_shares_one_run(
    health: HealthCheck, make_app: Callable[..., Flask], calls: Calls
) -> None:
    @health.check
    def dependency() -> tuple[bool, str]:
        calls.add()
        time.sleep(0.05)
        return True, "ok"

    app = make_app(HEALTHCHECK_SUCCESS_TTL=60)

    def probe() -> None:
        own = app.test_client()
        for _ in range(20):
            assert own.get("/healthz/ready").status_code == 200

    in_threads(20, probe)

    assert calls.count == 1


def test_flood_calls_the_check_at_most_once_per_ttl_window(
    health: HealthCheck, make_app: Callable[..., Flask], calls: Calls
) -> None:
    ttl = 0.2
    health.add_check(lambda: (calls.add() > 0, "ok"), name="dependency")
    app = make_app(HEALTHCHECK_SUCCESS_TTL=ttl)

    def probe() -> None:
        own = app.test_client()
        for _ in range(20):
            assert own.get("/healthz").status_code == 200

    started = time.monotonic()
    in_threads(20, probe)
    elapsed = time.monotonic() - started

    assert calls.count <= elapsed / ttl + 1


def test_failing_then_passing_check_reports_the_new_result_after_failed_ttl(
    health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    healthy = threading.Event()
    health.add_check(lambda: (healthy.is_set(), "state"), name="flappy")
    client = make_app(HEALTHCHECK_SUCCESS_TTL=60, HEALTHCHECK_FAILED_TTL=0).test_client()

    assert client.get("/healthz").status_code == 503
    healthy.set()
    assert client.get("/healthz").status_code == 200


# -- what a check may return or do -------------------------------------------------------


def test_misbehaving_checks_fail_alone_and_never_break_the_endpoint(
    health: HealthCheck, make_app: Callable[..., Flask], release: threading.Event
) -> None:
    def raises() -> tuple[bool, str]:
        raise ValueError("private detail")

    async def async_ok() -> tuple[bool, str]:
        await asyncio.sleep(0.01)
        return True, "async ok"

    health.add_check(raises)
    health.add_check(lambda: None, name="returns_none")
    health.add_check(lambda: True, name="returns_bool")
    health.add_check(lambda: {"ok": True}, name="returns_dict")
    health.add_check(lambda: (2, "two"), name="returns_int_tuple")
    health.add_check(lambda: (True, "a", "b"), name="returns_triple")
    health.add_check(release.wait, name="hangs", timeout=0.3)
    health.add_check(async_ok)
    health.add_check(lambda: (True, "still fine"), name="healthy")
    client = make_app(**FAST).test_client()

    started = time.monotonic()
    response = client.get("/healthz")

    assert time.monotonic() - started < 2
    assert response.status_code == 503
    results = results_by_name(response.json)
    assert {name for name, r in results.items() if r["passed"]} == {"async_ok", "healthy"}
    assert results["raises"]["output"] == "raised ValueError (details withheld)"
    expected = EXPECTED
    assert results["returns_none"]["output"] == f"returned None, {expected}"
    assert results["returns_bool"]["output"] == f"returned True, {expected}"
    assert results["returns_dict"]["output"] == f"returned a dict, {expected}"
    assert results["returns_int_tuple"]["output"] == (
        f"returned a tuple (int, str), {expected}; its first element, of type int, is not "
        "True, False, 1 or 0"
    )
    assert results["returns_triple"]["output"] == f"returned a tuple (bool, str, str), {expected}"
    assert results["hangs"]["output"] == "timed out after 0.3 s"
    assert results["async_ok"]["output"] == "async ok"
    assert results["healthy"]["output"] == "still fine"


def test_check_that_raises_shows_its_class_not_its_text(
    health: HealthCheck, client: FlaskClient
) -> None:
    @health.check
    def database() -> tuple[bool, str]:
        raise ConnectionRefusedError("connection to 10.0.0.7 refused by pg_hba.conf")

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json["results"][0]["output"] == (
        "raised ConnectionRefusedError (details withheld)"
    )
    assert b"10.0.0.7" not in response.data
    assert b"Traceback" not in response.data


def test_check_raising_system_exit_fails_and_runs_again_next_time(
    health: HealthCheck, make_app: Callable[..., Flask], calls: Calls
) -> None:
    @health.check(timeout=1)
    def exits() -> tuple[bool, str]:
        if calls.add() == 1:
            raise SystemExit(3)
        return True, "recovered"

    client = make_app(**FAST).test_client()

    assert (
        client.get("/healthz").json["results"][0]["output"]
        == "raised SystemExit (details withheld)"
    )
    assert client.get("/healthz").json["results"][0]["output"] == "recovered"


def test_async_check_runs_and_can_fail(health: HealthCheck, client: FlaskClient) -> None:
    @health.check
    async def async_pass() -> tuple[bool, str]:
        await asyncio.sleep(0)
        return True, "awaited"

    @health.check
    async def async_raise() -> tuple[bool, str]:
        await asyncio.sleep(0)
        raise RuntimeError("nope")

    @health.check
    async def async_none() -> None:
        await asyncio.sleep(0)

    results = results_by_name(client.get("/healthz").json)

    assert results["async_pass"]["output"] == "awaited"
    assert results["async_raise"]["output"] == "raised RuntimeError (details withheld)"
    assert results["async_none"]["output"] == f"returned None, {EXPECTED}"


def test_async_check_that_never_finishes_times_out(
    health: HealthCheck, make_app: Callable[..., Flask], release: threading.Event
) -> None:
    @health.check(timeout=0.2)
    async def stuck() -> tuple[bool, str]:
        while not release.is_set():
            await asyncio.sleep(0.05)
        return True, "never seen"

    client = make_app(**FAST).test_client()

    assert client.get("/healthz").json["results"][0]["output"] == "timed out after 0.2 s"


def test_checks_run_inside_the_app_context(
    health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    @health.check
    def context() -> tuple[bool, str]:
        g.seen = True
        return True, f"{current_app.name} {current_app.config['MARKER']}"

    client = make_app(MARKER="here").test_client()

    assert client.get("/healthz").json["results"][0]["output"] == "test_app here"


def test_time_left_tells_a_check_its_remaining_budget(
    health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    @health.check(timeout=1.5)
    def budget() -> tuple[bool, str]:
        left = time_left()
        return 0 < left <= 1.5, f"{left:.3f}"

    client = make_app(**FAST).test_client()

    assert client.get("/healthz").json["results"][0]["passed"] is True
    assert time_left(7.0) == 7.0


def test_check_error_message_is_shown_publicly(health: HealthCheck, client: FlaskClient) -> None:
    @health.check
    def database() -> tuple[bool, str]:
        try:
            raise OSError("socket detail 10.0.0.7")
        except OSError as exc:
            raise CheckError("cannot reach the database") from exc

    @health.check
    def empty() -> tuple[bool, str]:
        raise CheckError

    response = client.get("/healthz")
    results = results_by_name(response.json)

    assert results["database"]["output"] == "cannot reach the database"
    assert results["empty"]["output"] == "check failed"
    assert b"10.0.0.7" not in response.data


def test_check_error_detail_is_shown_only_with_the_token(
    health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    @health.check
    def database() -> tuple[bool, str]:
        raise CheckError(
            "connection refused",
            detail="connection refused by postgresql://app:hunter2@10.0.0.7:5432/orders",
        )

    client = make_app(HEALTHCHECK_TOKEN="s3cret").test_client()
    public = client.get("/healthz")
    private = client.get("/healthz", headers={"Authorization": "Bearer s3cret"})

    assert public.json["results"][0]["output"] == "connection refused"
    assert b"10.0.0.7" not in public.data
    detail = private.json["results"][0]["output"]
    assert detail == "connection refused by postgresql://app:***@10.0.0.7:5432/orders"


def test_outcome_observed_value_and_unit_are_reported(
    health: HealthCheck, client: FlaskClient
) -> None:
    health.add_check(
        lambda: Outcome(True, "disk ok", observed_value=42.5, observed_unit="GiB"), name="disk"
    )

    json_result = client.get("/healthz").json["results"][0]
    health_json = client.get("/healthz?format=health%2Bjson").json

    assert (json_result["observed_value"], json_result["observed_unit"]) == (42.5, "GiB")
    [check] = health_json["checks"]["disk"]
    assert (check["observedValue"], check["observedUnit"]) == (42.5, "GiB")


def test_outcome_warning_degrades_but_passes(health: HealthCheck, client: FlaskClient) -> None:
    health.add_check(lambda: Outcome(True, "92% full", warning=True), name="disk")
    health.add_check(lambda: (True, "fine"), name="db")

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json["status"] == "success"
    assert response.json["degraded"] is True
    assert response.json["warnings"] == ["disk"]
    assert results_by_name(response.json)["disk"]["status"] == "warn"
    assert client.get("/healthz?format=health%2Bjson").json["status"] == "warn"
    assert "[+]disk warn" in client.get("/healthz?format=text").text


# -- logging -----------------------------------------------------------------------------


def test_failures_are_logged_at_warning_with_name_duration_and_full_reason(
    health: HealthCheck, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="flask_healthcheck")

    @health.check
    def database() -> tuple[bool, str]:
        raise ValueError("the full private reason")

    assert client.get("/healthz").status_code == 503

    def logged() -> list[logging.LogRecord]:
        return [r for r in caplog.records if "check database failed" in r.getMessage()]

    assert wait_until(lambda: bool(logged()))
    [record] = logged()
    assert record.levelno == logging.WARNING
    assert record.name == "flask_healthcheck"
    message = record.getMessage()
    assert "check database failed after 0." in message
    assert "ValueError: the full private reason" in message
    assert "Traceback" in message


def test_returned_failure_and_timeout_are_logged_at_warning(
    health: HealthCheck,
    make_app: Callable[..., Flask],
    caplog: pytest.LogCaptureFixture,
    release: threading.Event,
) -> None:
    caplog.set_level(logging.DEBUG, logger="flask_healthcheck")
    health.add_check(lambda: (False, "replica lag 40 s"), name="replica")
    health.add_check(release.wait, name="hung", timeout=0.1)
    make_app().test_client().get("/healthz")

    def warnings() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]

    assert wait_until(lambda: len(warnings()) >= 2)
    assert any(
        m.startswith("check replica failed after ") and m.endswith(": replica lag 40 s")
        for m in warnings()
    )
    assert any(
        m.startswith("check hung failed after 0.") and "timed out after 0.1 s" in m
        for m in warnings()
    )


def test_passes_are_logged_at_debug_only(
    health: HealthCheck, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="flask_healthcheck")
    health.add_check(lambda: (True, "all good"), name="fine")

    assert client.get("/healthz").status_code == 200

    def passes() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.getMessage().startswith("check fine passed in ")]

    assert wait_until(lambda: bool(passes()))
    [record] = passes()
    assert record.levelno == logging.DEBUG
    assert record.getMessage().endswith(": all good")
    assert not [
        r for r in caplog.records if r.levelno >= logging.WARNING and "fine" in r.getMessage()
    ]


def test_cached_results_are_not_logged_again(
    health: HealthCheck, make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="flask_healthcheck")
    health.add_check(lambda: (False, "down"), name="down")
    client = make_app(HEALTHCHECK_FAILED_TTL=60).test_client()

    for _ in range(5):
        client.get("/healthz")

    assert wait_until(lambda: any("check down failed" in r.getMessage() for r in caplog.records))
    time.sleep(0.05)
    assert len([r for r in caplog.records if "check down failed" in r.getMessage()]) == 1


def test_a_hung_check_with_failed_ttl_0_logs_once_not_on_every_request(
    health: HealthCheck,
    make_app: Callable[..., Flask],
    release: threading.Event,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Each request finds the hung run past its timeout and records a timeout of its own
    # (nothing is cached): that used to log a warning, with its traceback, per request.
    caplog.set_level(logging.DEBUG, logger="flask_healthcheck")
    health.add_check(release.wait, name="hung", timeout=0.05)
    client = make_app(HEALTHCHECK_FAILED_TTL=0).test_client()

    for _ in range(300):
        assert client.get("/healthz").status_code == 503

    loud = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert len(loud) == 3, loud
    assert loud[0].startswith("check hung failed after 0.")
    assert "timed out after 0.05 s" in loud[0]
    assert loud[1] == "endpoint report changed from unknown to failing: failing: hung"
    # Its run was abandoned once, for a second run that hangs too: then no third starts.
    assert loud[2].startswith("check hung: its run has not returned")
    assert sum("check hung" in r.getMessage() for r in caplog.records) >= 300  # at DEBUG


def test_a_failing_check_logs_a_warning_when_it_fails_and_info_when_it_recovers(
    health: HealthCheck, make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="flask_healthcheck")
    healthy = threading.Event()
    health.add_check(
        lambda: (healthy.is_set(), "in sync" if healthy.is_set() else "lag 40 s"), name="replica"
    )
    client = make_app(**FAST).test_client()

    for state in (False, True, False):
        if state:
            healthy.set()
        else:
            healthy.clear()
        for _ in range(5):
            client.get("/healthz")

    def logged() -> list[tuple[int, str]]:
        return [
            (r.levelno, r.getMessage().split(" after ")[0].split(" in ")[0])
            for r in caplog.records
            if r.getMessage().startswith("check replica")
        ]

    # One line a run, fifteen runs; a run's line comes from its thread, maybe after the answer.
    assert wait_until(lambda: len(logged()) >= 15)
    assert sorted(line for line in logged() if line[0] >= logging.INFO) == [
        (logging.INFO, "check replica recovered"),
        (logging.WARNING, "check replica failed"),
        (logging.WARNING, "check replica failed"),
    ]


def test_a_check_error_is_logged_without_its_traceback_which_goes_to_debug(
    health: HealthCheck, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="flask_healthcheck")

    @health.check
    def database() -> tuple[bool, str]:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except OSError as exc:
            raise CheckError("connection refused", detail="db:5432 refused the connection") from exc

    assert client.get("/healthz").status_code == 503

    def of_database(level: int) -> list[str]:
        return [
            r.getMessage()
            for r in caplog.records
            if r.levelno == level and r.getMessage().startswith("check database")
        ]

    assert wait_until(lambda: bool(of_database(logging.WARNING)))
    [warning] = of_database(logging.WARNING)
    assert warning.endswith(": db:5432 refused the connection")
    assert "Traceback" not in warning
    [trace] = [m for m in of_database(logging.DEBUG) if "Traceback" in m]
    assert "ConnectionRefusedError: [Errno 111] Connection refused" in trace


# -- the output a result keeps -----------------------------------------------------------


def test_a_huge_output_is_capped_in_every_format_and_in_the_cache(
    health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    megabyte = 1024 * 1024
    health.add_check(lambda: (False, "x" * megabyte), name="huge", critical=False)

    def raises() -> tuple[bool, str]:
        raise ValueError("y" * megabyte)

    health.add_check(raises, name="raises", critical=False)
    health.add_check(lambda: (True, {"rows": list(range(megabyte // 4))}), name="rows")
    app = make_app(HEALTHCHECK_TOKEN="t0ken", HEALTHCHECK_STARTUP_GATE=())
    client = app.test_client()

    for query in ("", "?format=text", "?format=html", "?format=health%2Bjson"):
        for headers in ({}, {"Authorization": "Bearer t0ken"}):
            response = client.get(f"/healthz{query}", headers=headers)
            assert response.status_code == 200
            assert len(response.data) < 20_000, (query, headers)
            assert "characters cut]" in response.text
    for result in health.run(app=app).results:  # from the cache, as kept there
        assert len(result.output) <= 4096
        assert result.detail is None or len(result.detail) <= 4096
    [rows] = health.run(["rows"], app=app).results
    assert rows.output.startswith('{"rows":[0,1,2,')
    assert rows.output_json is None

    small = make_app(HEALTHCHECK_OUTPUT_LIMIT=200, HEALTHCHECK_STARTUP_GATE=())
    [huge] = small.test_client().get("/healthz/huge").json["results"]
    assert len(huge["output"]) <= 200
    assert huge["output"].endswith(f"...[{megabyte - huge['output'].index('...')} characters cut]")
