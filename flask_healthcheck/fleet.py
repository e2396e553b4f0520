"""The fleet: what the other servers of a service see of the dependencies they share.

When every pod of a service reaches the same database and that database goes down, every pod
fails readiness, the load balancer drains them all, and a partial outage becomes a total one.
A check registered with ``shared=True`` names such a dependency. With a fleet store
(``HEALTHCHECK_FLEET_URL``), each server publishes its checks' latest verdicts under the
service's name (``HEALTHCHECK_FLEET_NAME``), and a shared check failing here is judged against
what the live peers see (:func:`judge`):

- it fails on fewer than two pods, or on less than ``HEALTHCHECK_FLEET_OUTAGE_SHARE`` of them:
  the fault is local (this pod's network, pool or credentials), the check keeps failing and
  this pod leaves the pool;
- it fails on at least that share of the fleet (and on two pods or more): a fleet-wide outage.
  Every pod stays ready and reports ``degraded: fleet-wide outage of database (7 of 8 pods)``,
  since draining them all would only turn the outage into a total one;
- no live peer reports it, or the store cannot be reached: this pod decides alone, as without
  a fleet.

A failure reaches Sentry once its peers have had the time to look too (:meth:`Fleet.settle`):
a local fault from the pod that has it, a fleet-wide outage once for the whole fleet, sent by
the pod that wins the store's lock.

Nothing here imports a client library: the store is a :class:`FleetStore`, and
:mod:`flask_healthcheck.contrib.redis_fleet` is the one on Redis.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .clock import Clock
from .events import StatusChange
from .registry import CheckSpec, Registry
from .results import CheckResult, Outcome, failure_kind
from .runner import Transition
from .store import Record, SharedResults

logger = logging.getLogger("flask_healthcheck")

#: Seconds a process reuses the fleet it has read before it reads it again, at most: less
#: when results live shorter (half the failed TTL), so a view is never much older than the
#: peers' results in it.
VIEW_TTL = 1.0
#: Seconds a process leaves the store alone after it could not be reached: the answers in
#: between decide alone instead of each waiting for the store's timeout.
BACKOFF = 5.0
#: Seconds between two looks at the store while another server runs a check for the fleet.
RUN_POLL = 0.05


@dataclass(frozen=True)
class PeerResult:
    """What one pod published of one check: its verdict, never its output or detail."""

    passed: bool
    #: ``pass``, ``warn``, ``fail``, ``timeout``, ``stale`` or ``not run``.
    kind: str
    #: Epoch seconds of the result.
    timestamp: float
    critical: bool = True
    shared: bool = False

    @classmethod
    def of(cls, result: CheckResult, shared: bool) -> PeerResult:
        return cls(result.passed, failure_kind(result), result.timestamp, result.critical, shared)


@dataclass(frozen=True)
class Pod:
    """One server of the fleet, as it last published."""

    name: str
    #: Epoch seconds of its last publication.
    updated: float
    checks: Mapping[str, PeerResult]

    def live_at(self, now: float, ttl: float) -> bool:
        """True while the pod published within *ttl* seconds before *now*."""
        return now - self.updated <= ttl

    @property
    def passed(self) -> bool:
        """True unless one of its critical checks fails."""
        return all(check.passed or not check.critical for check in self.checks.values())


@dataclass(frozen=True)
class FleetView:
    """The fleet as read at *read_at* (epoch seconds): every pod the store still knows."""

    pods: tuple[Pod, ...]
    read_at: float


@dataclass(frozen=True)
class FleetRun:
    """The result of an expensive check that one pod ran for the whole fleet."""

    pod: str
    passed: bool
    warning: bool
    output: str
    timestamp: float
    response_time: float


class FleetStore(Protocol):
    """Where the pods of a fleet meet; every call raises ``OSError`` (or the client's error)
    when the store cannot be reached, within the store's own timeout."""

    def publish(self, pod: str, check: str, result: PeerResult, now: float) -> None:
        """Record *result* as the latest of *check* on *pod*, which is live at *now*."""

    def read(self, now: float) -> FleetView:
        """Every pod the store knows, live or stale."""

    def first_to_alert(self, check: str, pod: str, seconds: float) -> bool:
        """True for the first pod to ask about an outage of *check*; the next ask after
        *seconds* without one is first again."""

    def latest_run(self, check: str) -> FleetRun | None:
        """The result of *check* that a pod ran for the fleet last, if any."""

    def lease_run(self, check: str, pod: str, seconds: float) -> bool:
        """True when *pod* may run *check* for the fleet: no other pod holds its lease."""

    def store_run(self, check: str, run: FleetRun, keep: float) -> None:
        """Record *run* as the fleet's result of *check*, kept *keep* seconds, and free the
        lease."""

    def close(self) -> None:
        """Let go of the connections."""


def _fresh(run: FleetRun | None, now: float, ttl: float) -> bool:
    return run is not None and now - run.timestamp < ttl


@dataclass(frozen=True)
class Judgement:
    """A shared check failing here, seen from the fleet: *failing* of *pods* live pods fail it."""

    check: str
    failing: int
    pods: int
    outage: bool

    def describe(self) -> str:
        if self.outage:
            return f"fleet-wide outage of {self.check} ({self.failing} of {self.pods} pods)"
        passing = self.pods - self.failing
        return f"local fault: {passing} of {self.pods - 1} other pods pass {self.check}"


def judge(
    check: str, view: FleetView, me: str, *, now: float, pod_ttl: float, outage_share: float
) -> Judgement | None:
    """How the fleet sees *check*, which fails here on pod *me*; None when no live peer has a
    result of it younger than *pod_ttl* (this pod decides alone)."""
    peers = [
        pod.checks[check]
        for pod in view.pods
        if pod.name != me
        and pod.live_at(now, pod_ttl)
        and check in pod.checks
        and now - pod.checks[check].timestamp <= pod_ttl
    ]
    if not peers:
        return None
    failing = 1 + sum(not peer.passed for peer in peers)
    pods = 1 + len(peers)
    outage = failing >= 2 and failing >= outage_share * pods
    return Judgement(check, failing, pods, outage)


def apply(result: CheckResult, judgement: Judgement) -> CheckResult:
    """*result*, failing here, as the fleet's *judgement* makes it: passing with a warning
    during a fleet-wide outage, failing with the local fault named otherwise."""
    said = judgement.describe()
    detail = None if result.detail is None else f"{said}: {result.detail}"
    if judgement.outage:
        return dataclasses.replace(
            result,
            passed=True,
            warning=True,
            output=f"degraded: {said}: {result.output}",
            output_json=None,
            detail=None if detail is None else f"degraded: {detail}",
            raw=result.raw or result,
        )
    return dataclasses.replace(
        result, output=f"{said}: {result.output}", output_json=None, detail=detail
    )


#: Told of a failure the fleet has judged: the check's name, the message, and the transition
#: that started it (None for a fleet-wide outage, which no single exception explains).
Alert = Callable[[str, str, Transition | None], None]


class Fleet:
    """The fleet as one server's process sees it: it publishes this server's results, reads
    the peers' with a cache and a back-off, applies the policy to the results of shared
    checks, tells listeners when a fleet-wide outage starts and ends, and sends each failure
    to *alert* once for the fleet.
    """

    def __init__(
        self,
        store: FleetStore,
        *,
        pod: str,
        outage_share: float,
        pod_ttl: float,
        clock: Clock,
        registry: Registry,
        changed: Callable[[StatusChange], None],
        alert: Alert | None = None,
        shared: SharedResults | None = None,
        settle: Callable[[CheckSpec], float] | None = None,
        view_ttl: float = VIEW_TTL,
    ) -> None:
        self.store = store
        self.pod = pod
        self.outage_share = outage_share
        self.pod_ttl = pod_ttl
        self.clock = clock
        self._registry = registry
        self._changed = changed
        self._alert = alert
        #: The server's records, where the workers agree on who tells of an outage.
        self._shared = shared
        self._settle = settle or (lambda spec: pod_ttl)
        self._view_ttl = min(view_ttl, VIEW_TTL)
        self._lock = threading.Lock()
        self._view: FleetView | None = None
        self._view_until = 0.0
        self._unreachable_until = 0.0
        self._outages: dict[str, bool] = {}
        self._latest: dict[str, PeerResult] = {}
        self._never = threading.Event()

    # -- the store, guarded ------------------------------------------------------------

    def _reachable(self) -> bool:
        return self.clock.monotonic() >= self._unreachable_until

    def _failed(self, what: str, exc: BaseException) -> None:
        self._unreachable_until = self.clock.monotonic() + BACKOFF
        logger.warning(
            "the fleet store could not %s (%s); this server decides alone for %g s",
            what,
            type(exc).__name__,
            BACKOFF,
        )

    def view(self, *, fresh: bool = False, newer_than: float = 0.0) -> FleetView | None:
        """The fleet as last read, read again when older than :data:`VIEW_TTL`, than
        *newer_than* (epoch seconds: the result it is to judge), or when *fresh*; None while
        the store cannot be reached."""
        now = self.clock.monotonic()
        cached = self._view
        if (
            not fresh
            and cached is not None
            and now < self._view_until
            and cached.read_at >= newer_than
        ):
            return cached
        if not self._reachable():
            return None
        try:
            view = self.store.read(self.clock.time())
        except Exception as exc:
            self._failed("be read", exc)
            return None
        self._view, self._view_until = view, now + self._view_ttl
        return view

    # -- what this server publishes -----------------------------------------------------

    def record(self, transition: Transition) -> None:
        """Runner listener: publish the new result, and let a failure of a shared check
        settle before it is judged and alerted."""
        spec = transition.spec
        latest = self._latest[spec.name] = PeerResult.of(transition.result, spec.shared)
        if self._reachable():
            try:
                self.store.publish(self.pod, spec.name, latest, self.clock.time())
            except Exception as exc:
                self._failed("be written", exc)
        if spec.shared and transition.started_failing:
            timer = threading.Timer(self._settle(spec), self._settled, (transition,))
            timer.name = f"healthcheck-fleet:{spec.name}"
            timer.daemon = True
            timer.start()

    def _settled(self, transition: Transition) -> None:
        """The peers have had the time to run the check since it started failing here: if it
        still fails, send one alert, for this pod (a local fault) or for the fleet."""
        name = transition.spec.name
        view = self.view(fresh=True)
        # This server's latest result: the store has it from whichever worker ran it last.
        current = self._latest.get(name)
        own = [pod for pod in view.pods if pod.name == self.pod] if view is not None else []
        if own and name in own[0].checks:
            current = own[0].checks[name]
        if current is None or current.passed:
            return  # it recovered before anyone had to hear of it
        now = self.clock.time()
        judgement = None
        if view is not None:
            judgement = judge(
                name, view, self.pod, now=now, pod_ttl=self.pod_ttl, outage_share=self.outage_share
            )
        if self._alert is None:
            return
        if judgement is None or not judgement.outage:
            reason = transition.result.output if judgement is None else judgement.describe()
            self._alert(name, reason, transition)
            return
        try:
            first = self.store.first_to_alert(name, self.pod, self.pod_ttl)
        except Exception as exc:
            self._failed("take the alert's lock", exc)
            first = True  # better one event per pod than none
        if first:
            self._alert(name, judgement.describe(), None)

    # -- one run for the fleet (checks with fleet_ttl) -------------------------------------

    def adopt(self, spec: CheckSpec, due: float) -> Outcome | None:
        """The fleet's result of *spec* when a server ran it less than ``fleet_ttl`` ago;
        None when this server should call it (it took the lease, or the store cannot be
        reached). While another server holds the lease, wait for its result until *due*
        (the clock's ``monotonic()``)."""
        assert spec.fleet_ttl is not None
        if not self._reachable():
            return None
        name, ttl = spec.name, spec.fleet_ttl
        try:
            latest = self.store.latest_run(name)
            if _fresh(latest, self.clock.time(), ttl):
                return self._adopted(latest)
            left = due - self.clock.monotonic()
            if self.store.lease_run(name, self.pod, max(left, 0.001)):
                return None
            real_due = time.monotonic() + left + 1.0  # a bound for a clock only a test moves
            while self.clock.monotonic() < due and time.monotonic() < real_due:
                self.clock.wait(self._never, min(RUN_POLL, due - self.clock.monotonic()))
                latest = self.store.latest_run(name)
                if _fresh(latest, self.clock.time(), ttl):
                    return self._adopted(latest)
        except Exception as exc:
            self._failed("share a run", exc)
            return None
        # The holder did not finish in time: its last result while not too old, else a call.
        if _fresh(latest, self.clock.time(), 2 * ttl):
            return self._adopted(latest)
        return None

    def _adopted(self, run: FleetRun | None) -> Outcome:
        assert run is not None
        age = max(self.clock.time() - run.timestamp, 0.0)
        where = "here" if run.pod == self.pod else f"by {run.pod}"
        return Outcome(
            run.passed, f"{run.output} (run {where} {age:.0f} s ago)", warning=run.warning
        )

    def ran(self, spec: CheckSpec, result: CheckResult) -> None:
        """*spec* ran on this server: its result is the fleet's for ``fleet_ttl``."""
        assert spec.fleet_ttl is not None
        run = FleetRun(
            self.pod,
            result.passed,
            result.warning,
            result.output,
            result.timestamp,
            result.response_time,
        )
        try:
            self.store.store_run(spec.name, run, 2 * spec.fleet_ttl)
        except Exception as exc:
            self._failed("share a run", exc)

    # -- the policy ---------------------------------------------------------------------

    def adjust(self, results: list[CheckResult]) -> list[CheckResult]:
        """*results*, with each failing result of a shared check judged by the fleet, and
        the checks it kept from running (``depends_on``) judged with it."""
        adjusted = list(results)
        view: FleetView | None = None
        registry = self._registry
        outages: dict[str, Judgement] = {}
        for index, result in enumerate(results):
            if result.name not in registry or not registry.get(result.name).shared:
                continue
            judgement = None
            if not result.passed and result.cause is None:
                # Read after the result was made: an older view may miss the peers' failures.
                if view is None or view.read_at < result.timestamp:
                    view = self.view(newer_than=result.timestamp)
                if view is not None:
                    judgement = judge(
                        result.name,
                        view,
                        self.pod,
                        now=self.clock.time(),
                        pod_ttl=self.pod_ttl,
                        outage_share=self.outage_share,
                    )
            self._note_outage(result.name, judgement)
            if judgement is not None:
                adjusted[index] = apply(result, judgement)
                if judgement.outage:
                    outages[result.name] = judgement
        if outages:
            for index, result in enumerate(adjusted):
                if result.cause in outages:
                    adjusted[index] = apply(result, outages[result.cause])
        return adjusted

    def document(self) -> dict[str, Any] | None:
        """What ``{path}/fleet`` shows: every pod the store knows, stale ones marked, with its
        checks' verdicts, and how the fleet stands on each shared check; None while the store
        cannot be reached. It reads the store afresh."""
        try:
            view = self.store.read(self.clock.time())
        except Exception as exc:
            self._failed("be read", exc)
            return None
        now = view.read_at
        live = [pod for pod in view.pods if pod.live_at(now, self.pod_ttl)]
        shared = sorted(
            {name for pod in live for name, check in pod.checks.items() if check.shared}
        )
        standing = {}
        for name in shared:
            verdicts = [pod.checks[name] for pod in live if name in pod.checks]
            failing = sum(not verdict.passed for verdict in verdicts)
            standing[name] = {
                "failing": failing,
                "pods": len(verdicts),
                "outage": failing >= 2 and failing >= self.outage_share * len(verdicts),
            }
        return {
            "pod": self.pod,
            "timestamp": now,
            "pod_ttl": self.pod_ttl,
            "outage_share": self.outage_share,
            "shared": standing,
            "pods": [
                {
                    "name": pod.name,
                    "status": "pass" if pod.passed else "fail",
                    "updated": pod.updated,
                    "age": round(max(now - pod.updated, 0.0), 3),
                    "stale": not pod.live_at(now, self.pod_ttl),
                    "checks": {
                        name: {
                            "passed": check.passed,
                            "kind": check.kind,
                            "timestamp": check.timestamp,
                            "critical": check.critical,
                            "shared": check.shared,
                        }
                        for name, check in sorted(pod.checks.items())
                    },
                }
                for pod in sorted(view.pods, key=lambda pod: pod.name)
            ],
        }

    def outages(self) -> dict[str, bool]:
        """Per shared check this process has judged: whether a fleet-wide outage is on."""
        return dict(self._outages)

    def _note_outage(self, name: str, judgement: Judgement | None) -> None:
        """Tell the listeners, once per server, when a fleet-wide outage starts or ends."""
        outage = judgement is not None and judgement.outage
        if self._outages.get(name, False) == outage:
            return
        with self._lock:
            before = self._outages.get(name)
            if before == outage or (before is None and not outage):
                self._outages[name] = outage
                return
            self._outages[name] = outage
        if not self._first_in_server(name, outage):
            return
        output = judgement.describe() if judgement is not None else f"{name}: outage over"
        self._changed(StatusChange("fleet", name, not outage, not before, output))

    def _first_in_server(self, name: str, outage: bool) -> bool:
        """True for the one worker of this server that tells of this change."""
        if self._shared is None:
            return True
        now = self.clock.time()
        marker = CheckResult.synthetic(f"fleet:{name}", not outage, "", "fleet", now)

        def change(record: Record) -> Record | None:
            if record.result is not None and record.result.passed == marker.passed:
                return None
            if record.result is None and not outage:
                return None
            return Record(marker)

        _, changed = self._shared.update(f"fleet-outage:{name}", change)
        return changed
