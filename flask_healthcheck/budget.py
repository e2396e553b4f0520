"""The time a running check has left: built-in checks bound their client timeouts by it.

Free of Flask, so code that must not import Flask (the worker probe command's side of the
Celery integration) can use it too.
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .clock import Clock

#: When the running check is due, on the monotonic time of the clock that runs it.
_due: contextvars.ContextVar[tuple[float, Clock] | None] = contextvars.ContextVar(
    "_due", default=None
)


def time_left(default: float = 2.0) -> float:
    """Seconds the running check has left before it is reported timed out.

    Built-in checks use it for their client-level timeouts (connect, socket, statement), so a
    black-holed host frees the check's thread soon after the check is reported failed. Outside
    a run it returns *default*. Never less than 10 ms.
    """
    due = _due.get()
    if due is None:
        return default
    at, clock = due
    return max(0.01, at - clock.monotonic())


def start(due: float, clock: Clock) -> None:
    """Mark the start of a check's run in this thread: it is due at *due* on *clock*'s
    monotonic time."""
    _due.set((due, clock))
