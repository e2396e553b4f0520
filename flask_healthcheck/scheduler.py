"""Background work of one app in one process: background checks, and getting through start-up.

The scheduler is a thread per app and process that starts checks registered with ``period``.
When the workers of a pre-fork server share their results, one scheduler runs them for the
whole server: the one whose process holds the server's scheduler role
(:class:`~flask_healthcheck.shared.Role`). The others look at the role once a second (or at
the shortest period, if shorter) and take it over when its holder dies, starting each check
when it is due by the time of its last result in the server's records.

Nothing of this runs in the master of a pre-fork server that loads the app (``gunicorn
--preload``): it serves no requests and would go on running checks, and holding their
connections, beside its workers. The threads start in each worker right after the fork.

Requests read a background check's latest result and never wait for it. The runner fails a
result older than its maximum age ("stale"), so a healthy answer cannot outlive the facts behind
it even when this thread has died. A dead scheduler is restarted by the next request rather than
failing liveness: it is the library's thread, not the app's, and restarting the whole pod for it
would be out of proportion, while stale results keep readiness honest in the meantime.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable, Iterable

from flask import Flask

from . import process
from .registry import CheckSpec
from .results import CheckResult
from .runner import Runner
from .shared import Role

logger = logging.getLogger("flask_healthcheck")

#: Longest sleep between two looks at the schedule, so new checks are picked up quickly.
_MAX_NAP = 1.0


_THREADS: weakref.WeakSet[_ProcessThread] = weakref.WeakSet()


def _forget_the_parents_locks() -> None:
    for thread in list(_THREADS):
        # Another thread may have held them (an Event holds a lock inside) at the fork.
        thread._lock = threading.Lock()
        thread.stopping = threading.Event()
        if isinstance(thread, Scheduler):
            thread._wake = threading.Event()


def _restart_after_fork() -> None:
    for thread in list(_THREADS):
        thread._after_fork()


process.after_fork_in_child(process.Stage.FORGET, _forget_the_parents_locks)
process.after_fork_in_child(process.Stage.RESTART, _restart_after_fork)


class _ProcessThread:
    """A daemon thread of one app in one process, started on demand and again after a fork
    (:mod:`~flask_healthcheck.process` calls :meth:`_after_fork` in the child)."""

    name = "healthcheck"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: Set to end the thread's loop at its next look (tests, and an app that goes away).
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._app: weakref.ref[Flask] | None = None
        #: True once something asked for the thread, so that a forked child starts it too.
        self._wanted = False
        _THREADS.add(self)

    @property
    def alive(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive() and self._pid == os.getpid()

    def ensure_running(self, app: Flask) -> None:
        """Start the thread, or restart it if it died or the process has forked since."""
        if self.alive:
            return
        with self._lock:
            if self.alive:
                return
            self._wanted = True
            self._app = weakref.ref(app)
            if process.in_prefork_master():
                return  # the workers start it after the fork (see the module's docs)
            if self._thread is not None and self._pid == os.getpid():
                self._restarting()
            self._pid = os.getpid()
            self._thread = threading.Thread(
                target=self._run, args=(self._app,), name=self.name, daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """End the thread at its next look (its naps on the clock end at once)."""
        self.stopping.set()

    def _after_fork(self) -> None:
        """In a forked child, start again at once what ran in the parent (gunicorn workers
        forked from a ``--preload`` master), rather than at the child's first request."""
        app = self._app() if self._app is not None else None
        if app is not None and self._wanted:
            self.ensure_running(app)

    def _restarting(self) -> None:
        logger.error("the %s thread had stopped; restarting it", self.name)

    def _run(self, app_ref: weakref.ref[Flask]) -> None:
        try:
            self._loop(app_ref)
        except BaseException:
            # Into the app's log rather than only stderr; the next request restarts the thread.
            logger.exception("the %s thread stopped on an error", self.name)
            raise

    def _loop(self, app_ref: weakref.ref[Flask]) -> None:
        raise NotImplementedError


