"""Status changes of checks and endpoints, and the answers endpoints give, for listeners.

A listener hears of a *change* only (a check or an endpoint going from passing to failing or
back), never of every request, so it can page someone or write a log line without flooding.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

logger = logging.getLogger("flask_healthcheck")


@dataclass(frozen=True)
class StatusChange:
    """A check or an endpoint changed between passing and failing.

    ``kind`` is ``"check"`` or ``"endpoint"``; ``name`` the check's name or the endpoint's
    (``report``, ``live``, ``ready``, ``startup``); ``previous`` is None on its first result.
    ``output`` is the public message of the check, or the failing checks of the endpoint.
    """

    kind: Literal["check", "endpoint"]
    name: str
    passed: bool
    previous: bool | None
    output: str


ChangeListener = Callable[[StatusChange], None]
AnswerListener = Callable[[str, int], None]


class Events:
    """The listeners of one extension, and the last status of each endpoint of one app."""

    def __init__(
        self, change_listeners: list[ChangeListener], answer_listeners: list[AnswerListener]
    ) -> None:
        self._change_listeners = change_listeners
        self._answer_listeners = answer_listeners
        self._endpoint_status: dict[tuple[str, str], bool] = {}
        self._lock = threading.Lock()

    def changed(self, change: StatusChange) -> None:
        """Log *change* and tell every change listener."""
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
        endpoint: str,
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
