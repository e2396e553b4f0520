"""The checks every contestant serves, per scenario, as plain ``() -> (bool, str)`` functions.

The scenario is read from ``BENCH_SCENARIO`` when an app is created:

``live``
    one instant readiness check; the benchmark only calls the liveness endpoints.
``slow8``
    eight checks that each sleep 100 ms; nothing is cached (``success_ttl=0``, ``failed_ttl=0``).
``hang``
    one check that never returns.
``ttl``
    one check that takes 20 ms, as a round trip to a database does, and appends the worker's pid
    and the time to ``$BENCH_COUNTER_DIR/calls.txt`` on every call (:func:`read_calls` reads
    them back); passing results are cached for one second.

Every app also serves :data:`BARE_PATH`, a plain Flask route, whatever the scenario.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flask import Flask

CheckFunction = Callable[[], "tuple[bool, str]"]

SCENARIOS = ("live", "slow8", "hang", "ttl")
SLOW_CHECKS = 8
SLOW_CHECK_SECONDS = 0.1
COUNTED_CHECK_SECONDS = 0.02
#: Request deadline and check timeout given to flask_healthcheck in the ``hang`` scenario.
HANG_DEADLINE = 0.5
HANG_TIMEOUT = 1.0
COUNTER_FILE = "calls.txt"
#: A plain Flask route answering 200 in every contestant's app: the floor its liveness is held
#: to under the very same server (the multi-worker scenario).
BARE_PATH = "/bare"


@dataclass(frozen=True)
class Caching:
    """Seconds a passing and a failing result are reused, for the libraries that cache."""

    success_ttl: float
    failed_ttl: float


CACHING = {
    "live": Caching(10.0, 3.0),
    "slow8": Caching(0.0, 0.0),
    "hang": Caching(0.0, 0.0),
    "ttl": Caching(1.0, 0.0),
}


def scenario() -> str:
    name = os.environ.get("BENCH_SCENARIO", "live")
    if name not in SCENARIOS:
        raise ValueError(f"BENCH_SCENARIO must be one of {', '.join(SCENARIOS)}; got {name!r}")
    return name


def _named(func: CheckFunction, name: str) -> CheckFunction:
    # py-healthcheck names (and caches) checks by function, so each check is its own function.
    func.__name__ = func.__qualname__ = name
    return func


def _instant() -> CheckFunction:
    def check() -> tuple[bool, str]:
        return True, "ok"

    return _named(check, "instant")


def _sleeper(index: int) -> CheckFunction:
    def check() -> tuple[bool, str]:
        time.sleep(SLOW_CHECK_SECONDS)
        return True, "slept"

    return _named(check, f"slow_{index}")


def _hung() -> CheckFunction:
    def check() -> tuple[bool, str]:
        threading.Event().wait()
        return True, "unreachable"

    return _named(check, "hung")


def _counted() -> CheckFunction:
    path = os.path.join(os.environ.get("BENCH_COUNTER_DIR", "."), COUNTER_FILE)

    def check() -> tuple[bool, str]:
        time.sleep(COUNTED_CHECK_SECONDS)
        # One short O_APPEND write per call is atomic, whichever process or thread makes it.
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, f"{os.getpid()} {time.time():.6f}\n".encode())
        finally:
            os.close(descriptor)
        return True, "counted"

    return _named(check, "counted")


def read_calls(path: Path) -> list[tuple[int, float]]:
    """The calls the counted check recorded in *path*: ``(pid, epoch seconds)`` each."""
    if not path.exists():
        return []
    calls = []
    for line in path.read_text().splitlines():
        pid, _, moment = line.partition(" ")
        calls.append((int(pid), float(moment)))
    return calls


def add_bare_route(app: Flask) -> None:
    """Serve :data:`BARE_PATH` on *app*: 200 and two bytes, nothing else."""

    def bare() -> str:
        return "ok"

    app.add_url_rule(BARE_PATH, "bench_bare", bare)


def checks_for(name: str) -> list[CheckFunction]:
    """The readiness checks of scenario *name*, in registration order."""
    if name == "slow8":
        return [_sleeper(index) for index in range(1, SLOW_CHECKS + 1)]
    if name == "hang":
        return [_hung()]
    if name == "ttl":
        return [_counted()]
    return [_instant()]


def liveness() -> None:
    """flask-healthz's liveness function: nothing to check, as a liveness probe should be."""
