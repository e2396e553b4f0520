"""Running checks: concurrently, within deadlines, cached, and at most one run per check at a time.

Each run of a check gets its own daemon thread. Every request that needs a run waits only until
the run's timeout or the request's deadline, whichever comes first. A run still going at its
timeout is *abandoned*: the check is failed "timed out", and once that result has expired the
next run starts without waiting for the abandoned one, so a check recovers as soon as its
dependency does. At most one abandoned run per check is kept: while it has not returned and the
run after it is past its timeout too, no third run starts, so a check that never returns costs
at most two threads. A run that finishes after its timeout is discarded. No signals are used,
so this works in any thread of any server.

With a :class:`~flask_healthcheck.store.SharedResults` (the workers of a pre-fork server), the
runner's cache sits in front of the server's records: a result another worker stored is used
while fresh, and a run takes the check's lease first, so that one worker runs it per TTL for
the whole server while the others wait for its result (:mod:`~flask_healthcheck.store`).
Listeners hear of a result in the worker that produced it only.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from flask import Flask

from . import budget, process
from .clock import SYSTEM_CLOCK, Clock
from .config import Settings
from .exceptions import CheckError
from .history import Entry, entry_of, extended, samples_of
from .redact import mask_credentials
from .registry import CheckSpec
from .results import CheckResult, Outcome, Sample, interpret, shown_detail, shown_output
from .store import Lease, Record, SharedResults
from .verdict import Streak, stale, tolerate

logger = logging.getLogger("flask_healthcheck")


@dataclass(frozen=True)
class Transition:
    """A check's result, with the result before it and the exception the check raised, if any."""

    spec: CheckSpec
    result: CheckResult
    previous: CheckResult | None
    exception: BaseException | None = None
    #: True when the check raised a :class:`~flask_healthcheck.CheckError`, whose message says
    #: what failed: *exception* is then its cause, if it had one.
    explained: bool = False
    #: False when this process made the result without calling the check: a passing result of
    #: a background check went stale, or the fleet lent another server's result. A listener
    #: that measures runs (a span, a duration) skips these.
    called: bool = True
    #: True when the result is the check's timeout: the run was still going at it.
    timed_out: bool = False

    @property
    def started_failing(self) -> bool:
        """True when the check failed and had not been failing before (or had never run)."""
        return not self.result.passed and (self.previous is None or self.previous.passed)


ResultListener = Callable[[Transition], None]


class RunGate(Protocol):
    """Decides whether this server calls a check with ``fleet_ttl`` or takes the result that
    another server of the fleet had (:class:`~flask_healthcheck.fleet.Fleet`)."""

    def adopt(self, spec: CheckSpec, due: float) -> Outcome | None:
        """The outcome to take instead of calling *spec*, or None to call it; may wait for
        another server's run until *due* (the clock's ``monotonic()``)."""

    def ran(self, spec: CheckSpec, result: CheckResult) -> None:
        """*spec* was called here and gave *result*: the fleet takes it."""


#: Called with a check's name, its runs abandoned so far and how many of them are still hung.
AbandonListener = Callable[[str, int, int], None]


@dataclass
class _Run:
    """One execution of a check, shared by every request that waits for it."""

    spec: CheckSpec
    started: float  # the clock's monotonic()
    done: threading.Event = field(default_factory=threading.Event)
    result: CheckResult | None = None
    timed_out: bool = False
    #: True once a request has logged that its deadline cut this run: later ones log at DEBUG.
    cut_by_deadline: bool = False
    #: The server-wide lease this run holds (shared results only).
    lease: Lease | None = None


