"""The app's own availability: liveness, readiness and the start-up latch, which the workers
of one server share (in-process, and under a real gunicorn)."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_healthcheck import AvailabilityState, HealthCheck
from flask_healthcheck.availability import LATCH_LOOK_INTERVAL, Availability
from flask_healthcheck.clock import ManualClock

from .conftest import Calls
from .gunicorn_server import CONFIGURATION_PARAMS, Configuration, gunicorn
from .services import POSTGRES, tcp_proxy


def test_a_new_app_is_live_and_ready_but_not_started() -> None:
    availability = Availability()

    assert availability.liveness.available is True
    assert availability.readiness.available is True
    assert availability.started is False


def test_set_ready_records_the_reason_and_when() -> None:
    availability = Availability()
    before = time.time()

    availability.set_ready(False, "maintenance")

    state = availability.readiness
    assert isinstance(state, AvailabilityState)
    assert (state.available, state.reason) == (False, "maintenance")
    assert before <= state.since <= time.time()
    assert availability.liveness.available is True


def test_set_live_leaves_readiness_alone() -> None:
    availability = Availability()

    availability.set_live(False, "deadlock")

    assert availability.liveness == AvailabilityState(
        False, "deadlock", availability.liveness.since
    )
    assert availability.readiness.available is True


def test_start_up_latch_never_turns_back() -> None:
    availability = Availability()
    availability.record_pass("db")

    assert availability.not_yet_passed(["db", "cache"]) == ["cache"]
    availability.mark_started()
    availability.set_ready(False)
    availability.set_live(False)

    assert availability.started is True


def test_readiness_reason_shows_in_every_format(
    health: HealthCheck, app: Flask, client: FlaskClient
) -> None:
    health.set_ready(False, "draining before shutdown")

    for fmt in ("json", "health%2Bjson", "text"):
        response = client.get(f"/healthz/ready?format={fmt}")
        assert response.status_code == 503
        assert "draining before shutdown" in response.text


def test_not_ready_without_a_reason_says_so(
    health: HealthCheck, app: Flask, client: FlaskClient
) -> None:
    health.set_ready(False)

    assert client.get("/healthz/ready").json["results"][0]["output"] == "not ready"


def test_availability_shows_in_the_full_report_without_failing_it(
    health: HealthCheck, app: Flask, client: FlaskClient
) -> None:
    health.add_check(lambda: (True, "ok"), name="db")
    assert [r["checker"] for r in client.get("/healthz").json["results"]] == ["db"]
    health.set_ready(False, "maintenance")
    health.set_live(False, "stuck")

    report = client.get("/healthz")
    assert report.status_code == 200  # the checks' verdict: the app's own word degrades it
    assert report.json["degraded"] is True
    assert report.json["warnings"] == ["liveness", "readiness"]
    outputs = {r["checker"]: (r["passed"], r["output"]) for r in report.json["results"]}
    assert outputs == {
        "liveness": (False, "stuck"),
        "readiness": (False, "maintenance"),
        "db": (True, "ok"),
    }
    assert "[-]readiness failed (non-critical): maintenance" in client.get("/healthz?verbose").text
    assert client.get("/healthz/db").status_code == 200
    assert [r["checker"] for r in client.get("/healthz/db").json["results"]] == ["db"]

    health.set_ready(True)
    health.set_live(True)
    assert [r["checker"] for r in client.get("/healthz").json["results"]] == ["db"]


# -- the start-up latch, shared by the workers of one server ---------------------------------------


class Dependency:
    """A check that passes while :attr:`up`, counting its calls."""

    def __init__(self, calls: Calls) -> None:
        self.calls = calls
        self.up = True

    def __call__(self) -> tuple[bool, str]:
        self.calls.add()
        return (True, "up") if self.up else (False, "connection refused")


@pytest.fixture
def workers(make_app: Callable[..., Flask], tmp_path: Path) -> Callable[..., tuple[Flask, Flask]]:
    """Two apps of one name sharing a server directory: two workers of one server, in-process."""

    def make(**config: object) -> tuple[Flask, Flask]:
        # No result reused: each answer shows the database as it is now (the workers share
        # their results, and a pass cached before the outage would be read as fresh).
        shared = {
            "HEALTHCHECK_SHARED_DIR": str(tmp_path / "shared"),
            "HEALTHCHECK_FAILED_TTL": 0,
            "HEALTHCHECK_SUCCESS_TTL": 0,
        }
        return make_app(**shared, **config), make_app(**shared, **config)

    return make


def test_a_worker_of_a_started_server_is_started_at_once_while_the_database_is_down(
    health: HealthCheck, workers: Callable[..., tuple[Flask, Flask]], calls: Calls
) -> None:
    database = Dependency(calls)
    health.add_check(database, name="database")
    first, recycled = workers(HEALTHCHECK_STARTUP_GATE=["live", "ready"])
    assert first.test_client().get("/healthz/startup").status_code == 200

    database.up = False
    runs = calls.count
    client = recycled.test_client()

    assert client.get("/healthz/startup").status_code == 200
    assert client.get("/healthz/live").status_code == 200  # gated, and started by the server
    assert calls.count == runs  # neither ran the database check
    ready = client.get("/healthz/ready")
    assert ready.status_code == 503  # the database is down: not ready, but no "starting"
    assert [r["checker"] for r in ready.json["results"] if not r["passed"]] == ["database"]


def test_a_worker_that_found_the_server_not_started_looks_again_after_a_while(
    health: HealthCheck,
    workers: Callable[..., tuple[Flask, Flask]],
    calls: Calls,
    clock: ManualClock,
) -> None:
    database = Dependency(calls)
    database.up = False
    health.add_check(database, name="database")
    first, second = workers()
    client = second.test_client()
    assert client.get("/healthz/startup").status_code == 503

    database.up = True
    assert first.test_client().get("/healthz/startup").status_code == 200
    database.up = False
    # Within the interval the second has not looked again: it still runs the check itself.
    assert client.get("/healthz/startup").status_code == 503

    clock.advance(LATCH_LOOK_INTERVAL)
    runs = calls.count
    assert client.get("/healthz/startup").status_code == 200
    assert calls.count == runs


def test_without_a_server_directory_each_process_starts_by_itself(
    health: HealthCheck,
    make_app: Callable[..., Flask],
    calls: Calls,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HEALTHCHECK_SHARED_DIR", raising=False)
    database = Dependency(calls)
    health.add_check(database, name="database")
    first, second = make_app(HEALTHCHECK_FAILED_TTL=0), make_app(HEALTHCHECK_FAILED_TTL=0)
    assert health.state(first).server is None
    assert first.test_client().get("/healthz/startup").status_code == 200

    database.up = False

    assert second.test_client().get("/healthz/startup").status_code == 503


def test_the_latch_is_one_file_written_once_and_read_with_a_stat(tmp_path: Path) -> None:
    clock = ManualClock()
    latch = tmp_path / "started"
    writer, reader = Availability(clock), Availability(clock)
    writer.share_latch(latch)
    reader.share_latch(latch)
    assert reader.started is False

    writer.mark_started()
    stamp = latch.stat().st_mtime_ns
    writer.mark_started()

    assert latch.read_text().strip().isdigit()  # the process that latched it
    assert latch.stat().st_mtime_ns == stamp
    assert reader.started is False  # it looked a moment ago
    clock.advance(LATCH_LOOK_INTERVAL)
    assert reader.started is True
    latch.unlink()
    assert reader.started is True  # kept in memory for good


@pytest.mark.parametrize("configuration", CONFIGURATION_PARAMS)
def test_workers_recycled_while_the_database_is_down_are_alive_and_started(
    tmp_path: Path, configuration: Configuration
) -> None:
    with tcp_proxy(POSTGRES) as proxy:
        url = POSTGRES.url.replace(f":{POSTGRES.port}/", f":{proxy.port}/")
        environment = {"STARTUP_DATABASE_URL": url}
        with gunicorn(
            "startup_app:create_app()", tmp_path, configuration, environment=environment
        ) as server:
            first = server.wait_for_workers(4)
            assert server.get("/healthz/startup")[0] == 200  # the worker that answered latched it
            assert list(server.shared_dir.glob("*/*/startup/started")), "no latch file"

            proxy.stop()  # the database is down from now on
            for pid in first:
                os.kill(pid, signal.SIGKILL)
            recycled = server.wait_for_workers(4, exclude=first)

            answered = set()
            for _ in range(12):
                # Only workers started while the database is down are left to answer.
                assert server.get("/healthz/startup")[0] == 200
                assert server.get("/healthz/live")[0] == 200
                status, _, body = server.get("/healthz/ready")
                failing = [r["checker"] for r in json.loads(body)["results"] if not r["passed"]]
                assert (status, failing) == (503, ["database"])  # not ready, and not "starting"
                answered.add(int(server.get("/pid")[2]))
            assert answered
            assert answered.isdisjoint(first), (answered, first, recycled)
