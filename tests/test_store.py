"""The results the workers of one server share: two apps in one process with one shared
directory act as two workers of one server."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from flask_healthcheck import HealthCheck, StatusChange
from flask_healthcheck.store import Lease, Record, SharedResults

from .conftest import Calls


def worker(health: HealthCheck, shared: Path, **config: object) -> Flask:
    """An app that stands for one worker of a server whose shared state is in *shared*."""
    app = Flask("worker")
    app.config.update(
        TESTING=True, HEALTHCHECK_SHARED_DIR=str(shared), HEALTHCHECK_STARTUP_GATE=(), **config
    )
    health.init_app(app)
    return app


@pytest.fixture
def two_workers(tmp_path: Path) -> Callable[..., tuple[HealthCheck, Flask, Flask]]:
    made: list[HealthCheck] = []

    def factory(**config: object) -> tuple[HealthCheck, Flask, Flask]:
        health = HealthCheck()
        made.append(health)
        return health, worker(health, tmp_path, **config), worker(health, tmp_path, **config)

    yield factory
    for health in made:
        for state in list(health._states.values()):
            state.scheduler.stop()


def test_a_result_one_worker_stored_is_read_by_the_others_without_a_call(
    two_workers: Callable[..., tuple[HealthCheck, Flask, Flask]], calls: Calls
) -> None:
    health, first, second = two_workers()

    @health.check
    def database() -> tuple[bool, str]:
        calls.add()
        return True, f"from {os.getpid()}"

    assert first.test_client().get("/healthz/ready").status_code == 200
    assert second.test_client().get("/healthz/ready").status_code == 200
    assert calls.count == 1


def test_while_one_worker_runs_a_check_the_others_wait_for_its_result(
    two_workers: Callable[..., tuple[HealthCheck, Flask, Flask]], calls: Calls
) -> None:
    health, first, second = two_workers()
    release = threading.Event()

    @health.check(timeout=5)
    def slow() -> tuple[bool, str]:
        calls.add()
        release.wait(5)
        return True, "done"

    statuses: list[int] = []
    threads = [
        threading.Thread(
            target=lambda app=app: statuses.append(
                app.test_client().get("/healthz/slow").status_code
            )
        )
        for app in (first, second, first, second)
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    release.set()
    for thread in threads:
        thread.join(10)
    assert statuses == [200] * 4
    assert calls.count == 1


def test_a_failure_is_announced_once_for_the_server_not_once_per_worker(
    two_workers: Callable[..., tuple[HealthCheck, Flask, Flask]],
) -> None:
    health, first, second = two_workers(HEALTHCHECK_FAILED_TTL=0.5)
    changes: list[StatusChange] = []
    health.on_change(changes.append)
    health.add_check(lambda: (False, "down"), name="database")

    for app in (first, second, first, second):
        assert app.test_client().get("/healthz/database").status_code == 503
    # The run's own thread tells the listeners just after it releases the waiting request.
    for thread in threading.enumerate():
        if thread.name.startswith("healthcheck:database"):
            thread.join(5)
    assert [(change.name, change.passed) for change in changes if change.kind == "check"] == [
        ("database", False)
    ]


def test_a_lease_whose_holder_has_died_does_not_block_the_check(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    results = SharedResults(tmp_path)
    now = time.time()
    results.update("database", lambda record: Record(lease=Lease(int(dead.stdout), 1, now + 60)))

    claim = results.claim("database", now, now + 1)

    assert claim.granted is not None
    assert claim.granted.pid == os.getpid()


def test_a_lease_held_by_a_live_worker_makes_the_claim_busy_until_it_ends(tmp_path: Path) -> None:
    results = SharedResults(tmp_path)
    now = time.time()
    first = results.claim("database", now, now + 1)
    assert first.granted is not None

    assert results.claim("database", now + 0.5, now + 1.5).busy
    # At its end the lease counts for nothing, as a hung holder's does.
    assert results.claim("database", now + 1.0, now + 2).granted is not None


def test_a_record_from_another_version_of_the_library_reads_as_none(tmp_path: Path) -> None:
    results = SharedResults(tmp_path)
    results.update("database", lambda record: Record())
    [path] = tmp_path.glob("*.record")
    path.write_bytes(b"not a pickle")
    assert results.read("database") is None
