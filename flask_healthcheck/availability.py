"""The application's own view of its availability: liveness, readiness and start-up.

This is the state the app sets itself (``health.set_ready(False, "maintenance")``), in the way
Spring Boot's ``ApplicationAvailability`` works, next to what the checks find out.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from .clock import SYSTEM_CLOCK, Clock


@dataclass(frozen=True)
class AvailabilityState:
    """Whether the app says it is available in one respect, why, and since when (epoch seconds)."""

    available: bool
    reason: str
    since: float


class Availability:
    """Per-app, thread-safe holder of liveness, readiness and the start-up latch."""

    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self._clock = clock
        now = clock.time()
        self._lock = threading.Lock()
        self.liveness = AvailabilityState(True, "", now)
        self.readiness = AvailabilityState(True, "", now)
        self._passed_once: set[str] = set()
        self._started = False

    def set_live(self, live: bool, reason: str = "") -> None:
        """Say whether the app is alive, and why not (``health.set_live``)."""
        self.liveness = AvailabilityState(live, reason, self._clock.time())

    def set_ready(self, ready: bool, reason: str = "") -> None:
        """Say whether the app accepts traffic, and why not (``health.set_ready``, draining)."""
        self.readiness = AvailabilityState(ready, reason, self._clock.time())

    @property
    def started(self) -> bool:
        """True once every critical check has passed at least once; it never turns back."""
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
        """Latch start-up: from now on :attr:`started` is True for good."""
        self._started = True
