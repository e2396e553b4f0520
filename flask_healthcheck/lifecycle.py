"""The app's life in a server process: heartbeats, requests in flight, and draining on SIGTERM.

The decision matrix in docs/lifecycle.rst is the specification: a deadlock (a heartbeat not
fed, a request running far too long) fails liveness and readiness; heavy load (too many
requests in flight) fails readiness only; on SIGTERM readiness turns to "draining" at once
while liveness stays up, so the load balancer stops sending traffic before the process exits.
Requests are counted by :class:`~flask_healthcheck.middleware.RequestTracker`.

A process forked from one that loaded the app (``multiprocessing``, gunicorn ``--preload``)
starts afresh (:mod:`~flask_healthcheck.process` calls it): new locks, no request in flight
(those ran in the parent's threads, which the child does not have), and no drain in progress
(the SIGTERM was the parent's, and the timer that would end the drain is the parent's thread).
Heartbeats are kept: a loop the app runs in the parent must be started again in the child,
or liveness fails there, which is what a heartbeat is for.
"""

from __future__ import annotations

import itertools
import logging
import os
import signal
import threading
import weakref
from types import FrameType
from typing import Any, Literal

from . import process
from .availability import Availability, AvailabilityState
from .clock import SYSTEM_CLOCK, Clock
from .config import Settings
from .registry import LIVE, READY
from .results import CheckResult

logger = logging.getLogger("flask_healthcheck")

SignalHandler = Any  # a callable, signal.SIG_DFL, signal.SIG_IGN or None


DrainStage = Literal["serving", "draining", "drained"]

_LIFECYCLES: weakref.WeakSet[Lifecycle] = weakref.WeakSet()


def _forget_the_parents_life() -> None:
    for lifecycle in list(_LIFECYCLES):
        lifecycle._after_fork()


process.after_fork_in_child(process.Stage.FORGET, _forget_the_parents_life)


