from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_healthcheck import HealthCheck
from flask_healthcheck.clock import ManualClock

from .services import BlackHole, black_hole

#: Test files that take longest, longest first (measured: seconds of the whole file). The test
#: command runs files on three processes (pytest-xdist, ``--dist loadfile``, with
#: ``--no-loadscope-reorder`` so that this order holds) and gives a process its next file
#: when it is almost done: starting these first keeps one of them from being the last thing
#: left running while the other processes idle.
SLOW_FILES = (
    "test_end_to_end.py",  # 80
    "test_bench.py",  # 47
    "test_soak.py",  # 41
    "test_server_unit.py",  # 39
    "contrib/test_celery.py",  # 38
    "test_fleet_servers.py",  # 25
    "test_lifecycle.py",  # 21
    "test_probe_port_server.py",  # 20
    "test_quickstart.py",  # 16
    "test_sample_app.py",  # 14
    "test_docs_screenshots.py",  # 12
    "test_distribution.py",  # 12
    "test_fleet.py",  # 11
    "contrib/test_sqlalchemy.py",  # 11
    "test_metrics_server.py",  # 11
    "test_availability.py",  # 10
    "test_server_unit_uwsgi.py",  # 10
    "test_gunicorn.py",  # 9
    "test_console.py",  # 8
    "test_cli.py",  # 7
    "test_docs_examples.py",  # 6
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.path.as_posix()
        for index, name in enumerate(SLOW_FILES):
            if path.endswith("/tests/" + name):
                return index
        return len(SLOW_FILES)

    items.sort(key=rank)  # stable: the order within a file, and of the other files, is kept


# gunicorn 27 keeps one control socket per user (~/.gunicorn/gunicorn.ctl): servers that the
# tests run side by side would take it from each other. Every gunicorn a test starts inherits
# this environment and runs without one.
os.environ["GUNICORN_CMD_ARGS"] = " ".join(
    filter(None, [os.environ.get("GUNICORN_CMD_ARGS"), "--no-control-socket"])
)


@pytest.fixture
def clock() -> ManualClock:
    """A clock that moves only when the test moves it; a test that asks for it gets the
    ``health`` extension on it, so TTLs, tolerance and staleness play out without sleeping."""
    return ManualClock()


@pytest.fixture
def health(request: pytest.FixtureRequest) -> Iterator[HealthCheck]:
    if "clock" in request.fixturenames:
        extension = HealthCheck(clock=request.getfixturevalue("clock"))
    else:
        extension = HealthCheck()
    yield extension
    # The background threads of the test's apps end with it, rather than napping on.
    for state in list(extension._states.values()):
        state.scheduler.stop()
        state.start_up.stop()


@pytest.fixture
def make_app(health: HealthCheck) -> Callable[..., Flask]:
    """Build an app with the given ``HEALTHCHECK_*`` config and the ``health`` extension on it."""

    def factory(**config: Any) -> Flask:
        app = Flask("test_app")
        app.config.update(TESTING=True, **config)
        health.init_app(app)
        return app

    return factory


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def hung_server() -> Iterator[BlackHole]:
    """A socket that accepts connections and never answers."""
    with black_hole() as server:
        yield server


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """An event that hung checks wait on; set at teardown so their threads end with the test.

    Until teardown a check blocked on it never returns, as far as the library can tell.
    """
    event = threading.Event()
    yield event
    event.set()


class Calls:
    """A thread-safe count of a check's calls."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def add(self) -> int:
        with self._lock:
            self.count += 1
            return self.count


@pytest.fixture
def calls() -> Calls:
    return Calls()


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll *predicate* until it is true (for what a check's thread does after answering)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
