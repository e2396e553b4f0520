"""Status changes of checks and endpoints, and the answers endpoints give, for listeners.

A listener of :meth:`~flask_healthcheck.HealthCheck.on_change` hears of a *change* only (a
check or an endpoint going from passing to failing or back), never of every request, so it can
page someone or write a log line without flooding. Listeners of
:meth:`~flask_healthcheck.HealthCheck.on_answer` hear of every answer.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from . import process
from .endpoints import Endpoint

logger = logging.getLogger("flask_healthcheck")


@dataclass(frozen=True)
class StatusChange:
    """A check or an endpoint changed between passing and failing: what
    :meth:`~flask_healthcheck.HealthCheck.on_change` listeners receive.

    The change of a check is heard once, from the thread whose run made the new result; the
    change of an endpoint, from the request whose answer changed.
    """

    #: ``"check"``, ``"endpoint"``, or ``"fleet"``: a fleet-wide outage of a shared check
    #: started (``passed`` False) or ended (:mod:`~flask_healthcheck.fleet`).
    kind: Literal["check", "endpoint", "fleet"]
    #: The check's name; for an endpoint, an :class:`~flask_healthcheck.Endpoint` member
    #: (``REPORT``, ``LIVE``, ``READY`` or ``STARTUP``), which equals its value (``"ready"``).
    name: str
    #: Whether it passes now.
    passed: bool
    #: Whether it passed before; None on its first result.
    previous: bool | None
    #: The public message of the check, or the failing checks of the endpoint.
    output: str

    @property
    def endpoint(self) -> Endpoint | None:
        """The endpoint that changed, or None for a check."""
        return Endpoint(self.name) if self.kind == "endpoint" else None


#: An :meth:`~flask_healthcheck.HealthCheck.on_change` listener.
ChangeListener = Callable[[StatusChange], None]
#: An :meth:`~flask_healthcheck.HealthCheck.on_answer` listener: the endpoint and the status.
AnswerListener = Callable[[Endpoint, int], None]


_EVENTS: weakref.WeakSet[Events] = weakref.WeakSet()


def _forget_the_parents_lock() -> None:
    """In a forked child: a thread of the parent may have held the lock at the fork."""
    for events in list(_EVENTS):
        events._lock = threading.Lock()


process.after_fork_in_child(process.Stage.FORGET, _forget_the_parents_lock)


class Events:
    """The listeners of one extension, and the last status of each endpoint of one app."""

    def __init__(
        self, change_listeners: list[ChangeListener], answer_listeners: list[AnswerListener]
    ) -> None:
        self._change_listeners = change_listeners
        self._answer_listeners = answer_listeners
        self._endpoint_status: dict[tuple[Endpoint, str], bool] = {}
        self._lock = threading.Lock()
        _EVENTS.add(self)

    def changed(self, change: StatusChange) -> None:
        """Log *change* and tell every change listener.

        The change of an endpoint is logged at ``WARNING`` when it fails and ``INFO`` when it
        passes again; that of a check at ``DEBUG``, since the runner logs each check's
        failure and recovery itself, with the reason that only the log may show.
        """
        if change.kind == "check":
            log = logger.debug
        else:
            log = logger.info if change.passed else logger.warning
        before = {None: "unknown", True: "passing", False: "failing"}[change.previous]
        after = "passing" if change.passed else "failing"
        log(
            "%s %s changed from %s to %s: %s",
            change.kind,
            change.name,
            before,
            after,
            change.output,
        )
        for listener in self._change_listeners:
            try:
                listener(change)
            except Exception:
                logger.exception("a health check status-change listener failed")

    def answered(
        self,
        endpoint: Endpoint,
        status_code: int,
        passed: bool | None,
        output: Callable[[], str],
        *,
        selection: str = "",
    ) -> None:
        """Record an answer of *endpoint*; *passed* is None for an answer without a status of
        its own (an error, 400 or 404). *output* gives the change's output, and is called only
        when the status has changed. *selection* names the checks the request left out:
        answers for different selections change each on their own, so two probes that
        exclude different checks do not make every answer a change.
        """
        for listener in self._answer_listeners:
            try:
                listener(endpoint, status_code)
            except Exception:
                logger.exception("a health check answer listener failed")
        if passed is None:
            return
        key = (endpoint, selection)
        if self._endpoint_status.get(key) is passed:
            return  # no change, the common case: a dict read needs no lock
        with self._lock:
            previous = self._endpoint_status.get(key)
            self._endpoint_status[key] = passed
        if previous is not passed:
            self.changed(StatusChange("endpoint", endpoint, passed, previous, output()))