@dataclass
class _Slot:
    """Everything the runner keeps about one check in one app."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    #: The cached result and until when it is fresh (the clock's ``monotonic()``). The pair is
    #: only ever replaced whole, under the lock, so a request reads a fresh one without the lock.
    cached: tuple[CheckResult, float] | None = None
    in_flight: _Run | None = None
    #: A run past its timeout that has not returned, which the next run did not wait for.
    abandoned: _Run | None = None
    #: Runs abandoned since the process started.
    abandoned_total: int = 0
    last: CheckResult | None = None
    streak: Streak = field(default_factory=Streak)
    #: The check's recent runs, when the workers share nothing (else the server's record).
    history: tuple[Entry, ...] = ()


async def _await(awaitable: Any) -> Any:
    return await awaitable


_RUNNERS: weakref.WeakSet[Runner] = weakref.WeakSet()

#: Seconds between two looks at the server's record while another worker runs the check.
_POLL = 0.005
#: Seconds a background check's record is not read again after a read found it not yet
#: renewed (its holder is running it), so a request reads the file at most this often.
_REREAD = 0.05


def _forget_the_parents_runs() -> None:
    """In a process just forked (gunicorn ``--preload``): the threads of runs in flight and any
    lock they held stayed behind in the parent. Without this, the child would wait on runs
    that can never finish, and report their checks timed out for ever."""
    for runner in list(_RUNNERS):
        runner._slots_lock = threading.Lock()
        for slot in list(runner._slots.values()):
            slot.lock = threading.Lock()
            slot.in_flight = slot.abandoned = None


process.after_fork_in_child(process.Stage.FORGET, _forget_the_parents_runs)


class Runner:
    """Runs the checks of one app and keeps their latest results.

    *listeners* are called once for each new result (not for each request served from the
    cache), from the thread that produced it; the extension logs and reports to Sentry there.
    Every expiry, deadline and timestamp is read from *clock*.
    """

    def __init__(
        self,
        settings: Settings,
        listeners: Sequence[ResultListener] = (),
        clock: Clock = SYSTEM_CLOCK,
        shared: SharedResults | None = None,
    ) -> None:
        self._settings = settings
        self._listeners = list(listeners)
        self.clock = clock
        #: The server's records, when the workers of a server share their results.
        self.shared = shared
        #: The fleet's say on checks with ``fleet_ttl``; None: this server calls them.
        self.gate: RunGate | None = None
        self._abandon_listeners: list[AbandonListener] = []
        self._slots: dict[str, _Slot] = {}
        self._slots_lock = threading.Lock()
        _RUNNERS.add(self)

    def add_listener(self, listener: ResultListener) -> None:
        """Call *listener* with the :class:`Transition` of every new result."""
        self._listeners.append(listener)

    def add_abandon_listener(self, listener: AbandonListener) -> None:
        """Call *listener* when a run is abandoned past its timeout and when one returns."""
        self._abandon_listeners.append(listener)

    def _abandon_changed(self, name: str, slot: _Slot) -> None:
        hung = int(slot.abandoned is not None)
        for listener in self._abandon_listeners:
            try:
                listener(name, slot.abandoned_total, hung)
            except Exception:
                logger.exception("a health check abandon listener failed")

    def timeout_of(self, spec: CheckSpec) -> float:
        """Seconds *spec* may run: its own ``timeout``, else the app's."""
        return spec.timeout if spec.timeout is not None else self._settings.timeout

    def settle_time(self, spec: CheckSpec) -> float:
        """Seconds within which a server that is probed runs *spec* again: its period or
        longest TTL, plus its timeout. The fleet waits this long before it judges a failure."""
        return max(self._ttl_of(spec, True), self._ttl_of(spec, False)) + self.timeout_of(spec)

    def _ttl_of(self, spec: CheckSpec, passed: bool) -> float:
        if spec.period is not None:
            return spec.period  # the next result is due then
        ttl = spec.success_ttl if passed else spec.failed_ttl
        if ttl is None:
            ttl = self._settings.success_ttl if passed else self._settings.failed_ttl
        return ttl

    def _slot(self, name: str) -> _Slot:
        slot = self._slots.get(name)
        if slot is None:
            with self._slots_lock:
                slot = self._slots.setdefault(name, _Slot())
        return slot

    def in_flight_count(self) -> int:
        """How many check runs are executing now (hung and abandoned ones included)."""
        return sum(
            (slot.in_flight is not None) + (slot.abandoned is not None)
            for slot in list(self._slots.values())
        )

    def abandoned(self) -> dict[str, tuple[int, int]]:
        """Per check: runs abandoned past their timeout that have not returned yet (0 or 1),
        and runs abandoned since the process started."""
        return {
            name: (int(slot.abandoned is not None), slot.abandoned_total)
            for name, slot in list(self._slots.items())
            if slot.abandoned_total
        }

    def run(
        self,
        app: Flask,
        specs: Iterable[CheckSpec],
        lookup: Callable[[str], CheckSpec] | None = None,
    ) -> list[CheckResult]:
        """Results for *specs*, in order, fresh from the cache or run now within the deadline.

        A check with ``depends_on`` runs once its dependencies have answered, and not at all
        while one of them fails (:meth:`not_run`). *lookup* finds a dependency that *specs*
        leave out, which is then run (or read) without being returned.
        """
        specs = list(specs)
        deadline = self.clock.monotonic() + self._settings.deadline
        if not any(spec.depends_on for spec in specs):
            found = self._run_together(app, specs, deadline)
            return [found[spec.name] for spec in specs]
        found = {}
        remaining = _with_dependencies(specs, lookup)
        while remaining:
            # A level: the checks whose dependencies have all answered (all of them, should
            # a cycle have slipped past the registry, so that nothing waits for ever).
            level = [spec for spec in remaining if all(d in found for d in spec.depends_on)]
            level = level or remaining
            runnable = []
            for spec in level:
                cause = _failing_dependency(spec, found)
                if cause is None:
                    runnable.append(spec)
                else:
                    found[spec.name] = self.not_run(spec, cause, found)
            found.update(self._run_together(app, runnable, deadline))
            remaining = [spec for spec in remaining if spec.name not in found]
        return [found[spec.name] for spec in specs]

    def not_run(
        self, spec: CheckSpec, dependency: str, found: dict[str, CheckResult]
    ) -> CheckResult:
        """The result of *spec*, not called because *dependency* fails: it names the root
        cause (the first failing check down the chain), is never stored as the check's own,
        and no listener hears of it, so only the root cause is logged and alerted."""
        failing = found[dependency]
        root = failing.cause or dependency
        now = self.clock.time()
        return CheckResult(
            name=spec.name,
            passed=False,
            output=f"not run: {root} is failing",
            timestamp=now,
            expires=max(now, failing.expires),
            response_time=0.0,
            critical=spec.critical,
            tags=spec.tags,
            cause=root,
        )

    def _run_together(
        self, app: Flask, specs: list[CheckSpec], deadline: float
    ) -> dict[str, CheckResult]:
        """Results of *specs*, which do not wait for each other, by name."""
        clock = self.clock
        results: dict[str, CheckResult] = {}
        waiting: list[tuple[CheckSpec, _Run]] = []
        for spec in specs:
            slot = self._slot(spec.name)
            if spec.period is not None:
                results[spec.name] = self._latest(spec, slot)
                continue
            cached = slot.cached
            if cached is not None and clock.monotonic() < cached[1]:
                results[spec.name] = cached[0]  # the common case: fresh, no lock taken
                continue
            if self.shared is not None and slot.in_flight is None:
                adopted = self._adopt_fresh(spec, slot)
                if adopted is not None:
                    results[spec.name] = adopted
                    continue
            with slot.lock:
                now = clock.monotonic()
                cached = slot.cached
                if cached is not None and now < cached[1]:
                    results[spec.name] = cached[0]
                    continue
                run = self._begin(app, spec, slot, now)
            waiting.append((spec, run))
        for spec, run in waiting:
            results[spec.name] = self._wait(spec, run, deadline)
        return results

    def _begin(self, app: Flask, spec: CheckSpec, slot: _Slot, now: float) -> _Run:
        """The run of *spec* to wait for: the one in flight, or a new one (the caller holds the
        slot's lock). A run in flight past its timeout is abandoned for a new one, unless the
        check already has an abandoned run that has not returned."""
        run = slot.in_flight
        if run is not None and now >= run.started + self.timeout_of(spec) and not slot.abandoned:
            slot.abandoned = run
            slot.abandoned_total += 1
            logger.info(
                "check %s: its run has not returned %.1f s after it started; the next run "
                "starts without waiting for it",
                spec.name,
                now - run.started,
            )
            self._abandon_changed(spec.name, slot)
            run = None
        if run is None:
            run = slot.in_flight = _Run(spec=spec, started=now)
            self._start(app, run, slot)
        return run

    def _adopt_fresh(self, spec: CheckSpec, slot: _Slot) -> CheckResult | None:
        """The server's fresh result of *spec*, taken into this process's cache, or None."""
        assert self.shared is not None
        record = self.shared.read(spec.name)
        if record is None or not record.fresh_at(self.clock.time()):
            return None
        with slot.lock:
            return self._take(slot, record)

    def _take(self, slot: _Slot, record: Record, floor: float = 0.0) -> CheckResult:
        """Take the server's *record* as this process's latest (the caller holds the slot's
        lock); cached until the record's freshness ends, or at least *floor* seconds."""
        assert record.result is not None
        clock = self.clock
        slot.last = record.result
        slot.streak = record.streak
        left = max(record.fresh_until - clock.time(), floor)
        slot.cached = (record.result, clock.monotonic() + left)
        return record.result

    def _latest(self, spec: CheckSpec, slot: _Slot) -> CheckResult:
        """The latest result of a background check, failed when there is none or it is stale."""
        assert spec.period is not None
        if self.shared is not None:
            cached = slot.cached
            if cached is None or self.clock.monotonic() >= cached[1]:
                record = self.shared.read(spec.name)
                if record is not None and record.result is not None:
                    with slot.lock:
                        self._take(slot, record, floor=_REREAD)
        result = slot.last
        if result is None:
            message = f"unknown: no result yet (it runs every {spec.period:g} s in the background)"
            return self._make_result(spec, Outcome(False, message), 0.0, ttl=0.0)
        expired = stale(result, self.clock.time(), self.max_age_of(spec))
        if expired is None:
            return result
        if not result.passed:
            return expired
        # A passing result going stale is a transition: keep it, so that listeners hear of it
        # once and the next fresh result is a recovery.
        with slot.lock:
            if slot.last is not result:
                return expired  # a fresh result has just come; the next request reads it
            slot.last = expired
            slot.cached = (expired, slot.cached[1] if slot.cached is not None else 0.0)
        if self.shared is not None and not self._share_stale(spec, result, expired):
            return expired  # another worker has recorded it (and told its listeners)
        self._notify(Transition(spec, expired, result, called=False))
        return expired

    def _share_stale(self, spec: CheckSpec, result: CheckResult, expired: CheckResult) -> bool:
        """Record in the server's record that *result* went stale; False when another worker
        has (or a fresher result has come)."""
        assert self.shared is not None

        def mark(record: Record) -> Record | None:
            if record.result is None or record.result.timestamp != result.timestamp:
                return None
            if not record.result.passed:
                return None
            return dataclasses.replace(record, result=expired)

        _, changed = self.shared.update(spec.name, mark)
        return changed

    def has_result(self, name: str) -> bool:
        """True once check *name* has a result (a background check's first run has ended)."""
        slot = self._slots.get(name)
        if slot is not None and slot.last is not None:
            return True
        if self.shared is not None:
            record = self.shared.read(name)
            return record is not None and record.result is not None
        return False

    def max_age_of(self, spec: CheckSpec) -> float:
        """How old a background check's result may be before it is reported stale."""
        if spec.max_age is not None:
            return spec.max_age
        return 2 * (spec.period or 0.0) + self.timeout_of(spec)

    def history(self, name: str) -> tuple[Sample, ...]:
        """The recent runs of check *name*, oldest first (this server's, when shared)."""
        if self.shared is not None:
            record = self.shared.read(name)
            return () if record is None else samples_of(record.history)
        slot = self._slots.get(name)
        return () if slot is None else samples_of(slot.history)

    def latest(self, name: str) -> CheckResult | None:
        """The latest reported result of check *name* (this server's, when shared), or None."""
        slot = self._slots.get(name)
        if slot is not None and slot.last is not None:
            return slot.last
        if self.shared is not None:
            record = self.shared.read(name)
            return None if record is None else record.result
        return None

    def start_if_idle(self, app: Flask, spec: CheckSpec) -> None:
        """Start a run of *spec* unless one is in flight, or one of its dependencies fails;
        don't wait for it (background use)."""
        for dependency in spec.depends_on:
            latest = self.latest(dependency)
            if latest is not None and not latest.passed:
                return
        slot = self._slot(spec.name)
        with slot.lock:
            run = slot.in_flight
            if run is None or run.timed_out:
                self._begin(app, spec, slot, self.clock.monotonic())

    def enforce_timeout(self, spec: CheckSpec) -> float | None:
        """Fail a run nobody waits for once it is past its timeout (background use).

        Returns when (the clock's ``monotonic()``) the run in flight will be due, or None.
        """
        run = self._slot(spec.name).in_flight
        if run is None or run.timed_out or run.result is not None:
            return None
        timeout = self.timeout_of(spec)
        due = run.started + timeout
        if self.clock.monotonic() < due:
            return due
        self._record_timeout(spec, run, timeout)
        return None

    def _start(self, app: Flask, run: _Run, slot: _Slot) -> None:
        thread = threading.Thread(
            target=self._execute,
            args=(app, run, slot),
            name=f"healthcheck:{run.spec.name}",
            daemon=True,
        )
        thread.start()

    def _wait(self, spec: CheckSpec, run: _Run, deadline: float) -> CheckResult:
        timeout = self.timeout_of(spec)
        check_due = run.started + timeout
        clock = self.clock
        clock.wait(run.done, min(check_due, deadline) - clock.monotonic())
        if run.result is not None:
            return run.result
        if clock.monotonic() >= check_due:
            return self._record_timeout(spec, run, timeout)
        # Only this request's deadline has passed; the run goes on and may still finish in time
        # for the next request, so this answer is not cached.
        waited = self._settings.deadline
        level = logging.DEBUG if run.cut_by_deadline else logging.INFO
        run.cut_by_deadline = True
        logger.log(
            level,
            "check %s still running at the request's deadline (%g s); answered as timed out",
            spec.name,
            waited,
        )
        return self._make_result(
            spec,
            Outcome(False, f"timed out after {waited:g} s (the request's deadline)"),
            clock.monotonic() - run.started,
            ttl=0.0,
        )

    def _record_timeout(self, spec: CheckSpec, run: _Run, timeout: float) -> CheckResult:
        slot = self._slot(spec.name)
        with slot.lock:
            if run.result is not None:  # it finished between the wait and the lock
                return run.result
            cached = slot.cached
            if run.timed_out and cached is not None and self.clock.monotonic() < cached[1]:
                return cached[0]  # another request has recorded this timeout already
            run.timed_out = True
            elapsed = self.clock.monotonic() - run.started
            message = f"timed out after {timeout:g} s"
            if elapsed > 2 * timeout:
                message += f" (its run has not returned for {elapsed:.0f} s)"
            raw = self._make_result(spec, Outcome(False, message), elapsed)
            stored = self._store(slot, spec, raw, run)
            if stored is None:
                return slot.last or raw  # another worker recorded it (or a newer result)
            result, previous = stored
        self._notify(Transition(spec, result, previous, timed_out=True))
        return result

    def _store(
        self, slot: _Slot, spec: CheckSpec, raw: CheckResult, run: _Run
    ) -> tuple[CheckResult, CheckResult | None] | None:
        """Cache a new result (the caller holds the slot's lock); return it and the one before.

        What is reported follows the check's failure tolerance (:func:`~.verdict.tolerate`),
        from the server's record when results are shared. Returns None when the server's
        record has a result newer than *run* (another worker ran the check since, or recorded
        this run's timeout first): that one is taken instead, and nobody is told twice.
        """
        ttl = self._ttl_of(spec, raw.passed)
        size = self._settings.history_size
        if self.shared is None:
            slot.streak = slot.streak.after(raw)
            previous = slot.last
            result = slot.last = tolerate(spec, previous, raw, slot.streak)
            slot.cached = (result, self.clock.monotonic() + ttl)
            if size:
                slot.history = extended(slot.history, entry_of(raw), size)
            return result, previous
        started = raw.timestamp - raw.response_time
        before: list[Record] = []

        def settle(record: Record) -> Record | None:
            before.append(record)
            newer = record.result is not None and record.result.timestamp > started
            ours = (
                record.lease is not None
                and run.lease is not None
                and (record.lease.token == run.lease.token and record.lease.pid == run.lease.pid)
            )
            if newer and not ours:
                return None
            streak = record.streak.after(raw)
            result = tolerate(spec, record.result, raw, streak)
            lease = None if ours or record.lease is None else record.lease
            if lease is not None and not lease.held_at(raw.timestamp):
                lease = None
            history = extended(record.history, entry_of(raw), size) if size else ()
            return Record(result, streak, raw.timestamp + ttl, lease, history)

        assert self.shared is not None
        record, changed = self.shared.update(spec.name, settle)
        if not changed:
            if record.result is not None:
                self._take(slot, record)
            return None
        assert record.result is not None
        slot.streak = record.streak
        slot.last = record.result
        slot.cached = (record.result, self.clock.monotonic() + ttl)
        return record.result, before[0].result

    def _coordinate(self, run: _Run, slot: _Slot) -> bool:
        """Before a run calls its check: take the server's lease on it, or use the result of
        the worker that holds the lease. True when the run is over without a call."""
        assert self.shared is not None
        spec = run.spec
        clock = self.clock
        due = run.started + self.timeout_of(spec)
        # A bound in real time too, for a clock that only a test moves.
        real_due = time.monotonic() + self.timeout_of(spec) + 1.0
        while True:
            left = due - clock.monotonic()
            if left <= 0 or time.monotonic() >= real_due:
                return self._give_up(run, slot)
            now = clock.time()
            claim = self.shared.claim(spec.name, now, now + left)
            if claim.granted is not None:
                run.lease = claim.granted
                return False
            if claim.fresh:
                return self._finish_with(run, slot, claim.record)
            held = claim.record.lease
            assert held is not None
            while clock.monotonic() < due and time.monotonic() < real_due:
                time.sleep(_POLL)
                record = self.shared.read(spec.name)
                if record is None:
                    break
                if record.fresh_at(clock.time()):
                    return self._finish_with(run, slot, record)
                if record.lease != held or not held.held_at(clock.time()):
                    break  # the holder is done, gone or past its time: claim again

    def _finish_with(self, run: _Run, slot: _Slot, record: Record) -> bool:
        with slot.lock:
            result = self._take(slot, record)
            if not run.timed_out:
                run.result = result
            self._retire(slot, run)
        run.done.set()
        return True

    def _give_up(self, run: _Run, slot: _Slot) -> bool:
        """The run's timeout passed while another worker held the lease: the requests that
        wait for it record the timeout, as for a run of this process."""
        with slot.lock:
            self._retire(slot, run)
        run.done.set()
        return True

    def _retire(self, slot: _Slot, run: _Run) -> None:
        """*run* is over (the caller holds the slot's lock)."""
        if slot.in_flight is run:
            slot.in_flight = None
        if slot.abandoned is run:
            slot.abandoned = None
            self._abandon_changed(run.spec.name, slot)

    def _execute(self, app: Flask, run: _Run, slot: _Slot) -> None:
        if self.shared is not None and self._coordinate(run, slot):
            return
        spec = run.spec
        adopted = None
        if spec.fleet_ttl is not None and self.gate is not None:
            adopted = self.gate.adopt(spec, run.started + self.timeout_of(spec))
        exception: BaseException | None
        if adopted is not None:
            outcome, detail, exception, explained = adopted, None, None, False
        else:
            outcome, detail, exception, explained = self._call(app, run)
        elapsed = self.clock.monotonic() - run.started
        timeout = self.timeout_of(spec)
        timed_out = elapsed > timeout
        if timed_out:
            # Past its timeout although no request was still waiting to say so (they left at
            # their deadline): its answer came too late all the same.
            outcome = Outcome(False, f"timed out after {timeout:g} s")
            detail = exception = None
            explained = False
        result = self._make_result(spec, outcome, elapsed, detail=detail)
        previous: CheckResult | None = None
        with slot.lock:
            self._retire(slot, run)
            late = run.timed_out
            if not late:
                stored = self._store(slot, spec, result, run)
                if stored is None:
                    late = True
                else:
                    result, previous = stored
                    run.result = result
        run.done.set()
        if late:
            logger.info(
                "check %s returned after %.3f s, past its timeout; its result was discarded",
                spec.name,
                elapsed,
            )
            return
        if adopted is None and spec.fleet_ttl is not None and self.gate is not None:
            self.gate.ran(spec, result.raw or result)
        self._notify(
            Transition(
                spec,
                result,
                previous,
                exception,
                explained,
                called=adopted is None,
                timed_out=timed_out,
            )
        )

    def _call(
        self, app: Flask, run: _Run
    ) -> tuple[Outcome, str | None, BaseException | None, bool]:
        """Call the check of *run*: its outcome, detail, exception and whether a
        :class:`~flask_healthcheck.CheckError` explained it."""
        spec = run.spec
        exception: BaseException | None = None
        explained = False
        detail: str | None = None
        budget.start(run.started + self.timeout_of(spec), self.clock)
        try:
            with app.app_context():
                value = spec.func()
                if inspect.isawaitable(value):
                    coroutine: Coroutine[Any, Any, Any] = _await(value)
                    value = asyncio.run(coroutine)
        except CheckError as exc:
            exception = exc.__cause__ or exc
            explained = True
            outcome = Outcome(False, str(exc) or "check failed")
            detail = exc.detail
        except BaseException as exc:  # even SystemExit must not leave the run unfinished
            exception = exc
            kind = type(exc).__name__
            outcome = Outcome(False, f"raised {kind} (details withheld)")
            detail = f"raised {kind}: {exc}" if str(exc) else f"raised {kind}"
        else:
            try:
                outcome = interpret(value)
            except TypeError as exc:
                outcome = Outcome(False, str(exc))
        return outcome, detail, exception, explained

    def _make_result(
        self,
        spec: CheckSpec,
        outcome: Outcome,
        elapsed: float,
        *,
        detail: str | None = None,
        ttl: float | None = None,
    ) -> CheckResult:
        now = self.clock.time()
        if ttl is None:
            ttl = self._ttl_of(spec, outcome.passed)
        limit = self._settings.output_limit
        output, output_json = shown_output(outcome.output, limit)
        return CheckResult(
            name=spec.name,
            passed=outcome.passed,
            output=output,
            output_json=output_json,
            timestamp=now,
            expires=now + ttl,
            response_time=round(elapsed, 6),
            critical=spec.critical,
            tags=spec.tags,
            warning=outcome.passed and outcome.warning,
            detail=shown_detail(detail if detail is not None else outcome.detail, limit),
            observed_value=outcome.observed_value,
            observed_unit=outcome.observed_unit,
            since=now,
        )

    def _notify(self, transition: Transition) -> None:
        _log(transition)
        for listener in self._listeners:
            try:
                listener(transition)
            except Exception:
                logger.exception("a health check result listener failed")


