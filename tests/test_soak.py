"""Soak: the sample app under gunicorn takes half a minute of steady probe traffic while its
dependencies flap, and gives back every thread, file descriptor and database connection.

The deployment is the end-to-end tests' (:mod:`tests.sample_stack`). A flapper takes
PostgreSQL (its proxy), Redis (``CLIENT PAUSE``) and RabbitMQ (its proxy) away in turn,
1.5 s each, while six threads probe readiness, liveness and the full report.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .sample_stack import (
    PATHS,
    RECOVERY_WITHIN,
    ProbeTraffic,
    Stack,
    backends,
    probe,
    sample_services,
    sample_stack,
)

pytestmark = [pytest.mark.soak, pytest.mark.timeout(240)]

#: Seconds each dependency is away in one flap, and then back before the next one.
AWAY = 1.5
BACK = 1.5
#: Seconds of flapping under probe traffic after the warm-up's first round of flaps.
SOAK_SECONDS = 18.0
#: Seconds without traffic before a measurement: every cached result has expired and every
#: check thread has returned, so only what the processes keep is counted.
SETTLE = 3.0
#: What may differ from the baseline without being a leak, per web process.
#: Threads: gunicorn's gthread pool starts its threads one by one as requests overlap, up to
#: ``--threads``, and a measurement may catch a check run's thread ending (+2).
#: File descriptors: the connections of those threads' requests, a pooled database connection
#: opened late and a Celery check's broker connection reopened after the last flap (+4).
THREAD_ALLOWANCE = 2
FD_ALLOWANCE = 4
#: Database connections: the pools keep up to five per process; one more may have been opened
#: by the last overlapping checks (+1 in all).
CONNECTION_ALLOWANCE = 1


@dataclass(frozen=True)
class Resources:
    """What the web processes hold: threads and file descriptors per pid, and the test
    database's connections."""

    threads: dict[int, int]
    fds: dict[int, int]
    connections: int

    def __str__(self) -> str:
        return (
            f"threads {self.threads}, file descriptors {self.fds}, "
            f"{self.connections} database connections"
        )


def measure(stack: Stack) -> Resources:
    processes = stack.web_processes()
    return Resources(
        threads={process.pid: process.num_threads() for process in processes},
        fds={process.pid: process.num_fds() for process in processes},
        connections=len(backends(stack.database)),
    )


class Flapper:
    """Takes each dependency away for :data:`AWAY` seconds in turn, for a given time."""

    def __init__(self, stack: Stack) -> None:
        def pause_redis() -> None:
            stack.redis.pause(AWAY)  # ends by itself

        self.faults: list[tuple[str, Callable[[], None], Callable[[], None]]] = [
            ("postgresql", stack.postgres.stop, stack.postgres.start),
            ("redis", pause_redis, lambda: None),
            ("rabbitmq", stack.broker.stop, stack.broker.start),
        ]
        self.flaps: list[str] = []

    def run(self, *, seconds: float | None = None, rounds: int | None = None) -> None:
        """Flap for *seconds*, or *rounds* times through every dependency; all are back after."""
        due = time.monotonic() + seconds if seconds is not None else None
        count = 0
        while True:
            if due is not None and time.monotonic() + AWAY + BACK > due:
                return
            if rounds is not None and count >= rounds * len(self.faults):
                return
            name, take_away, bring_back = self.faults[count % len(self.faults)]
            take_away()
            try:
                time.sleep(AWAY)
            finally:
                bring_back()
            self.flaps.append(name)
            count += 1
            time.sleep(BACK)


@pytest.fixture(scope="module")
def services() -> Iterator[tuple[str, str]]:
    with sample_services("soak") as database_and_vhost:
        yield database_and_vhost


@pytest.fixture
def stack(services: tuple[str, str], tmp_path: Path) -> Iterator[Stack]:
    database, vhost = services
    with sample_stack(tmp_path, database, vhost) as deployed:
        yield deployed


def wait_until_every_process_passes(stack: Stack) -> None:
    """Each web process answers readiness 200 again: every dependency is back in use."""
    mark = stack.access_mark()
    due = time.monotonic() + RECOVERY_WITHIN
    while not stack.every_process_answered(mark, "ready", 200):
        assert time.monotonic() < due, f"readiness did not recover\n{stack.logs()}"
        probe(stack.base_url, "ready")
        time.sleep(0.2)


def probe_traffic(stack: Stack) -> ProbeTraffic:
    """Six threads, two per endpoint, each sending about 20 requests a second."""
    return ProbeTraffic(stack.base_url, threads_per_endpoint=2, pause=0.05)


def test_flapping_dependencies_under_probe_traffic_leak_no_thread_fd_or_connection(
    stack: Stack,
) -> None:
    # Warm-up: the gthread pools, the database pools and the kept broker connections fill
    # up, and one round of flaps opens whatever a recovery opens once.
    with probe_traffic(stack) as warm_up:
        Flapper(stack).run(rounds=1)
        wait_until_every_process_passes(stack)
    assert warm_up.failures() == []
    time.sleep(SETTLE)
    baseline = measure(stack)

    mark = stack.access_mark()
    started = time.monotonic()
    flapper = Flapper(stack)
    with probe_traffic(stack) as soak:
        flapper.run(seconds=SOAK_SECONDS)
        wait_until_every_process_passes(stack)
    soaked = time.monotonic() - started
    time.sleep(SETTLE)
    after = measure(stack)

    ready = [status for _, path, status in stack.answered_since(mark) if path == PATHS["ready"]]
    print(
        f"\nsoak: {soaked:.0f} s, {len(flapper.flaps)} flaps ({', '.join(flapper.flaps)})"
        f"\n  traffic: {soak.summary()}"
        f"\n  baseline: {baseline}\n  after:    {after}"
    )
    assert soak.failures() == []
    assert ready.count(503) > 0, "no flap showed in readiness"
    assert ready.count(200) > 0
    assert set(after.threads) == set(baseline.threads), "a web process was replaced"
    for pid, threads in after.threads.items():
        assert threads <= baseline.threads[pid] + THREAD_ALLOWANCE, (pid, baseline, after)
    for pid, fds in after.fds.items():
        assert fds <= baseline.fds[pid] + FD_ALLOWANCE, (pid, baseline, after)
    assert after.connections <= baseline.connections + CONNECTION_ALLOWANCE, (baseline, after)
