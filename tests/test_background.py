"""Background checks, staleness, failure tolerance, status changes and the start-up gate.

In-process, with Flask's test client; ``tests/test_lifecycle.py`` has the real server processes.
Bounds are generous: they prove a property ("answers in under 1 s although the check takes 2 s"),
not a speed.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask, request
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from flask_healthcheck import HealthCheck
from flask_healthcheck.clock import ManualClock
from flask_healthcheck.events import StatusChange

from .conftest import Calls, wait_until


def body_of(response: TestResponse) -> dict[str, Any]:
    body = response.get_json()
    assert isinstance(body, dict), response.text
    return body


def result_in(response: TestResponse, name: str) -> dict[str, Any]:
    """The JSON result named *name* in *response*."""
    results: list[dict[str, Any]] = body_of(response)["results"]
    for result in results:
        if result["checker"] == name:
            return result
    raise AssertionError(f"no result {name!r} in {results}")


def result_of(client: FlaskClient, path: str, name: str) -> dict[str, Any]:
    """The JSON result named *name* in the answer of *path*."""
    return result_in(client.get(path), name)


def names_in(client: FlaskClient, path: str) -> list[str]:
    return [result["checker"] for result in body_of(client.get(path))["results"]]


class Switch:
    """A check's verdict the test sets: ``switch.passing = False``."""

    def __init__(self, calls: Calls | None = None) -> None:
        self.passing = True
        self.calls = calls or Calls()

    def __call__(self) -> tuple[bool, str]:
        self.calls.add()
        return (True, "up") if self.passing else (False, "down")


@pytest.fixture
def uncached(make_app: Callable[..., Flask]) -> Flask:
    """An app whose on-request checks run on every request, without the start-up gate."""
    return make_app(
        HEALTHCHECK_SUCCESS_TTL=0, HEALTHCHECK_FAILED_TTL=0, HEALTHCHECK_STARTUP_GATE=[]
    )


@pytest.fixture
def starting(make_app: Callable[..., Flask]) -> Flask:
    """An app behind the default start-up gate (readiness only) whose on-request checks run on
    every request."""
    return make_app(HEALTHCHECK_SUCCESS_TTL=0, HEALTHCHECK_FAILED_TTL=0)


@pytest.fixture
def starting_gated_live(make_app: Callable[..., Flask]) -> Flask:
    """As ``starting``, with liveness behind the start-up gate too, as configured."""
    return make_app(
        HEALTHCHECK_SUCCESS_TTL=0,
        HEALTHCHECK_FAILED_TTL=0,
        HEALTHCHECK_STARTUP_GATE=["live", "ready"],
    )


@pytest.fixture
def changes(health: HealthCheck) -> list[StatusChange]:
    recorded: list[StatusChange] = []
    health.on_change(recorded.append)
    return recorded


def of_kind(changes: list[StatusChange], kind: str, count: int) -> list[tuple[Any, ...]]:
    """``(name, passed, previous)`` of the changes of *kind*, once *count* of them have come.

    A check's listeners run in the thread that ran it, after the requests waiting for it have
    been answered, so a change may come a moment after the answer that shows it.
    """
    wait_until(lambda: sum(change.kind == kind for change in changes) >= count)
    time.sleep(0.1)  # and no more than that
    return [(c.name, c.passed, c.previous) for c in changes if c.kind == kind]


def started(health: HealthCheck, app: Flask) -> None:
    """Probe ``/startup`` until the app has started, then let its start-up thread finish."""
    client = app.test_client()
    assert wait_until(lambda: client.get("/healthz/startup").status_code == 200)
    assert wait_until(lambda: not health.state(app).start_up.alive)


# -- background checks ---------------------------------------------------------------------------