def _with_dependencies(
    specs: list[CheckSpec], lookup: Callable[[str], CheckSpec] | None
) -> list[CheckSpec]:
    """*specs* and, through *lookup*, the checks they depend on that they leave out."""
    wanted = {spec.name: spec for spec in specs}
    queue = list(specs)
    while queue and lookup is not None:
        for dependency in queue.pop().depends_on:
            if dependency not in wanted:
                wanted[dependency] = lookup(dependency)
                queue.append(wanted[dependency])
    return list(wanted.values())


def _failing_dependency(spec: CheckSpec, found: dict[str, CheckResult]) -> str | None:
    """The first dependency of *spec* whose result in *found* fails, or None."""
    for dependency in spec.depends_on:
        result = found.get(dependency)
        if result is not None and not result.passed:
            return dependency
    return None


def _log(transition: Transition) -> None:
    """One line at ``WARNING`` when a check starts failing, ``INFO`` when it recovers, and
    ``DEBUG`` for every other result, so that a failing check (even one run on every request,
    with ``failed_ttl=0``) logs once per change.

    The traceback of an unexpected exception goes with the warning; that of a
    :class:`~flask_healthcheck.CheckError`, whose message says what failed, only to ``DEBUG``.
    """
    result = transition.result
    previous = transition.previous
    if result.passed:
        if previous is not None and not previous.passed:
            logger.info(
                "check %s recovered in %.3f s: %s", result.name, result.response_time, result.output
            )
        else:
            logger.debug(
                "check %s passed in %.3f s: %s", result.name, result.response_time, result.output
            )
        return
    reason = result.detail or result.output
    exception = transition.exception
    trace = ""
    if exception is not None:
        trace = "".join(
            traceback.format_exception(type(exception), exception, exception.__traceback__)
        )
        trace = "\n" + mask_credentials(trace).rstrip()
    expected = transition.explained
    if not transition.started_failing:
        logger.debug(
            "check %s still failing after %.3f s: %s%s",
            result.name,
            result.response_time,
            reason,
            trace,
        )
        return
    logger.warning(
        "check %s failed after %.3f s: %s%s",
        result.name,
        result.response_time,
        reason,
        "" if expected else trace,
    )
    if expected and trace:
        logger.debug("check %s failed with this traceback:%s", result.name, trace)
