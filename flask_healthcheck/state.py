"""The health service of one app: what each endpoint reports, and what the app has seen so far.

:class:`AppState` is what the views, the liveness fast path, the probe port and the
``flask healthcheck`` command call: it selects the checks of a request, has the runner run them,
adds what the app knows of itself (its availability, heartbeats, load and start-up) and makes
the :class:`~flask_healthcheck.Report`. It knows nothing of HTTP; the views render its reports.
:meth:`HealthCheck.state() <flask_healthcheck.HealthCheck.state>` returns it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, current_app

from .availability import Availability, AvailabilityState
from .config import Settings
from .endpoints import Endpoint
from .events import Events, StatusChange
from .fleet import Fleet
from .history import document as history_document
from .lifecycle import Lifecycle
from .metrics import HealthMetrics, require_prometheus_client
from .registry import LIVE, READY, CheckSpec, Registry
from .results import CheckResult, Report, Sample, ServiceInfo
from .runner import Runner, Transition
from .scheduler import Scheduler, StartUp
from .shared import ServerDirectory


@dataclass
class AppState:
    """The health service of one app, as one :class:`~flask_healthcheck.HealthCheck` made it.

    The report methods answer the endpoints; they need the app's context (a request, or
    ``with app.app_context()``) when they run checks. :attr:`settings` are the app's
    validated settings. The other attributes are the parts the service is made of, open to
    read (``state.runner.in_flight_count()``) but not a stable API.
    """

    #: The app's settings, validated from its ``HEALTHCHECK_*`` keys.
    settings: Settings
    #: The registered checks, shared by every app of the extension.
    registry: Registry
    #: Runs the checks and keeps their latest results.
    runner: Runner
    #: What the app says of itself: liveness, readiness and the start-up latch.
    availability: Availability
    #: The extension's listeners, and the last status of each endpoint.
    events: Events
    #: The thread that runs background checks.
    scheduler: Scheduler
    #: Heartbeats, requests in flight and the SIGTERM drain.
    lifecycle: Lifecycle
    #: The directory the workers of this server share (None: one process, nothing shared).
    server: ServerDirectory | None = None
    #: The name of this app's files in :attr:`server` (app name and base path).
    key: str = "app"
    #: The servers of the service, when ``HEALTHCHECK_FLEET_URL`` is set.
    fleet: Fleet | None = None
    #: The Prometheus metrics (``health.metrics(app)``).
    metrics: HealthMetrics = field(init=False)
    #: The thread that takes the process through its start-up.
    start_up: StartUp = field(init=False)
    #: What the health+json format says of the service.
    service: ServiceInfo = field(init=False)

    def __post_init__(self) -> None:
        self.metrics = HealthMetrics(
            self.registry,
            self.shared_path("metrics"),
            per_worker=self.settings.metrics_per_worker,
            outages=None if self.fleet is None else self.fleet.outages,
        )
        pace = min(max(self.settings.failed_ttl, 0.5), 5.0)
        self.start_up = StartUp(self.runner, self.pending_checks, self.record_passes, pace)
        latch_directory = self.shared_path("startup")
        if latch_directory is not None:
            # A worker of a server that has started is started: see availability's docs.
            self.availability.share_latch(latch_directory / "started")
        settings = self.settings
        self.service = ServiceInfo(
            settings.service_id or settings.hostname or "",
            settings.version,
            settings.release_id,
            settings.description,
        )

    def shared_path(self, part: str) -> Path | None:
        """The directory (made if need be) where this app keeps *part* of what the workers
        of its server share (``results``, ``metrics``); None when nothing is shared."""
        if self.server is None:
            return None
        return self.server.sub(self.key, part)

    def _report(
        self, endpoint: Endpoint, results: Iterable[CheckResult], check: str | None = None
    ) -> Report:
        hostname = self.settings.hostname or ""
        if self.fleet is not None:
            # After start-up has seen the results: a fleet-wide outage keeps a server ready,
            # but never counts as a first pass.
            results = self.fleet.adjust(list(results))
        return Report.of(results, hostname, self._now(), endpoint, check, service=self.service)

    def _now(self) -> float:
        return self.runner.clock.time()

    def _run(self, specs: list[CheckSpec]) -> list[CheckResult]:
        if not specs:
            return []
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        if self.registry.has_background:
            self.scheduler.ensure_running(app)
        return self.runner.run(app, specs, self.registry.get)

    def start_background(self, app: Flask) -> None:
        """Run background checks from now on (called when one is registered)."""
        self.scheduler.ensure_running(app)
        self.scheduler.wake()

    def timeout_of(self, spec: CheckSpec) -> float:
        """Seconds *spec* may run: its own ``timeout``, else ``HEALTHCHECK_TIMEOUT``."""
        return self.runner.timeout_of(spec)

    def status_of(self, report: Report) -> int:
        """The HTTP status that answers *report*: the failed status when a critical check
        fails, the degraded status (when set) when it passes degraded, else success."""
        settings = self.settings
        if not report.passed:
            return settings.failed_status
        if settings.degraded_status is not None and report.warnings:
            return settings.degraded_status
        return settings.success_status

    def degraded_headers(self, report: Report) -> tuple[tuple[str, str], ...]:
        """``x-envoy-degraded`` for a degraded answer when ``HEALTHCHECK_ENVOY_DEGRADED``."""
        if self.settings.envoy_degraded and report.passed and report.warnings:
            return (("x-envoy-degraded", "true"),)
        return ()

    def history(self, names: Collection[str] | None = None) -> dict[str, tuple[Sample, ...]]:
        """The recent runs of each registered check, or of *names*, oldest first (this
        server's when its workers share their results); raises
        :class:`~flask_healthcheck.UnknownCheckError` for a name that is not registered."""
        specs = self.registry.select() if names is None else self.registry.select(names=names)
        return {spec.name: self.runner.history(spec.name) for spec in specs}

    def history_document(self, names: Collection[str] | None = None) -> dict[str, Any]:
        """What ``{path}/history`` answers: per check, its summary and its runs."""
        return history_document(
            self.history(names), self._now(), self.settings.history_size, self.settings.hostname
        )

    def with_history(self, report: Report) -> Report:
        """*report* carrying the history of its checks, for the page's sparklines."""
        if not self.settings.history_size:
            return report
        # Not the app's own results (its liveness and readiness state): they have no runs.
        checks = {spec.name for spec in self.registry}
        found = {
            result.name: self.runner.history(result.name)
            for result in report.results
            if result.name in checks
        }
        return dataclasses.replace(report, history=found)

    # -- the endpoints -------------------------------------------------------------------

    def full_report(self, exclude: Collection[str] = ()) -> Report:
        """:attr:`Endpoint.REPORT <flask_healthcheck.Endpoint.REPORT>`: every check, and the
        app's own liveness and readiness while it says it is not live or not ready
        (``set_ready(False)``, draining), as non-critical results: the report says so and is
        degraded, while its status stays that of the checks.

        Raises :class:`~flask_healthcheck.UnknownCheckError` for a name in *exclude* that is
        not registered, as every report method does.
        """
        results = self._unavailable()
        results += self._run(self.registry.select(exclude=exclude))
        return self._report(Endpoint.REPORT, results)

    def _unavailable(self) -> list[CheckResult]:
        """Non-critical results for what the app says it is not (live, ready): they show in
        the full report, degrading it, while its status stays that of the checks."""
        availability = self.availability
        return [
            dataclasses.replace(_state_result(name, state, word, tag, self._now()), critical=False)
            for name, state, word, tag in (
                ("liveness", availability.liveness, "live", LIVE),
                ("readiness", availability.readiness, "ready", READY),
            )
            if not state.available
        ]

    def check_report(self, name: str) -> Report:
        """:attr:`Endpoint.CHECK <flask_healthcheck.Endpoint.CHECK>`: one check by name."""
        specs = self.registry.select(names=[name])
        return self._report(Endpoint.CHECK, self._run(specs), check=name)

    def liveness_report(self, exclude: Collection[str] = ()) -> Report:
        """:attr:`Endpoint.LIVE <flask_healthcheck.Endpoint.LIVE>`: the app's liveness state,
        heartbeats and checks tagged ``live``; no dependency.

        By default no dependency holds it back, not even at start-up: a worker recycled while
        the database is down is alive. Gated by configuration (``HEALTHCHECK_STARTUP_GATE``
        naming ``live``), it fails until the app has started, and never waits for a check:
        the first gated request of the process starts a thread that runs the pending checks
        until every critical one has passed once (:class:`~.scheduler.StartUp`).
        """
        results = [
            _state_result("liveness", self.availability.liveness, "live", LIVE, self._now()),
            *self.lifecycle.liveness_results(),
        ]
        gate = self._startup_gate(Endpoint.LIVE)
        if gate is not None:
            results.append(gate)
        results += self._run(self.registry.select(tag=LIVE, exclude=exclude))
        return self._report(Endpoint.LIVE, results)

    def readiness_report(self, exclude: Collection[str] = ()) -> Report:
        """:attr:`Endpoint.READY <flask_healthcheck.Endpoint.READY>`: the app's readiness
        state, liveness problems, load and checks tagged ``ready``.

        Behind the start-up gate, it also runs the checks that have not passed yet, and fails
        until every critical check has passed once.
        """
        results = [
            _state_result("readiness", self.availability.readiness, "ready", READY, self._now()),
            *[result for result in self.lifecycle.liveness_results() if not result.passed],
        ]
        load = self.lifecycle.load_result()
        if load is not None:
            results.append(load)
        specs = self.registry.select(tag=READY, exclude=exclude)
        if self._startup_gate(Endpoint.READY) is not None:
            names = {spec.name for spec in specs}
            specs += [spec for spec in self.pending_checks(exclude) if spec.name not in names]
        check_results = self._run(specs)
        self.record_passes(check_results)
        gate = self._startup_gate(Endpoint.READY)
        return self._report(Endpoint.READY, [*results, *([gate] if gate else []), *check_results])

    def startup_report(self, exclude: Collection[str] = ()) -> Report:
        """:attr:`Endpoint.STARTUP <flask_healthcheck.Endpoint.STARTUP>`: passes once every
        critical check has passed at least once, then always.

        Until then it runs the checks that have not passed yet; once started, it runs nothing.
        """
        if self.availability.started:
            return self._report(Endpoint.STARTUP, [])
        results = self._run(self.pending_checks(exclude))
        self.record_passes(results)
        return self._report(Endpoint.STARTUP, results)

    def run(
        self, app: Flask, names: Collection[str] | None = None, tag: str | None = None
    ) -> Report:
        """:attr:`Endpoint.RUN <flask_healthcheck.Endpoint.RUN>`: run checks from code (all,
        or *names*, or those tagged *tag*), for :meth:`~flask_healthcheck.HealthCheck.run`.

        A background check without a result yet runs now rather than being reported unknown:
        a one-off run (``flask healthcheck run``) has no scheduler history to read.
        """
        specs = [
            dataclasses.replace(spec, period=None)
            if spec.period is not None and not self.runner.has_result(spec.name)
            else spec
            for spec in self.registry.select(names=names, tag=tag)
        ]
        results = self.runner.run(app, specs, self.registry.get) if specs else []
        return self._report(Endpoint.RUN, results)

    def scrape(self, accept: str | None) -> tuple[bytes, str]:
        """The body and content type of a Prometheus scrape with this ``Accept`` header.

        It runs the checks as the full report does, so that a scrape shows results no older
        than their TTLs, and records the results in the metrics itself: the runner wakes the
        requests waiting for a run before its listeners record the new result, so the
        metrics would otherwise show it only at the next scrape. Raises
        :class:`~flask_healthcheck.MissingDependencyError` without ``prometheus_client``,
        before any check runs.
        """
        require_prometheus_client()
        self.metrics.record_report(self.full_report())
        return self.metrics.exposition(accept)

    @property
    def plain_liveness(self) -> bool:
        """True when liveness needs no check run and no app: the WSGI fast path may answer."""
        return not self.registry.has_tag(LIVE) and (
            Endpoint.LIVE not in self.settings.startup_gate or self.availability.started
        )

    # -- start-up ------------------------------------------------------------------------

    def pending_checks(self, exclude: Collection[str] = ()) -> list[CheckSpec]:
        """The checks that have not passed since the process started, less *exclude*."""
        pending = set(self.availability.not_yet_passed(spec.name for spec in self.registry))
        return [spec for spec in self.registry.select(exclude=exclude) if spec.name in pending]

    def record_passes(self, results: Iterable[CheckResult]) -> bool:
        """Record the passes among *results*, latch start-up once every critical check has
        passed, and return whether the app has started.

        :meth:`~AppState.record_result` calls this for every new result too, but only after the
        runner has woken the requests that waited for it, so a request records what it saw
        itself: its answer must not say "starting" when its own results say otherwise.
        """
        availability = self.availability
        for result in results:
            if result.passed:
                availability.record_pass(result.name)
        if not availability.started:
            critical = [spec.name for spec in self.registry if spec.critical]
            if not availability.not_yet_passed(critical):
                availability.mark_started()
        return availability.started

    def _startup_gate(self, endpoint: Endpoint) -> CheckResult | None:
        """A failing "startup" result while *endpoint* is gated and the app has not started."""
        if endpoint not in self.settings.startup_gate or self.availability.started:
            return None
        if self.record_passes(()):
            return None
        self.start_up.ensure_running(current_app._get_current_object())  # type: ignore[attr-defined]
        waiting = [spec.name for spec in self.pending_checks() if spec.critical]
        output = "starting: waiting for a first pass of " + ", ".join(waiting)
        return CheckResult.synthetic("startup", False, output, endpoint.value, self._now())

    # -- what happened -------------------------------------------------------------------

    def record_result(self, transition: Transition) -> None:
        """Runner listener: count the result in the metrics, remember a pass for start-up,
        and announce a change of the check to the ``on_change`` listeners."""
        self.metrics.record_result(transition)
        result = transition.result
        self.record_passes([result])
        previous = transition.previous
        if previous is None or previous.passed != result.passed:
            before = None if previous is None else previous.passed
            self.events.changed(
                StatusChange("check", result.name, result.passed, before, result.output)
            )

    def record_answer(
        self,
        endpoint: Endpoint,
        status_code: int,
        report: Report | None,
        exclusions: Collection[str] = (),
    ) -> None:
        """Views call this for every answer: metrics count it, listeners hear of changes.

        *report* is None for an answer without a report (an error). The one-check endpoint
        has no status of its own: its check's changes are the changes.
        """
        self.metrics.record_answer(endpoint, status_code)
        if report is None or endpoint is Endpoint.CHECK:
            self.events.answered(endpoint, status_code, None, _no_output)
            return
        selection = ",".join(sorted(set(exclusions))) if exclusions else ""
        self.events.answered(
            endpoint, status_code, report.passed, lambda: _summary(report), selection=selection
        )


def _no_output() -> str:
    return ""


def _summary(report: Report) -> str:
    """The output of an endpoint's status change: its failing checks."""
    failing = [result.name for result in report.results if not result.passed]
    return "failing: " + ", ".join(failing) if failing else "all checks pass"


def _state_result(
    name: str, state: AvailabilityState, word: str, tag: str, now: float
) -> CheckResult:
    output = state.reason or (word if state.available else f"not {word}")
    return CheckResult.synthetic(name, state.available, output, tag, now)