class Lifecycle:
    """Per-app heartbeats, requests in flight and the drain-on-SIGTERM handler."""

    def __init__(
        self, settings: Settings, availability: Availability, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self._settings = settings
        self._availability = availability
        self._clock = clock
        self._lock = threading.Lock()
        self._heartbeats: dict[str, tuple[float, float]] = {}  # name: (timeout, last feed)
        self._requests: dict[int, float] = {}  # token: start (the clock's monotonic())
        self._tokens = itertools.count()
        self.drain_installed = False
        self._drain_handler: SignalHandler = None
        self._drain_stage: DrainStage = "serving"
        #: Readiness as it was when the drain began, for a forked child to go back to.
        self._readiness_before_drain: AvailabilityState | None = None
        _LIFECYCLES.add(self)

    # -- heartbeats -----------------------------------------------------------------------

    def heartbeat(self, name: str, timeout: float) -> None:
        """Feed watchdog *name*; liveness fails once it goes *timeout* seconds unfed."""
        self._heartbeats[name] = (timeout, self._clock.monotonic())

    # -- requests in flight -----------------------------------------------------------------

    @property
    def tracks_requests(self) -> bool:
        """True when the request watchdog or the load limit is on: requests must be counted."""
        return bool(self._settings.request_watchdog or self._settings.max_in_flight)

    def request_started(self) -> int:
        """Count a request in; the token returned counts it out (:meth:`request_finished`)."""
        token = next(self._tokens)
        with self._lock:
            self._requests[token] = self._clock.monotonic()
        return token

    def request_finished(self, token: int) -> None:
        """Count out the request *token* stands for."""
        with self._lock:
            self._requests.pop(token, None)

    def liveness_results(self) -> list[CheckResult]:
        """A result per heartbeat, and one for the request watchdog when it is on."""
        watchdog = self._settings.request_watchdog
        if not self._heartbeats and not watchdog:
            return []  # the common case, on every liveness probe
        now = self._clock.monotonic()
        stamp = self._clock.time()
        results = []
        for name, (timeout, fed) in list(self._heartbeats.items()):
            age = now - fed
            if age <= timeout:
                output = f"fed {age:.1f} s ago"
            else:
                output = f"not fed for {age:.0f} s (timeout {timeout:g} s): stuck or deadlocked"
            results.append(
                CheckResult.synthetic(f"heartbeat:{name}", age <= timeout, output, LIVE, stamp)
            )
        if watchdog:
            with self._lock:
                oldest = min(self._requests.values(), default=now)
            age = now - oldest
            passed = age <= watchdog
            output = (
                "no request has run too long"
                if passed
                else f"a request has been running for {age:.0f} s (watchdog {watchdog:g} s): "
                "stuck or deadlocked"
            )
            results.append(CheckResult.synthetic("requests", passed, output, LIVE, stamp))
        return results

    def load_result(self) -> CheckResult | None:
        """Readiness under heavy load: fails while more requests are in flight than allowed."""
        limit = self._settings.max_in_flight
        if not limit:
            return None
        with self._lock:
            in_flight = len(self._requests)
        passed = in_flight <= limit
        output = f"{in_flight} requests in flight (limit {limit})"
        return CheckResult.synthetic(
            "load", passed, output if passed else f"overloaded: {output}", READY, self._clock.time()
        )

    # -- draining on SIGTERM ----------------------------------------------------------------

    def install_drain_handler(self) -> None:
        """Turn readiness to "draining" on SIGTERM, then, after the drain period, exit.

        The handler chains the one installed before it (gunicorn's worker handler, or the
        default action). When the drain period is over, a timer thread signals the main thread
        again and the handler hands that signal to the previous one: handlers belong in the
        main thread (``signal.signal`` works nowhere else, and gunicorn's sync worker notices
        its handler's flag only when a signal wakes its ``select``). The process keeps serving
        meanwhile. Installing it again changes nothing. Must be called from the main thread.
        """
        if self._drain_handler is not None and (
            signal.getsignal(signal.SIGTERM) is self._drain_handler
        ):
            return
        seconds = self._settings.drain_seconds
        previous: SignalHandler = signal.getsignal(signal.SIGTERM)
        availability = self._availability
        self._drain_stage = "serving"

        def end_drain(signum: int) -> None:
            self._drain_stage = "drained"
            _signal_main_thread(signum)

        def hand_over(signum: int, frame: FrameType | None) -> None:
            restored = previous if callable(previous) or previous == signal.SIG_IGN else None
            signal.signal(signal.SIGTERM, restored or signal.SIG_DFL)
            if callable(previous):
                previous(signum, frame)
            elif restored is None:  # the default action: terminate
                os.kill(os.getpid(), signum)

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            if self._drain_stage == "drained":
                hand_over(signum, frame)
                return
            if self._drain_stage == "draining":
                return  # a second SIGTERM while draining changes nothing
            self._drain_stage = "draining"
            self._readiness_before_drain = availability.readiness
            availability.set_ready(False, "draining")
            logger.info(
                "SIGTERM: readiness is 'draining' for %g s, then the process exits", seconds
            )
            timer = threading.Timer(seconds, end_drain, args=(signum,))
            timer.daemon = True
            timer.start()

        signal.signal(signal.SIGTERM, on_sigterm)
        self._drain_handler = on_sigterm
        self.drain_installed = True

    # -- in a forked child ------------------------------------------------------------------

    def _after_fork(self) -> None:
        """Start afresh in a forked child (see the module's docs)."""
        self._lock = threading.Lock()
        self._requests = {}
        if self._drain_stage != "serving":
            self._drain_stage = "serving"
            readiness = self._availability.readiness
            before = self._readiness_before_drain
            if before is not None and not readiness.available and readiness.reason == "draining":
                self._availability.readiness = before


def _signal_main_thread(signum: int) -> None:
    """Send *signum* to the main thread, whose blocking call it interrupts, where possible."""
    main = threading.main_thread().ident
    if hasattr(signal, "pthread_kill") and main is not None:
        signal.pthread_kill(main, signum)
    else:
        os.kill(os.getpid(), signum)