def test_readiness_never_waits_for_a_background_check_still_running(
    health: HealthCheck, app: Flask, client: FlaskClient, calls: Calls, clock: ManualClock
) -> None:
    gate = threading.Event()

    @health.check(period=1, timeout=5)
    def slow() -> tuple[bool, str]:
        calls.add()
        gate.wait(10)
        return True, "finished"

    assert wait_until(lambda: calls.count == 1)  # the scheduler has started the first run
    asked_at = time.monotonic()
    statuses = [client.get("/healthz/ready").status_code for _ in range(5)]
    took = time.monotonic() - asked_at
    gate.set()

    assert statuses == [503] * 5  # no result yet
    assert took < 1.0  # five answers while the run goes on: none waited for it
    assert wait_until(lambda: client.get("/healthz/ready").status_code == 200)
    assert calls.count == 1


def test_background_check_is_unknown_and_fails_readiness_before_its_first_result(
    health: HealthCheck, app: Flask, client: FlaskClient, release: threading.Event
) -> None:
    health.add_check(lambda: (release.wait(), (True, "ok"))[1], name="later", period=0.2)

    response = client.get("/healthz/ready")

    assert response.status_code == 503
    later = result_of(client, "/healthz/ready", "later")
    assert later["passed"] is False
    assert later["output"].startswith("unknown: no result yet")
    assert client.get("/healthz/later").status_code == 503


def test_result_older_than_max_age_is_reported_stale_and_fails(
    health: HealthCheck,
    app: Flask,
    client: FlaskClient,
    release: threading.Event,
    changes: list[StatusChange],
    clock: ManualClock,
) -> None:
    stuck = threading.Event()

    @health.check(period=2, timeout=100, max_age=5)
    def feed() -> tuple[bool, str]:
        if stuck.is_set():
            release.wait()  # a run that never returns: no new result comes
        return True, "fresh"

    assert wait_until(lambda: client.get("/healthz/ready").status_code == 200)
    stuck.set()
    clock.advance(5)  # the run due at 2 s hangs
    still_fresh = client.get("/healthz/ready").status_code
    clock.advance(0.1)
    response = client.get("/healthz/ready")

    assert still_fresh == 200
    assert response.status_code == 503
    feed_result = result_in(response, "feed")
    assert feed_result["output"] == (
        "stale: the last result is 5 s old, more than its max age of 5 s"
    )
    assert feed_result["raw"]["passed"] is True
    assert feed_result["raw"]["output"] == "fresh"
    assert of_kind(changes, "check", 2) == [("feed", True, None), ("feed", False, True)]
    assert client.get("/healthz/feed").status_code == 503

    stuck.clear()
    release.set()  # the hung run returns, in time: 3.1 s of its 100 s
    assert wait_until(lambda: client.get("/healthz/ready").status_code == 200, timeout=10)
    assert of_kind(changes, "check", 3)[2:] == [("feed", True, False)]