class StartUp(_ProcessThread):
    """Takes a process through its start-up: runs the checks that have not passed yet, again
    and again, until every critical one has passed once.

    Started by the first request to a gated endpoint, so that every process (each gunicorn
    worker, a recycled one too) finishes starting by itself within a check's timeout, without
    waiting for a readiness probe to happen to reach it, and liveness never waits for a check.

    *pending* gives the checks that have not passed yet and *note_passes* records results and
    says whether the app has started (the app's
    :meth:`~flask_healthcheck.state.AppState.pending_checks` and
    :meth:`~flask_healthcheck.state.AppState.record_passes`); *pace* is the pause in seconds
    between two rounds.
    """

    name = "healthcheck-startup"

    def __init__(
        self,
        runner: Runner,
        pending: Callable[[], list[CheckSpec]],
        note_passes: Callable[[Iterable[CheckResult]], bool],
        pace: float,
    ) -> None:
        super().__init__()
        self._runner = runner
        self._pending = pending
        self._note_passes = note_passes
        self._pace = pace

    def _loop(self, app_ref: weakref.ref[Flask]) -> None:
        while True:
            app = app_ref()
            if app is None:
                return
            pending = self._pending()
            started = self._note_passes(self._runner.run(app, pending) if pending else [])
            del app
            if started:
                return
            self._runner.clock.wait(self.stopping, self._pace)
            if self.stopping.is_set():
                return


class Scheduler(_ProcessThread):
    """Starts background checks when they are due and fails their runs past the timeout."""

    name = "healthcheck-scheduler"

    def __init__(
        self, runner: Runner, specs: Callable[[], Iterable[CheckSpec]], role: Role | None = None
    ) -> None:
        super().__init__()
        self._runner = runner
        self._specs = specs
        self._wake = threading.Event()
        #: The server's scheduler role, when the workers of a server share their results.
        self.role = role

    def wake(self) -> None:
        """Look at the schedule now (a background check was just registered)."""
        self._wake.set()

    def stop(self) -> None:
        super().stop()
        self._wake.set()

    def _loop(self, app_ref: weakref.ref[Flask]) -> None:
        next_start: dict[str, float] = {}
        clock = self._runner.clock
        holding = self.role is None
        while not self.stopping.is_set():
            app = app_ref()
            if app is None:
                return
            now = clock.monotonic()
            wake_at = now + _MAX_NAP
            if not holding:
                specs = [spec for spec in self._specs() if spec.period is not None]
                if not self._take_role():
                    del app
                    periods = [spec.period for spec in specs if spec.period is not None]
                    clock.wait(self._wake, min([_MAX_NAP, *periods]))
                    self._wake.clear()
                    continue
                holding = True
                next_start = self._resume(specs)
            for spec in self._specs():
                if spec.period is None:
                    continue
                due = self._runner.enforce_timeout(spec)
                start_at = next_start.get(spec.name, now)
                if now >= start_at:
                    self._runner.start_if_idle(app, spec)
                    start_at = next_start[spec.name] = now + spec.period
                    due = due or now + self._runner.timeout_of(spec)
                wake_at = min(wake_at, start_at, due if due is not None else wake_at)
            del app
            # No nap at all once something is due: a minimum nap would never end on a clock
            # that a test moves only by hand, and wake_at is after now except in a race with
            # the clock, so this does not spin.
            nap = wake_at - clock.monotonic()
            if nap > 0:
                clock.wait(self._wake, nap)
            self._wake.clear()

    def _take_role(self) -> bool:
        assert self.role is not None
        try:
            return self.role.try_take()
        except OSError:
            logger.exception("the scheduler role could not be taken; trying again")
            return False

    def _resume(self, specs: list[CheckSpec]) -> dict[str, float]:
        """When each background check is due, by its last result in the server's records: a
        worker that takes the role over goes on where the one before it stopped."""
        runner = self._runner
        clock = runner.clock
        now, wall = clock.monotonic(), clock.time()
        due: dict[str, float] = {}
        for spec in specs:
            record = runner.shared.read(spec.name) if runner.shared is not None else None
            if record is not None and record.result is not None and spec.period is not None:
                started = record.result.timestamp - record.result.response_time
                due[spec.name] = now + max(0.0, started + spec.period - wall)
        return due
