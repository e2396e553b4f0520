"""Sentry Crons, for real: sentry_sdk with a transport that keeps envelopes in memory, and under
gunicorn with two workers (with and without ``--preload``) one check-in per run per server."""

from __future__ import annotations

import itertools
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sentry_sdk
from flask import Flask

from flask_healthcheck import HealthCheck
from flask_healthcheck.clock import ManualClock
from flask_healthcheck.registry import make_spec
from flask_healthcheck.results import CheckResult
from flask_healthcheck.runner import Transition
from flask_healthcheck.sentry import CronCheckIns, monitor_config
from flask_healthcheck.verdict import Streak, tolerate

from .conftest import Calls, wait_until
from .gunicorn_server import Configuration, gunicorn
from .sentry_capture import DSN, MemoryTransport, capture

SECRET = "hunter2"


@pytest.fixture
def transport() -> Iterator[MemoryTransport]:
    memory = MemoryTransport()
    sentry_sdk.init(dsn=DSN, transport=memory, release="notes@1.2.3", environment="staging")
    yield memory
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)  # inactive for the tests that follow


@pytest.fixture
def serve(make_app: Callable[..., Flask]) -> Iterator[Callable[..., Flask]]:
    """``make_app``, holding the apps until the test ends: a scheduler holds its app weakly,
    and stops once the app is gone."""
    apps: list[Flask] = []

    def factory(**config: Any) -> Flask:
        apps.append(make_app(**config))
        return apps[-1]

    yield factory
    apps.clear()


def check_ins(memory: MemoryTransport) -> list[dict[str, Any]]:
    sentry_sdk.flush(1)
    return memory.items("check_in")


def test_each_background_run_checks_in_with_its_status_duration_and_monitor(
    transport: MemoryTransport,
    health: HealthCheck,
    serve: Callable[..., Flask],
    clock: ManualClock,
    calls: Calls,
) -> None:
    up = {"database": True}

    @health.check(period=30, timeout=1, cron=True, fail_after=3, recover_after=2)
    def database() -> tuple[bool, str]:
        calls.add()
        if not up["database"]:
            raise ConnectionError(f"postgresql://app:{SECRET}@db.internal refused")
        return True, "ok"

    serve()
    assert wait_until(lambda: len(check_ins(transport)) == 1)

    [first] = check_ins(transport)
    assert first["monitor_slug"] == "healthcheck-database"
    assert first["status"] == "ok"
    assert isinstance(first["duration"], float)
    assert (first["release"], first["environment"]) == ("notes@1.2.3", "staging")
    assert first["monitor_config"] == {
        "schedule": {"type": "interval", "value": 1, "unit": "minute"},
        "checkin_margin": 1,  # stale after 2 periods and the timeout: 31 s past the schedule
        "max_runtime": 1,
        # The failure tolerance in check-ins: every other run checks in while its status
        # holds, so 3 failed runs in a row send 2, and 2 passing ones reach the second.
        "failure_issue_threshold": 2,
        "recovery_threshold": 2,
    }

    # A change of status checks in at once, though a minute has not passed.
    up["database"] = False
    clock.advance(30)
    assert wait_until(lambda: len(check_ins(transport)) == 2)
    assert check_ins(transport)[1]["status"] == "error"
    # The same status again within the minute: no check-in; a minute on, one.
    clock.advance(30)
    assert wait_until(lambda: calls.count == 3)
    time.sleep(0.1)
    assert len(check_ins(transport)) == 2
    clock.advance(30)
    assert wait_until(lambda: len(check_ins(transport)) == 3)
    assert [entry["status"] for entry in check_ins(transport)] == ["ok", "error", "error"]
    # Nothing the public report withholds goes with a check-in.
    assert SECRET not in json.dumps(check_ins(transport))


def test_only_checks_with_cron_check_in(
    transport: MemoryTransport, health: HealthCheck, serve: Callable[..., Flask], calls: Calls
) -> None:
    @health.check(period=0.05, cron="nightly-db")
    def database() -> tuple[bool, str]:
        return True, "ok"

    @health.check(period=0.05)
    def cache() -> tuple[bool, str]:
        calls.add()
        return True, "ok"

    serve()

    assert wait_until(lambda: calls.count >= 3)
    assert {entry["monitor_slug"] for entry in check_ins(transport)} == {"nightly-db"}