def test_a_scheduler_killed_by_a_broken_log_filter_is_restarted_by_the_next_request(
    health: HealthCheck,
    app: Flask,
    client: FlaskClient,
    calls: Calls,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The scheduler thread logs a background run that times out; a logging filter that raises
    # there (an app's own logging set-up) is user code that ends the thread.
    died: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", died.append)
    hung = threading.Event()

    class BrokenFilter(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            if threading.current_thread().name == "healthcheck-scheduler":
                raise RuntimeError("a broken log filter")
            return True

    broken = BrokenFilter()
    logger = logging.getLogger("flask_healthcheck")
    logger.addFilter(broken)
    try:

        @health.check(period=0.1, timeout=0.3, max_age=5)
        def worker() -> tuple[bool, str]:
            if calls.add() == 1:
                hung.wait(10)
            return True, "ok"

        state = health.state(app)
        assert wait_until(lambda: not state.scheduler.alive, timeout=10)
    finally:
        logger.removeFilter(broken)
        hung.set()
    assert [(args.thread.name, str(args.exc_value)) for args in died if args.thread] == [
        ("healthcheck-scheduler", "a broken log filter")
    ]
    time.sleep(0.5)
    assert calls.count == 1, "nothing runs the check while the scheduler is dead"

    caplog.set_level(logging.ERROR, logger="flask_healthcheck")
    client.get("/healthz/ready")

    assert state.scheduler.alive
    assert "the healthcheck-scheduler thread had stopped; restarting it" in caplog.text
    assert wait_until(lambda: client.get("/healthz/ready").status_code == 200, timeout=10)
    assert calls.count >= 2


def test_a_scheduler_that_dies_on_an_error_logs_it_into_the_apps_log(
    health: HealthCheck,
    make_app: Callable[..., Flask],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = make_app(HEALTHCHECK_STARTUP_GATE=())
    state = health.state(app)

    def broken(spec: object) -> None:
        raise RuntimeError("scheduler bug")

    monkeypatch.setattr(state.runner, "enforce_timeout", broken)
    monkeypatch.setattr(threading, "excepthook", lambda args: None)  # keep pytest's hook quiet
    caplog.set_level(logging.ERROR, logger="flask_healthcheck")

    health.add_check(lambda: (True, "ok"), name="periodic", period=0.1)

    assert wait_until(lambda: not state.scheduler.alive, timeout=10)
    assert "the healthcheck-scheduler thread stopped on an error" in caplog.text
    assert "RuntimeError: scheduler bug" in caplog.text


def test_background_check_runs_by_its_period_not_by_the_number_of_requests(
    health: HealthCheck, app: Flask, client: FlaskClient, calls: Calls, clock: ManualClock
) -> None:
    health.add_check(lambda: (calls.add() > 0, "ok"), name="periodic", period=0.5)
    runner = health.state(app).runner

    for period in range(1, 5):
        # The run has ended (a run still in flight when the next is due makes it skip a turn).
        assert wait_until(lambda: calls.count == period and runner.in_flight_count() == 0)  # noqa: B023
        for _ in range(10):
            client.get("/healthz/ready")
            client.get("/healthz")
        assert calls.count == period  # requests never start a run
        clock.advance(0.5)
    assert wait_until(lambda: calls.count == 5)


def test_background_check_result_is_shared_by_every_endpoint(
    health: HealthCheck, app: Flask, client: FlaskClient, calls: Calls
) -> None:
    health.add_check(lambda: (calls.add() > 0, "ok"), name="periodic", period=30)
    assert wait_until(lambda: client.get("/healthz/ready").status_code == 200)

    for path in ("/healthz", "/healthz/ready", "/healthz/periodic", "/healthz/startup"):
        assert client.get(path).status_code == 200

    assert calls.count == 1


def test_a_one_off_run_waits_for_a_background_check_that_has_no_result_yet(
    health: HealthCheck, make_app: Callable[..., Flask], calls: Calls
) -> None:
    @health.check(period=60)
    def nightly() -> tuple[bool, str]:
        calls.add()
        time.sleep(0.3)
        return True, "ran"

    app = make_app()  # its scheduler starts the first run now, as in ``flask healthcheck run``

    report = health.run(app=app)

    assert [(r.name, r.passed, r.output) for r in report.results] == [("nightly", True, "ran")]
    assert calls.count == 1, "the run in flight was awaited, not doubled"


# -- failure tolerance -----------------------------------------------------------------------------


def test_fail_after_three_tolerates_two_failures_and_fails_on_the_third(
    health: HealthCheck, uncached: Flask, changes: list[StatusChange]
) -> None:
    client = uncached.test_client()
    dependency = Switch()
    health.add_check(dependency, name="dependency", fail_after=3)
    assert client.get("/healthz/ready").status_code == 200
    dependency.passing = False

    first = client.get("/healthz/ready")
    second = client.get("/healthz/ready")
    third = client.get("/healthz/ready")

    assert [first.status_code, second.status_code, third.status_code] == [200, 200, 503]
    tolerated = result_in(first, "dependency")
    assert tolerated["passed"] is True
    assert tolerated["status"] == "warn"
    assert tolerated["output"].startswith("failure 1 tolerated (fails after 3 in a row)")
    assert tolerated["raw"] == {
        "passed": False,
        "output": "down",
        "timestamp": tolerated["raw"]["timestamp"],
    }
    assert body_of(first)["degraded"] is True
    failed = result_in(third, "dependency")
    assert (failed["passed"], failed["output"]) == (False, "down")
    assert of_kind(changes, "check", 2) == [
        ("dependency", True, None),
        ("dependency", False, True),
    ]


def test_a_pass_between_failures_starts_the_count_again(
    health: HealthCheck, uncached: Flask
) -> None:
    client = uncached.test_client()
    dependency = Switch()
    health.add_check(dependency, name="dependency", fail_after=2)
    statuses = []
    for passing in (True, False, True, False, True, False, False):
        dependency.passing = passing
        statuses.append(client.get("/healthz/ready").status_code)

    assert statuses == [200, 200, 200, 200, 200, 200, 503]


def test_recover_after_two_needs_two_passes_in_a_row(
    health: HealthCheck, uncached: Flask, changes: list[StatusChange]
) -> None:
    client = uncached.test_client()
    dependency = Switch()
    health.add_check(dependency, name="dependency", recover_after=2)
    assert client.get("/healthz/ready").status_code == 200
    dependency.passing = False
    assert client.get("/healthz/ready").status_code == 503
    dependency.passing = True

    first = client.get("/healthz/ready")
    second = client.get("/healthz/ready")

    assert (first.status_code, second.status_code) == (503, 200)
    recovering = result_in(first, "dependency")
    assert recovering["output"] == "recovering: pass 1 of 2 needed in a row: up"
    assert recovering["raw"]["passed"] is True
    assert "raw" not in result_in(second, "dependency")
    assert of_kind(changes, "check", 3) == [
        ("dependency", True, None),
        ("dependency", False, True),
        ("dependency", True, False),
    ]


def test_fail_after_seconds_fails_only_once_failures_span_that_long(
    health: HealthCheck, uncached: Flask, clock: ManualClock
) -> None:
    client = uncached.test_client()
    dependency = Switch()
    health.add_check(dependency, name="dependency", fail_after_seconds=1)
    assert client.get("/healthz/ready").status_code == 200
    dependency.passing = False

    statuses = []
    for _ in range(5):
        statuses.append(client.get("/healthz/ready").status_code)
        clock.advance(0.199)
    tolerated = result_of(client, "/healthz", "dependency")  # 0.995 s after the first failure
    clock.advance(0.005)

    assert set(statuses) == {200}
    assert "tolerated (fails after 1 in a row over 1 s)" in tolerated["output"]
    assert client.get("/healthz/ready").status_code == 503


def test_fail_after_applies_to_background_checks(
    health: HealthCheck,
    app: Flask,
    client: FlaskClient,
    changes: list[StatusChange],
    clock: ManualClock,
) -> None:
    dependency = Switch()
    health.add_check(dependency, name="dependency", period=1, fail_after=3)
    assert wait_until(lambda: client.get("/healthz/ready").status_code == 200)
    dependency.passing = False

    def output() -> str:
        return str(result_of(client, "/healthz/ready", "dependency")["output"])

    clock.advance(1)
    assert wait_until(lambda: output().startswith("failure 1 tolerated"))
    clock.advance(1)
    assert wait_until(lambda: output().startswith("failure 2 tolerated"))
    tolerated = client.get("/healthz/ready").status_code
    clock.advance(1)

    assert tolerated == 200
    assert wait_until(lambda: client.get("/healthz/ready").status_code == 503)
    assert dependency.calls.count == 4  # the first pass and three failing runs, one per period
    assert of_kind(changes, "check", 2) == [
        ("dependency", True, None),
        ("dependency", False, True),
    ]


# -- status changes and answers --------------------------------------------------------------------


def test_transitions_reach_on_change_once_each_and_on_answer_hears_every_answer(
    health: HealthCheck, uncached: Flask, changes: list[StatusChange]
) -> None:
    client = uncached.test_client()
    answers: list[tuple[str, int]] = []
    health.on_answer(lambda endpoint, status: answers.append((endpoint, status)))
    dependency = Switch()
    health.add_check(dependency, name="dependency")
    requests = 0

    for passing in (True, False, True):
        dependency.passing = passing
        for _ in range(5):
            client.get("/healthz/ready")
            client.get("/healthz/live")  # the WSGI fast path, once started
            client.head("/healthz/live")
            requests += 3

    assert of_kind(changes, "check", 3) == [
        ("dependency", True, None),
        ("dependency", False, True),
        ("dependency", True, False),
    ]
    assert of_kind(changes, "endpoint", 4) == [
        ("ready", True, None),
        ("live", True, None),
        ("ready", False, True),
        ("ready", True, False),
    ]
    assert len(answers) == requests
    assert answers.count(("ready", 503)) == 5
    assert answers.count(("live", 200)) == 30


def test_alternating_one_check_answers_are_no_endpoint_changes(
    health: HealthCheck, uncached: Flask, changes: list[StatusChange]
) -> None:
    client = uncached.test_client()
    health.add_check(lambda: (True, "up"), name="up")
    health.add_check(lambda: (False, "down"), name="down")

    for _ in range(4):
        assert client.get("/healthz/up").status_code == 200
        assert client.get("/healthz/down").status_code == 503

    assert sorted(of_kind(changes, "check", 2)) == [("down", False, None), ("up", True, None)]
    assert of_kind(changes, "endpoint", 0) == []


def test_probes_with_different_exclusions_change_each_on_their_own(
    health: HealthCheck, uncached: Flask, changes: list[StatusChange]
) -> None:
    client = uncached.test_client()
    health.add_check(lambda: (True, "up"), name="up")
    health.add_check(lambda: (False, "down"), name="down")

    for _ in range(4):
        assert client.get("/healthz/ready").status_code == 503
        assert client.get("/healthz/ready?exclude=down").status_code == 200

    assert of_kind(changes, "endpoint", 2) == [("ready", False, None), ("ready", True, None)]


def test_a_failing_listener_does_not_stop_the_others_or_the_answer(
    health: HealthCheck, uncached: Flask, changes: list[StatusChange]
) -> None:
    client = uncached.test_client()

    @health.on_change
    def broken(change: StatusChange) -> None:
        raise RuntimeError("listener bug")

    @health.on_answer
    def broken_too(endpoint: str, status: int) -> None:
        raise ZeroDivisionError

    health.add_check(lambda: (True, "up"), name="up")

    assert client.get("/healthz/ready").status_code == 200
    assert of_kind(changes, "check", 1) == [("up", True, None)]


# -- the start-up gate -----------------------------------------------------------------------------


def test_liveness_is_alive_and_runs_no_check_while_starting_by_default(
    health: HealthCheck, starting: Flask, calls: Calls, release: threading.Event
) -> None:
    client = starting.test_client()

    @health.check(name="dependency")
    def dependency() -> tuple[bool, str]:
        calls.add()
        release.wait()  # hangs until the test ends
        return True, "up"

    for _ in range(10):
        assert client.get("/healthz/live").status_code == 200
        assert client.get("/healthz/live?format=json").status_code == 200
    assert "startup" not in names_in(client, "/healthz/live")
    assert calls.count == 0
    assert not health.state(starting).start_up.alive  # no gated request started it


def test_gated_liveness_never_runs_or_waits_for_a_check_while_starting(
    health: HealthCheck, starting_gated_live: Flask, calls: Calls, release: threading.Event
) -> None:
    client = starting_gated_live.test_client()

    @health.check(name="dependency")
    def dependency() -> tuple[bool, str]:
        calls.add()
        release.wait()  # hangs until the test ends
        return True, "up"

    for _ in range(10):
        started_at = time.monotonic()
        assert client.get("/healthz/live").status_code == 503
        assert client.get("/healthz/live?format=json").status_code == 503
        assert time.monotonic() - started_at < 1.0
    gate = result_of(client, "/healthz/live", "startup")
    assert gate["output"] == "starting: waiting for a first pass of dependency"
    # The start-up thread that the first gated request started has run it once (its run
    # hangs, so no second one starts); the twenty liveness answers have run nothing.
    assert calls.count <= 1


def test_liveness_runs_no_check_once_started(
    health: HealthCheck, starting: Flask, calls: Calls
) -> None:
    client = starting.test_client()
    health.add_check(Switch(calls), name="dependency")
    started(health, starting)
    runs = calls.count

    for _ in range(10):
        assert client.get("/healthz/live").status_code == 200
        assert client.get("/healthz/live?format=json").status_code == 200
    time.sleep(0.2)

    assert calls.count == runs


def test_readiness_runs_a_failing_check_that_holds_start_up_until_it_passes(
    health: HealthCheck, starting: Flask, calls: Calls
) -> None:
    client = starting.test_client()
    dependency = Switch(calls)
    dependency.passing = False
    health.add_check(dependency, name="dependency")

    before = calls.count
    assert client.get("/healthz/ready").status_code == 503
    assert calls.count > before  # readiness ran it on its request
    assert "startup" in names_in(client, "/healthz/ready")
    assert client.get("/healthz/live").status_code == 200  # alive while starting

    dependency.passing = True
    assert client.get("/healthz/ready").status_code == 200
    assert client.get("/healthz/startup").status_code == 200
    assert client.get("/healthz/live").status_code == 200


def test_readiness_runs_pending_startup_checks_until_started_then_never(
    health: HealthCheck, starting: Flask, calls: Calls
) -> None:
    client = starting.test_client()
    migrations = Switch(calls)
    migrations.passing = False
    health.add_check(migrations, name="migrations", tags=["startup"])
    health.add_check(lambda: (True, "up"), name="database")

    not_started = client.get("/healthz/ready")
    assert not_started.status_code == 503
    assert {"startup", "migrations", "database"} <= set(names_in(client, "/healthz/ready"))
    assert calls.count >= 1

    migrations.passing = True
    assert client.get("/healthz/ready").status_code == 200
    assert wait_until(lambda: not health.state(starting).start_up.alive)
    runs = calls.count
    for _ in range(3):
        assert client.get("/healthz/ready").status_code == 200
        assert client.get("/healthz/startup").status_code == 200

    assert calls.count == runs
    assert "migrations" not in names_in(client, "/healthz/ready")


def test_an_empty_start_up_gate_leaves_liveness_and_readiness_alone(
    health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    app = make_app(HEALTHCHECK_STARTUP_GATE=[], HEALTHCHECK_FAILED_TTL=0)
    client = app.test_client()
    health.add_check(lambda: (False, "down"), name="dependency")

    assert client.get("/healthz/live").status_code == 200
    assert client.get("/healthz/live?format=json").status_code == 200
    ready = client.get("/healthz/ready")
    assert ready.status_code == 503
    assert "startup" not in names_in(client, "/healthz/ready")
    assert client.get("/healthz/startup").status_code == 503


def test_the_default_start_up_gate_holds_readiness_and_keeps_liveness_out(
    health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    app = make_app(HEALTHCHECK_FAILED_TTL=0)
    client = app.test_client()
    health.add_check(lambda: (False, "down"), name="dependency")

    assert client.get("/healthz/live").status_code == 200
    assert "startup" not in names_in(client, "/healthz/live")
    assert client.get("/healthz/ready").status_code == 503
    assert "startup" in names_in(client, "/healthz/ready")


def _comparable(body: str) -> list[tuple[str, bool, str]]:
    results = json.loads(body)["results"]
    return [(result["checker"], result["passed"], result["output"]) for result in results]


@pytest.mark.parametrize(
    ("gate", "while_starting"), [(None, 200), (["live", "ready"], 503)], ids=["default", "gated"]
)
def test_fast_path_and_view_give_the_same_liveness_while_starting_and_after(
    health: HealthCheck, make_app: Callable[..., Flask], gate: list[str] | None, while_starting: int
) -> None:
    config = {} if gate is None else {"HEALTHCHECK_STARTUP_GATE": gate}
    app = make_app(HEALTHCHECK_SUCCESS_TTL=0, HEALTHCHECK_FAILED_TTL=0, **config)
    client = app.test_client()
    dependency = Switch()
    dependency.passing = False
    health.add_check(dependency, name="dependency")
    health.state(app).lifecycle.heartbeat("loop", 60)

    for expected in (while_starting, 200):
        fast = client.get("/healthz/live")
        view = client.get("/healthz/live?format=json")
        head = client.head("/healthz/live")
        assert fast.status_code == view.status_code == head.status_code == expected
        assert _comparable(fast.text) == _comparable(view.text)
        assert fast.headers["Cache-Control"] == view.headers["Cache-Control"] == "no-store"
        dependency.passing = True
        started(health, app)


# -- deadlock watchdog and load, in-process --------------------------------------------------------


def test_heartbeat_fails_liveness_only_once_it_has_not_been_fed_for_its_timeout(
    health: HealthCheck, app: Flask, client: FlaskClient, clock: ManualClock
) -> None:
    health.heartbeat("consumer", timeout=0.5, app=app)

    clock.advance(0.5)
    fed_in_time = (
        client.get("/healthz/live").status_code,
        client.get("/healthz/ready").status_code,
    )
    clock.advance(0.01)
    unfed = (client.get("/healthz/live").status_code, client.get("/healthz/ready").status_code)
    beat = result_of(client, "/healthz/live", "heartbeat:consumer")
    health.heartbeat("consumer", timeout=0.5, app=app)
    fed_again = (client.get("/healthz/live").status_code, client.get("/healthz/ready").status_code)

    assert fed_in_time == (200, 200)
    assert unfed == (503, 503)
    assert beat["output"] == "not fed for 1 s (timeout 0.5 s): stuck or deadlocked"
    assert fed_again == (200, 200)


def test_request_watchdog_fails_liveness_while_a_request_runs_too_long(
    make_app: Callable[..., Flask], clock: ManualClock
) -> None:
    app = make_app(HEALTHCHECK_REQUEST_WATCHDOG=0.5)
    unblock = threading.Event()
    inside = threading.Event()

    @app.get("/work")
    def work() -> str:
        inside.set()
        unblock.wait(10)
        return "done"

    client = app.test_client()
    worker = threading.Thread(target=lambda: app.test_client().get("/work"), daemon=True)
    worker.start()
    try:
        assert inside.wait(10)
        clock.advance(0.5)
        within = client.get("/healthz/live").status_code
        clock.advance(0.01)
        too_long = (
            client.get("/healthz/live").status_code,
            client.get("/healthz/ready").status_code,
        )
    finally:
        unblock.set()
        worker.join(10)

    assert within == 200
    assert too_long == (503, 503)
    assert client.get("/healthz/live").status_code == 200


def test_too_many_requests_in_flight_fail_readiness_and_only_readiness(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(HEALTHCHECK_MAX_IN_FLIGHT=1)
    unblock = threading.Event()
    inside = threading.Semaphore(0)

    @app.get("/work")
    def work() -> str:
        inside.release()
        unblock.wait(10)
        return "done"

    client = app.test_client()
    workers = [
        threading.Thread(target=lambda: app.test_client().get("/work"), daemon=True)
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    try:
        for _ in workers:
            assert inside.acquire(timeout=5)
        assert client.get("/healthz/ready").status_code == 503
        assert result_of(client, "/healthz/ready", "load")["output"].startswith("overloaded: 2")
        assert client.get("/healthz/live").status_code == 200
    finally:
        unblock.set()
        for worker in workers:
            worker.join(10)
    assert client.get("/healthz/ready").status_code == 200


def test_request_watchdog_sees_a_request_stuck_in_a_hook_registered_before_the_extension(
    health: HealthCheck,
) -> None:
    app = Flask("hooked")
    app.config.update(TESTING=True, HEALTHCHECK_REQUEST_WATCHDOG=0.5)
    unblock = threading.Event()

    @app.before_request
    def open_session() -> None:  # an extension's hook, registered first, that deadlocks
        if request.path == "/work":
            unblock.wait(10)

    @app.get("/work")
    def work() -> str:
        return "done"

    health.init_app(app)
    client = app.test_client()
    worker = threading.Thread(target=lambda: app.test_client().get("/work"), daemon=True)
    worker.start()
    try:
        assert wait_until(lambda: client.get("/healthz/live").status_code == 503, timeout=5)
    finally:
        unblock.set()
        worker.join(10)
    assert client.get("/healthz/live").status_code == 200
