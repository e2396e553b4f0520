"""Sentry Crons, for real: sentry_sdk with a transport that keeps envelopes in memory, and under
gunicorn with two workers (with and without ``--preload``) one check-in per run per server."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sentry_sdk
from flask import Flask

from flask_healthcheck import HealthCheck
from flask_healthcheck.clock import ManualClock

from .conftest import Calls, wait_until
from .gunicorn_server import Configuration, gunicorn
from .sentry_capture import DSN, MemoryTransport

SECRET = "hunter2"


@pytest.fixture
def transport() -> Iterator[MemoryTransport]:
    memory = MemoryTransport()
    sentry_sdk.init(dsn=DSN, transport=memory, release="notes@1.2.3", environment="staging")
    yield memory
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)  # inactive for the tests that follow


def check_ins(memory: MemoryTransport) -> list[dict[str, Any]]:
    sentry_sdk.flush(1)
    return memory.items("check_in")


def test_each_background_run_checks_in_with_its_status_duration_and_monitor(
    transport: MemoryTransport,
    health: HealthCheck,
    make_app: Callable[..., Flask],
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

    make_app()
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
        "failure_issue_threshold": 3,  # the failure tolerance, as Sentry's thresholds
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
    transport: MemoryTransport, health: HealthCheck, make_app: Callable[..., Flask], calls: Calls
) -> None:
    @health.check(period=0.05, cron="nightly-db")
    def database() -> tuple[bool, str]:
        return True, "ok"

    @health.check(period=0.05)
    def cache() -> tuple[bool, str]:
        calls.add()
        return True, "ok"

    make_app()

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
