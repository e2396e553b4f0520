"""The app's life in a server process: heartbeats, requests in flight, and draining on SIGTERM.

Seed 004's decision matrix is the specification: a deadlock (a heartbeat not fed, a request
running far too long) fails liveness and readiness; heavy load (too many requests in flight)
fails readiness only; on SIGTERM readiness turns to "draining" at once while liveness stays up,
so the load balancer stops sending traffic before the process exits.
"""

from __future__ import annotations

import itertools
import logging
import os
import signal
import threading
import time
from types import FrameType
from typing import Any

from .availability import Availability
from .config import Settings
from .registry import LIVE, READY
from .results import CheckResult

logger = logging.getLogger("flask_healthcheck")

SignalHandler = Any  # a callable, signal.SIG_DFL, signal.SIG_IGN or None


class Lifecycle:
    """Per-app heartbeats, requests in flight and the drain-on-SIGTERM handler."""

    def __init__(self, settings: Settings, availability: Availability) -> None:
        self._settings = settings
        self._availability = availability
        self._lock = threading.Lock()
        self._heartbeats: dict[str, tuple[float, float]] = {}  # name: (timeout, last feed)
        self._requests: dict[int, float] = {}  # token: start (time.monotonic())
        self._tokens = itertools.count()
        self.drain_installed = False

    # -- heartbeats -----------------------------------------------------------------------

    def heartbeat(self, name: str, timeout: float) -> None:
        self._heartbeats[name] = (timeout, time.monotonic())

    @property
    def tracks_requests(self) -> bool:
        return bool(self._settings.request_watchdog or self._settings.max_in_flight)

    def request_started(self) -> int:
        token = next(self._tokens)
        with self._lock:
            self._requests[token] = time.monotonic()
        return token

    def request_finished(self, token: int) -> None:
        with self._lock:
            self._requests.pop(token, None)

    def liveness_results(self) -> list[CheckResult]:
        """A result per heartbeat, and one for the request watchdog when it is on."""
        now = time.monotonic()
        results = []
        for name, (timeout, fed) in list(self._heartbeats.items()):
            age = now - fed
            if age <= timeout:
                output = f"fed {age:.1f} s ago"
            else:
                output = f"not fed for {age:.0f} s (timeout {timeout:g} s): stuck or deadlocked"
            results.append(CheckResult.synthetic(f"heartbeat:{name}", age <= timeout, output, LIVE))
        watchdog = self._settings.request_watchdog
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
            results.append(CheckResult.synthetic("requests", passed, output, LIVE))
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
            "load", passed, output if passed else f"overloaded: {output}", READY
        )

    # -- draining on SIGTERM ----------------------------------------------------------------

    def install_drain_handler(self) -> None:
        """Turn readiness to "draining" on SIGTERM, then, after the drain period, exit.

        The handler chains the one installed before it (gunicorn's worker handler, for
        instance), calling it once the drain period has passed, from a timer thread so that
        the process keeps serving meanwhile. Must be called from the main thread.
        """
        seconds = self._settings.drain_seconds
        previous: SignalHandler = signal.getsignal(signal.SIGTERM)
        availability = self._availability

        def finish(signum: int, frame: FrameType | None) -> None:
            if callable(previous):
                previous(signum, frame)
            elif previous == signal.SIG_IGN:
                return
            else:  # the default action: terminate
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                os.kill(os.getpid(), signal.SIGTERM)

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            if availability.readiness.reason == "draining":
                return  # a second SIGTERM while draining changes nothing
            availability.set_ready(False, "draining")
            logger.info(
                "SIGTERM: readiness is 'draining' for %g s, then the process exits", seconds
            )
            timer = threading.Timer(seconds, finish, args=(signum, None))
            timer.daemon = True
            timer.start()

        signal.signal(signal.SIGTERM, on_sigterm)
        self.drain_installed = True