def test_a_custom_slug_and_a_derived_one(health: HealthCheck) -> None:
    health.add_check(lambda: (True, ""), name="Main.DB:primary", period=60, cron=True)
    health.add_check(lambda: (True, ""), name="cache", period=60, cron="cache_hourly")

    crons = {spec.name: spec.cron for spec in health.checks}
    assert crons == {"Main.DB:primary": "healthcheck-main-db-primary", "cache": "cache_hourly"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cron": True}, "'cron' needs 'period'"),
        ({"period": 60, "cron": "Has Spaces"}, "Sentry monitor slug"),
        ({"period": 60, "cron": "x" * 51}, "Sentry monitor slug"),
        ({"period": 60, "cron": 1}, "Sentry monitor slug"),
    ],
)
def test_a_bad_cron_option_is_refused_naming_it(
    health: HealthCheck, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        health.add_check(lambda: (True, ""), name="database", **options)


def test_a_run_past_its_timeout_checks_in_as_an_error_lasting_the_timeout(
    transport: MemoryTransport,
    health: HealthCheck,
    serve: Callable[..., Flask],
    clock: ManualClock,
) -> None:
    started, release = threading.Event(), threading.Event()

    @health.check(period=120, timeout=2, cron="hung-db")
    def hung() -> tuple[bool, str]:
        started.set()
        release.wait(10)
        return True, "too late"

    serve()
    try:
        assert started.wait(5)
        clock.advance(2)
        assert wait_until(lambda: len(check_ins(transport)) == 1)
    finally:
        release.set()

    [entry] = check_ins(transport)
    assert (entry["monitor_slug"], entry["status"], entry["duration"]) == ("hung-db", "error", 2.0)
    assert entry["monitor_config"]["schedule"] == {"type": "interval", "value": 2, "unit": "minute"}


def test_check_ins_start_once_sentry_is_initialised(
    health: HealthCheck,
    serve: Callable[..., Flask],
    clock: ManualClock,
    calls: Calls,
    caplog: pytest.LogCaptureFixture,
) -> None:
    @health.check(period=60, cron=True)
    def database() -> tuple[bool, str]:
        calls.add()
        return True, "ok"

    serve()
    assert wait_until(lambda: calls.count == 1)
    assert not sentry_sdk.get_client().is_active()

    memory = capture()
    transport = next(memory)
    try:
        clock.advance(60)
        assert wait_until(lambda: len(check_ins(transport)) == 1)
        assert calls.count == 2  # the first run, before sentry_sdk.init, sent nothing
    finally:
        memory.close()
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


def test_sentry_setting_false_sends_no_check_ins(
    transport: MemoryTransport,
    health: HealthCheck,
    serve: Callable[..., Flask],
    calls: Calls,
) -> None:
    @health.check(period=0.05, cron=True)
    def database() -> tuple[bool, str]:
        calls.add()
        return calls.count % 2 == 0, "flips"  # every run would check in

    serve(HEALTHCHECK_SENTRY=False)

    assert wait_until(lambda: calls.count >= 4)
    assert check_ins(transport) == []


def _runs_until(sent: list[tuple[int, str]], status: str, threshold: int, after: int) -> int:
    """The run, after run *after*, whose check-in makes *threshold* of *status* in a row."""
    in_a_row = 0
    for run, said in sent:
        in_a_row = in_a_row + 1 if said == status else 0
        if run > after and in_a_row >= threshold:
            return run
    raise AssertionError(f"{threshold} {status} check-ins in a row never came: {sent}")


def test_sentry_opens_no_later_and_resolves_no_earlier_than_the_checks_verdict(
    transport: MemoryTransport,
) -> None:
    # The check's own verdict (flask_healthcheck.verdict) against what Sentry's thresholds make
    # of the check-ins sent, run by run: a streak of passes, of failures, then of passes.
    reporter = CronCheckIns(timeout_of=lambda spec: 5.0)
    tried = 0
    for period in (0.5, 5, 7, 10, 30, 45, 60, 90, 300):
        for fail_after, fail_after_seconds, recover_after in itertools.product(
            (1, 2, 3, 13), (0, 20, 120), (1, 2, 7)
        ):
            spec = make_spec(
                lambda: (True, ""),
                name=f"c{tried}",
                period=period,
                fail_after=fail_after,
                fail_after_seconds=fail_after_seconds,
                recover_after=recover_after,
                cron=f"m{tried}",
            )
            tried += 1
            every = math.ceil(60 / period)  # runs per check-in while the status holds
            failures = fail_after + math.ceil(fail_after_seconds / period) + 2 * every
            passes = 3 * every + recover_after
            streaks = [True] * every + [False] * failures + [True] * passes
            previous: CheckResult | None = None
            streak = Streak()
            turned: list[int] = []
            sent: list[tuple[int, str]] = []
            for run, passed in enumerate(streaks):
                at = 1_700_000_000.0 + run * period
                raw = CheckResult(spec.name, passed, "", at, at + 2 * period, 0.01)
                streak = streak.after(raw)
                result = tolerate(spec, previous, raw, streak)
                if previous is not None and result.passed != previous.passed:
                    turned.append(run)
                before = len(transport.envelopes)
                reporter.report(Transition(spec, result, previous))
                if len(transport.envelopes) > before:
                    sent.append((run, "ok" if passed else "error"))
                previous = result
            config = monitor_config(spec, 5.0)
            turned_failing, turned_passing = turned
            opened = _runs_until(sent, "error", config["failure_issue_threshold"], every - 1)
            resolved = _runs_until(sent, "ok", config["recovery_threshold"], opened)
            case = (period, fail_after, fail_after_seconds, recover_after, config, sent)
            assert turned_failing - every < opened <= turned_failing, case
            assert turned_passing <= resolved < turned_passing + every, case
    assert tried == 9 * 4 * 3 * 3


@pytest.mark.parametrize(
    ("period", "fleet_ttl", "minutes"), [(30, 300, 5), (5, 20, 1)], ids=["5 min", "20 s"]
)
def test_a_check_run_once_for_the_fleet_is_expected_once_per_fleet_ttl_and_checks_in_each_run(
    transport: MemoryTransport, period: float, fleet_ttl: float, minutes: int
) -> None:
    # The other servers take the run's result and send nothing: the fleet runs it, and checks
    # in, once per fleet_ttl, on whichever server, so no server holds back a check-in.
    options = {"period": period, "fleet_ttl": fleet_ttl, "fail_after": 3, "recover_after": 2}
    spec = make_spec(lambda: (True, ""), name="schema", cron=True, **options)
    reporter = CronCheckIns(timeout_of=lambda spec: 10.0)
    for run in range(3):
        at = 1_700_000_000.0 + run * fleet_ttl
        result = CheckResult(spec.name, True, "", at, at + fleet_ttl, 0.01)
        reporter.report(Transition(spec, result, None))

    sent = check_ins(transport)
    assert len(sent) == 3
    config = sent[0]["monitor_config"]
    assert config["schedule"] == {"type": "interval", "value": minutes, "unit": "minute"}
    assert (config["failure_issue_threshold"], config["recovery_threshold"]) == (3, 2)


def test_two_checks_cannot_share_a_monitor(health: HealthCheck) -> None:
    health.add_check(lambda: (True, ""), name="Main.DB", period=60, cron=True)

    with pytest.raises(ValueError, match=r"'Main\.DB' and 'main-db' would report to the same"):
        health.add_check(lambda: (True, ""), name="main-db", period=60, cron=True)
    health.add_check(lambda: (True, ""), name="main-db", period=60, cron="replica-db")
    assert [spec.cron for spec in health.checks] == ["healthcheck-main-db", "replica-db"]


@pytest.mark.parametrize("preload", [False, True], ids=["fork", "preload"])
def test_one_check_in_per_run_for_the_whole_gunicorn_server(tmp_path: Path, preload: bool) -> None:
    directory = tmp_path / "sentry"
    directory.mkdir()
    with gunicorn(
        "crons_app:create_app()",
        tmp_path,
        Configuration("sync", preload, workers=2),
        environment={"SENTRY_DIR": str(directory)},
    ) as server:
        server.wait_for_workers(2)
        # The check changes its answer on every run, so that every run checks in.
        due = time.monotonic() + 20
        while len(server.calls("flipping")) < 4:
            assert time.monotonic() < due, server.output()
            time.sleep(0.05)
        time.sleep(0.3)
        calls = server.calls("flipping")
        sent = [json.loads(path.read_text()) for path in sorted(directory.iterdir())]

    # One worker holds the scheduler role: one run, one check-in, whatever the workers (a run
    # may fall between the two reads, either way).
    assert len(set(calls)) == 1, calls
    assert len(calls) - 1 <= len(sent) <= len(calls) + 1, (sent, calls)
    assert {entry["monitor_slug"] for entry in sent} == {"flipping-db"}
    assert {entry["pid"] for entry in sent} == set(map(int, calls))
