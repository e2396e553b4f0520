"""Time as a dependency: what the runner, the scheduler, the lifecycle and availability read.

Code that expires, waits or counts takes a :class:`Clock` instead of calling :mod:`time`
itself, so its logic can be tested with a :class:`ManualClock` that moves only when the test
moves it, the way Go's ``alexliesenfeld/health`` and Trio's ``MockClock`` do.
``HealthCheck(clock=...)`` hands one clock to everything of an extension.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """The time sources the library reads, and the one way it waits."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back, for durations and expiry."""

    def time(self) -> float:
        """Epoch seconds, for the timestamps reports show."""

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Wait until *event* is set or *seconds* have passed on this clock; True if set."""


class SystemClock:
    """The real clock: :func:`time.monotonic`, :func:`time.time` and ``Event.wait``."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return event.wait(max(0.0, seconds))

    def __repr__(self) -> str:
        return "SystemClock()"


#: The clock an extension uses unless it is given another.
SYSTEM_CLOCK: Clock = SystemClock()


class ManualClock:
    """A clock for tests that moves only when :meth:`advance` moves it.

    :meth:`wait` returns when the event is set or when the clock has been advanced past the
    wait's end, whichever comes first, so a thread that naps until a check is due wakes
    as soon as a test advances the clock that far, and never by itself.
    """

    def __init__(self, start: float = 1_000_000.0, epoch: float = 1_700_000_000.0) -> None:
        self._now = start
        self._epoch_offset = epoch - start
        self._moved = threading.Condition()

    def monotonic(self) -> float:
        return self._now

    def time(self) -> float:
        return self._now + self._epoch_offset

    def advance(self, seconds: float) -> None:
        """Move the clock forward by *seconds* and wake the waits that have ended."""
        if seconds < 0:
            raise ValueError("a clock cannot go back")
        with self._moved:
            self._now += seconds
            self._moved.notify_all()

    def wait(self, event: threading.Event, seconds: float) -> bool:
        end = self._now + max(0.0, seconds)
        while not event.is_set():
            with self._moved:
                if self._now >= end:
                    return event.is_set()
                # The event has no way to notify this condition: look at it again soon.
                self._moved.wait(0.01)
        return True

    def __repr__(self) -> str:
        return f"ManualClock(monotonic={self._now!r})"
