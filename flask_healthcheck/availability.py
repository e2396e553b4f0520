"""The application's own view of its availability: liveness, readiness and start-up.

This is the state the app sets itself (``health.set_ready(False, "maintenance")``), in the way
Spring Boot's ``ApplicationAvailability`` works, next to what the checks find out.

The start-up latch belongs to the server, not to one process: once a worker of a pre-fork
server has seen every critical check pass, it writes a file in the server directory
(:mod:`~flask_healthcheck.shared`), and every other worker, a recycled one too, reads it and is
started at once. A worker that comes up while a dependency is down must not hold its readiness
back, nor keep its startup probe failing, for a start-up the server went through long ago.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from . import process
from .clock import SYSTEM_CLOCK, Clock
from .shared import write_atomically

logger = logging.getLogger("flask_healthcheck")

#: Seconds between two looks at the server's start-up latch while this process is not started:
#: a look is one ``stat``, and once started the answer is kept in memory for good.
LATCH_LOOK_INTERVAL = 1.0


@dataclass(frozen=True)
class AvailabilityState:
    """Whether the app says it is available in one respect, why, and since when (epoch seconds)."""

    available: bool
    reason: str
    since: float


_AVAILABILITIES: weakref.WeakSet[Availability] = weakref.WeakSet()


def _forget_the_parents_lock() -> None:
    """In a forked child: a thread of the parent may have held the lock at the fork."""
    for availability in list(_AVAILABILITIES):
        availability._after_fork()


process.after_fork_in_child(process.Stage.FORGET, _forget_the_parents_lock)


class Availability:
    """Per-app, thread-safe holder of liveness, readiness and the start-up latch, which is
    this process's own until :meth:`share_latch` shares it with the server's."""

    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self._clock = clock
        now = clock.time()
        self._lock = threading.Lock()
        self.liveness = AvailabilityState(True, "", now)
        self.readiness = AvailabilityState(True, "", now)
        self._passed_once: set[str] = set()
        self._started = False
        self._latch: Path | None = None
        self._next_look = float("-inf")  # the clock's monotonic()
        _AVAILABILITIES.add(self)

    def share_latch(self, latch: Path) -> None:
        """Share the start-up latch with the other processes of the server through the file
        *latch*, in a directory they all read."""
        self._latch = latch
        self._next_look = float("-inf")

    def set_live(self, live: bool, reason: str = "") -> None:
        """Say whether the app is alive, and why not (``health.set_live``)."""
        self.liveness = AvailabilityState(live, reason, self._clock.time())

    def set_ready(self, ready: bool, reason: str = "") -> None:
        """Say whether the app accepts traffic, and why not (``health.set_ready``, draining)."""
        self.readiness = AvailabilityState(ready, reason, self._clock.time())

    @property
    def started(self) -> bool:
        """True once every critical check has passed at least once, in this process or in
        another process of its server; it never turns back."""
        if self._started:
            return True
        latch = self._latch
        if latch is None:
            return False
        now = self._clock.monotonic()
        if now < self._next_look:
            return False
        self._next_look = now + LATCH_LOOK_INTERVAL
        if os.path.exists(latch):
            self._started = True
        return self._started

    def record_pass(self, name: str) -> None:
        """Remember that check *name* has passed at least once in this process."""
        if name in self._passed_once:
            return  # every pass after the first: a set only grows, so no lock is needed
        with self._lock:
            self._passed_once.add(name)

    def not_yet_passed(self, names: Iterable[str]) -> list[str]:
        """Those of *names* that have not passed once yet, in their order."""
        with self._lock:
            return [name for name in names if name not in self._passed_once]

    def mark_started(self) -> None:
        """Latch start-up: from now on :attr:`started` is True for good, in this process and,
        through the latch file, in every process of its server."""
        if self._started:
            return
        latch = self._latch
        # The file first: whoever sees this process started may count on the others seeing
        # it too. Two threads latching at once both write it, which is harmless.
        if latch is not None and not os.path.exists(latch):
            try:
                write_atomically(latch, f"{os.getpid()}\n".encode())
            except OSError:
                # This process is started either way; the others latch by themselves.
                logger.warning("cannot record the start-up in %s", latch, exc_info=True)
        self._started = True

    def _after_fork(self) -> None:
        self._lock = threading.Lock()
        self._next_look = float("-inf")  # a new worker looks at the server's latch at once
