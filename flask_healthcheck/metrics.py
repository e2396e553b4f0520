"""Prometheus metrics of one app's checks and endpoints, served at ``{path}/metrics``.

:class:`HealthMetrics` records every new check result and every answer of an endpoint from the
moment the app is initialised, in plain Python: ``prometheus_client`` is imported only when the
metrics are exposed (scraped, or added to a registry), so an app that never asks for them does
not need it. The collector reads the recorded state at scrape time; no global metric objects are
created, so several apps in one process never share or clash over a time series.

In a pre-fork server the metrics speak for the whole server, whichever worker is scraped: each
process records into files of its own in the server directory
(:class:`~flask_healthcheck.counters.SharedCounters`), and a scrape adds up the counts of every
process, those that have exited included, and takes the newest state of each check. A process
that shares nothing keeps everything in memory.

Metric names, labels and examples: ``docs/prometheus.rst``.
"""

from __future__ import annotations

import bisect
import logging
import os
import re
import threading
import weakref
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import process
from .counters import Counters, Document, SharedCounters
from .endpoints import Endpoint
from .exceptions import MissingDependencyError
from .registry import Registry
from .results import CheckResult, Report
from .runner import Transition

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import CollectorRegistry

logger = logging.getLogger("flask_healthcheck")

#: Upper bounds (seconds) of the buckets of ``healthcheck_check_duration_seconds``: from a
#: cached-connection ping (1 ms) to the longest timeout a check should have.
DURATION_BUCKETS: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)

#: Labels the metrics use themselves, which extra labels given to ``register`` may not take.
_OWN_LABELS = frozenset({"check", "critical", "to", "unit", "endpoint", "code", "le", "worker"})
#: The ``endpoint`` label of the answers of the metrics endpoint itself, which is no
#: :class:`~flask_healthcheck.Endpoint`: it reports no checks.
METRICS_ENDPOINT = "metrics"
#: The ``worker`` label of the answers of the workers that have exited (per-worker metrics).
EXITED_WORKERS = "exited"
# Names starting with "__" are reserved by Prometheus.
_LABEL_NAME = re.compile(r"(?!__)[A-Za-z_][A-Za-z0-9_]*")


def require_prometheus_client() -> None:
    """Raise :class:`~flask_healthcheck.MissingDependencyError` without ``prometheus_client``."""
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        raise MissingDependencyError(
            "prometheus_client", "prometheus", needed_by="Prometheus metrics"
        ) from None


@dataclass
class _CheckSeries:
    """What the metrics keep about one check: its latest state and counts since start."""

    passed: bool | None = None
    warning: bool = False
    critical: bool = True
    last_run: float | None = None
    last_success: float | None = None
    observed: tuple[float, str] | None = None
    transitions_to_pass: int = 0
    transitions_to_fail: int = 0
    bucket_counts: list[int] = field(default_factory=lambda: [0] * (len(DURATION_BUCKETS) + 1))
    #: The runs' durations added up, in whole nanoseconds: integers add up to the same total
    #: in any order, so the sum over the processes of a server never wavers from one scrape
    #: to the next (floats added in another order may come out a hair lower, which
    #: Prometheus would read as a reset of ``_sum``).
    duration_ns: int = 0
    #: Runs abandoned past their timeout since the process started.
    abandoned: int = 0
    #: Abandoned runs that have not returned yet (0 or 1 per process).
    hung: int = 0

    def update(self, result: CheckResult) -> None:
        """Take *result* as the latest state, unless a newer one has been taken already."""
        if result.passed and (self.last_success is None or result.timestamp > self.last_success):
            self.last_success = result.timestamp
        if self.last_run is not None and result.timestamp < self.last_run:
            return
        self.passed = result.passed
        self.warning = result.warning
        self.critical = result.critical
        self.last_run = result.timestamp
        observed = result.observed_value
        if isinstance(observed, int | float):  # bool is an int: True is 1
            self.observed = (float(observed), result.observed_unit or "")
        else:
            self.observed = None

    def absorb(self, other: _CheckSeries) -> None:
        """Add the counts of *other* (another process's series of the check) and take its
        state if it is newer."""
        self.transitions_to_pass += other.transitions_to_pass
        self.transitions_to_fail += other.transitions_to_fail
        self.bucket_counts = [
            mine + theirs
            for mine, theirs in zip(self.bucket_counts, other.bucket_counts, strict=True)
        ]
        self.duration_ns += other.duration_ns
        self.abandoned += other.abandoned
        self.hung += other.hung
        if other.last_success is not None and (
            self.last_success is None or other.last_success > self.last_success
        ):
            self.last_success = other.last_success
        if other.last_run is not None and (self.last_run is None or other.last_run > self.last_run):
            self.passed = other.passed
            self.warning = other.warning
            self.critical = other.critical
            self.last_run = other.last_run
            self.observed = other.observed

    def copy(self) -> _CheckSeries:
        return _CheckSeries(
            passed=self.passed,
            warning=self.warning,
            critical=self.critical,
            last_run=self.last_run,
            last_success=self.last_success,
            observed=self.observed,
            transitions_to_pass=self.transitions_to_pass,
            transitions_to_fail=self.transitions_to_fail,
            bucket_counts=list(self.bucket_counts),
            duration_ns=self.duration_ns,
            abandoned=self.abandoned,
            hung=self.hung,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "warning": self.warning,
            "critical": self.critical,
            "last_run": self.last_run,
            "last_success": self.last_success,
            "observed": list(self.observed) if self.observed is not None else None,
            "to_pass": self.transitions_to_pass,
            "to_fail": self.transitions_to_fail,
            "buckets": self.bucket_counts,
            "ns": self.duration_ns,
            "abandoned": self.abandoned,
            "hung": self.hung,
        }

    @classmethod
    def from_json(cls, data: Any) -> _CheckSeries:
        """The series *data* (:meth:`to_json`) describes; ValueError if it does not."""
        try:
            observed = data["observed"]
            series = cls(
                passed=_optional(data["passed"], bool),
                warning=bool(data["warning"]),
                critical=bool(data["critical"]),
                last_run=_optional(data["last_run"], float),
                last_success=_optional(data["last_success"], float),
                observed=None if observed is None else (float(observed[0]), str(observed[1])),
                transitions_to_pass=int(data["to_pass"]),
                transitions_to_fail=int(data["to_fail"]),
                bucket_counts=[int(count) for count in data["buckets"]],
                duration_ns=int(data["ns"]),
                abandoned=int(data.get("abandoned", 0)),
                hung=int(data.get("hung", 0)),
            )
        except (KeyError, TypeError, IndexError) as exc:
            raise ValueError(f"not a check series: {exc!r}") from None
        if len(series.bucket_counts) != len(DURATION_BUCKETS) + 1:
            raise ValueError("not the buckets of this version")
        return series


def _optional(value: Any, kind: type[Any]) -> Any:
    return None if value is None else kind(value)


def _series_of(document: Document) -> dict[str, _CheckSeries]:
    """The check series in the document of a process (made by :func:`_document_of`)."""
    if document is None:
        return {}
    try:
        checks = document["checks"]
        return {str(name): _CheckSeries.from_json(data) for name, data in checks.items()}
    except (ValueError, KeyError, TypeError, AttributeError):
        logger.warning("ignoring the check series of another worker: malformed")
        return {}


def _document_of(checks: Mapping[str, _CheckSeries]) -> Document:
    return {"checks": {name: series.to_json() for name, series in checks.items()}}


def _merge_documents(documents: list[Document]) -> Document:
    """One document with the series of *documents* (of processes that have exited): counts
    added, the newest state kept, and no run hung any more."""
    merged: dict[str, _CheckSeries] = {}
    for document in documents:
        _absorb_all(merged, _series_of(document))
    for series in merged.values():
        series.hung = 0
    return _document_of(merged)


def _absorb_all(into: dict[str, _CheckSeries], series: Mapping[str, _CheckSeries]) -> None:
    for name, other in series.items():
        mine = into.get(name)
        if mine is None:
            into[name] = other
        else:
            mine.absorb(other)


def _answer_key(endpoint: str, status_code: int) -> str:
    """The name of the counter of answers of *endpoint* with *status_code*: ``"live 200"``.

    Made once per pair: every probe counts one, and a lookup costs a quarter of formatting.
    *endpoint* may be an :class:`~flask_healthcheck.Endpoint`, whose format is its value.
    """
    key = _ANSWER_KEYS.get((endpoint, status_code))
    if key is None:
        key = _ANSWER_KEYS[endpoint, status_code] = f"{endpoint} {status_code}"
    return key


_ANSWER_KEYS: dict[tuple[str, int], str] = {}


@dataclass(frozen=True)
class _Snapshot:
    checks: dict[str, _CheckSeries]
    #: Answers by endpoint, status code and worker ("" unless counted per worker).
    responses: dict[tuple[str, int, str], int]


class HealthMetrics:
    """The Prometheus metrics of one app; ``health.metrics(app)`` returns it.

    The app's :class:`~flask_healthcheck.state.AppState` feeds it (:meth:`record_result`,
    :meth:`record_answer`, :meth:`record_report`) and serves it at ``{path}/metrics``; add the
    same metrics to the app's own registry with :meth:`register`.

    With a *directory* (the app's ``metrics`` part of the server directory) this process
    records into files there, and the metrics show the whole server: the answers of every
    process added up (by process, in a ``worker`` label, with *per_worker*), the check
    series added up, and the newest state of each check. Without one, everything stays in
    this process's memory.
    """

    def __init__(
        self,
        registry: Registry,
        directory: Path | None = None,
        *,
        per_worker: bool = False,
        outages: Callable[[], Mapping[str, bool]] | None = None,
    ) -> None:
        self._registry = registry
        self._per_worker = per_worker
        #: Per shared check, whether the fleet sees a fleet-wide outage (with a fleet only).
        self._outages = outages
        self._lock = threading.Lock()
        self._checks: dict[str, _CheckSeries] = {}
        self._counters: Counters = Counters() if directory is None else SharedCounters(directory)
        self._own_registry: CollectorRegistry | None = None
        _ALL.add(self)

    # -- recording (no prometheus_client needed) ---------------------------------------------

    def record_result(self, transition: Transition) -> None:
        """Runner listener: one new result of a check (a run, or a run timing out)."""
        result = transition.result
        previous = transition.previous
        bucket = bisect.bisect_left(DURATION_BUCKETS, result.response_time)
        with self._lock:
            series = self._series(result.name)
            series.update(result)
            if previous is not None and previous.passed != result.passed:
                if result.passed:
                    series.transitions_to_pass += 1
                else:
                    series.transitions_to_fail += 1
            series.bucket_counts[bucket] += 1
            series.duration_ns += round(result.response_time * 1e9)
            if self._counters.shared:
                # Under the lock: the documents reach the file in the order they were made.
                self._counters.publish(_document_of(self._checks))

    def record_abandoned(self, name: str, abandoned: int, hung: int) -> None:
        """Runner listener: check *name* has had *abandoned* runs abandoned past their timeout
        in this process, *hung* of which have not returned yet."""
        with self._lock:
            series = self._series(name)
            series.abandoned, series.hung = abandoned, hung
            if self._counters.shared:
                self._counters.publish(_document_of(self._checks))

    def record_report(self, report: Report) -> None:
        """Take the results of *report* as the latest state of its checks.

        A scrape runs the checks first; the runner wakes the scrape before its listeners record
        the new results, so the scrape records them itself to show them at once. The other
        processes learn of them from the process that ran the checks.
        """
        with self._lock:
            for result in report.results:
                self._series(result.name).update(result)

    def _series(self, name: str) -> _CheckSeries:
        series = self._checks.get(name)
        if series is None:
            series = self._checks[name] = _CheckSeries()
        return series

    def record_answer(self, endpoint: Endpoint, status_code: int) -> None:
        """One answer of *endpoint*: its value is the ``endpoint`` label (``live``)."""
        self._counters.increment(_answer_key(endpoint, status_code))

    def record_scrape(self, status_code: int) -> None:
        """One answer of the metrics endpoint (``endpoint="metrics"``)."""
        self._counters.increment(_answer_key(METRICS_ENDPOINT, status_code))

    def _snapshot(self) -> _Snapshot:
        names = [spec.name for spec in self._registry]
        others = self._counters.others(_merge_documents)
        with self._lock:
            checks = {name: series.copy() for name, series in self._checks.items()}
        for other in others:
            _absorb_all(checks, _series_of(other.document))
        for name in names:  # registered checks that have not run yet: zero counts
            checks.setdefault(name, _CheckSeries())
        responses: Counter[tuple[str, int, str]] = Counter()
        for pid, counts in [
            (os.getpid(), self._counters.counts()),
            *((other.pid, other.counts) for other in others),
        ]:
            worker = ""
            if self._per_worker:
                worker = EXITED_WORKERS if pid is None else str(pid)
            for key, count in counts.items():
                endpoint, _, code = key.rpartition(" ")
                responses[endpoint, int(code), worker] += count
        return _Snapshot(checks, dict(responses))

    def _forget_parent(self) -> None:
        """In a forked child: new locks (a thread of the parent may have held one). A child
        that records into files starts with no series, as its counts start at zero: what
        the parent recorded is in the parent's files, and counts there."""
        self._lock = threading.Lock()
        self._own_registry = None
        if self._counters.shared:
            self._checks = {}

    # -- exposing (imports prometheus_client) --------------------------------------------------

    def register(
        self, registry: CollectorRegistry, *, labels: Mapping[str, str] | None = None
    ) -> None:
        """Add these metrics to *registry*, such as ``prometheus_client.REGISTRY``.

        Several apps may register into one registry; each must then give *labels* that tell
        its series apart (``labels={"app": "admin"}``), or the second one raises ``ValueError``.
        Raises :class:`~flask_healthcheck.MissingDependencyError` without ``prometheus_client``.
        """
        require_prometheus_client()
        extra = _validated_labels(labels)
        with _COLLECTORS_LOCK:
            collector = _COLLECTORS.get(registry)
            if collector is None:
                collector = _RegistryCollector()
                collector.add(self, extra)
                registry.register(collector)
                _COLLECTORS[registry] = collector
            else:
                collector.add(self, extra)

    def unregister(self, registry: CollectorRegistry) -> None:
        """Take these metrics out of *registry* again."""
        with _COLLECTORS_LOCK:
            collector = _COLLECTORS.get(registry)
            if collector is not None and collector.remove(self):
                registry.unregister(collector)
                del _COLLECTORS[registry]

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The body and content type of a scrape with this ``Accept`` header.

        Prometheus text format, or OpenMetrics when the scraper asks for it. Raises
        :class:`~flask_healthcheck.MissingDependencyError` without ``prometheus_client``.
        """
        require_prometheus_client()
        from prometheus_client.exposition import choose_encoder

        registry = self._own_registry
        if registry is None:
            with self._lock:
                if self._own_registry is None:
                    from prometheus_client.registry import CollectorRegistry

                    own = CollectorRegistry(auto_describe=True)
                    own.register(_RegistryCollector([(self, {})]))
                    self._own_registry = own
                registry = self._own_registry
        encode, content_type = choose_encoder(accept or "")
        return encode(registry), content_type


_ALL: weakref.WeakSet[HealthMetrics] = weakref.WeakSet()


def _validated_labels(labels: Mapping[str, str] | None) -> dict[str, str]:
    extra = dict(labels or {})
    taken = sorted(set(extra) & _OWN_LABELS)
    if taken:
        raise ValueError(
            f"label(s) {', '.join(taken)} are used by the health metrics themselves; "
            "choose other names, such as 'app'"
        )
    for name, value in extra.items():
        if not (isinstance(name, str) and _LABEL_NAME.fullmatch(name)):
            raise ValueError(f"{name!r} is not a valid Prometheus label name")
        if not isinstance(value, str):
            raise ValueError(f"the value of label {name!r} must be a string; got {value!r}")
    return extra


class _RegistryCollector:
    """The one collector a registry holds for the health metrics of one or more apps.

    A registry refuses two collectors that describe the same metric names, so the apps that
    register into one registry share this collector, which merges their series.
    """

    def __init__(self, sources: list[tuple[HealthMetrics, dict[str, str]]] | None = None) -> None:
        self._sources: list[tuple[HealthMetrics, dict[str, str]]] = list(sources or [])
        self._lock = threading.Lock()

    def add(self, metrics: HealthMetrics, labels: dict[str, str]) -> None:
        with self._lock:
            for registered, registered_labels in self._sources:
                if registered is metrics:
                    raise ValueError("these health metrics are already in this registry")
                if registered_labels == labels:
                    shown = labels or "no labels"
                    raise ValueError(
                        f"another app's health metrics are in this registry with {shown}; "
                        "pass labels that tell the apps apart, such as "
                        "register(registry, labels={'app': 'admin'})"
                    )
            self._sources.append((metrics, labels))

    def remove(self, metrics: HealthMetrics) -> bool:
        """Forget *metrics*; True when no source is left."""
        with self._lock:
            self._sources = [source for source in self._sources if source[0] is not metrics]
            return not self._sources

    def describe(self) -> list[Metric]:
        return _families([])

    def collect(self) -> list[Metric]:
        with self._lock:
            sources = list(self._sources)
        return _families(sources)


#: The collector of each registry that holds health metrics, shared by the apps in it.
_COLLECTORS: weakref.WeakKeyDictionary[CollectorRegistry, _RegistryCollector] = (
    weakref.WeakKeyDictionary()
)
_COLLECTORS_LOCK = threading.Lock()


def _forget_the_parents_locks() -> None:
    """In a forked child: every lock of the metrics anew (a thread of the parent may have
    held one), and what the child records goes to files of its own."""
    global _COLLECTORS_LOCK  # noqa: PLW0603 (process-wide state, reset in each child)
    _COLLECTORS_LOCK = threading.Lock()
    for collector in list(_COLLECTORS.values()):
        collector._lock = threading.Lock()
    for metrics in list(_ALL):
        metrics._forget_parent()


process.after_fork_in_child(process.Stage.FORGET, _forget_the_parents_locks)


def _families(sources: list[tuple[HealthMetrics, dict[str, str]]]) -> list[Metric]:
    """The metric families of *sources*, each app's samples with its extra labels.

    With no sources, the empty families: what a registry's ``describe`` needs.
    """
    from prometheus_client.core import (
        CounterMetricFamily,
        GaugeMetricFamily,
        HistogramMetricFamily,
    )

    extra_names = sorted({name for _, labels in sources for name in labels})

    def labelled(*names: str) -> list[str]:
        return [*names, *extra_names]

    status = GaugeMetricFamily(
        "healthcheck_check_status",
        "1 when the latest result of the check passed, 0 when it failed.",
        labels=labelled("check", "critical"),
    )
    warning = GaugeMetricFamily(
        "healthcheck_check_warning",
        "1 when the check passed with a warning (near a limit), else 0.",
        labels=labelled("check"),
    )
    last_run = GaugeMetricFamily(
        "healthcheck_check_last_run_timestamp_seconds",
        "When the latest result of the check was made, in epoch seconds.",
        labels=labelled("check"),
    )
    last_success = GaugeMetricFamily(
        "healthcheck_check_last_success_timestamp_seconds",
        "When the check last passed, in epoch seconds; absent until it has passed.",
        labels=labelled("check"),
    )
    observed = GaugeMetricFamily(
        "healthcheck_check_observed_value",
        "The numeric value the check observed in its latest result, in its unit.",
        labels=labelled("check", "unit"),
    )
    transitions = CounterMetricFamily(
        "healthcheck_check_transitions",
        "Changes of the check between passing and failing, by the state it changed to.",
        labels=labelled("check", "to"),
    )
    duration = HistogramMetricFamily(
        "healthcheck_check_duration_seconds",
        "How long each run of the check took (runs that timed out count their timeout).",
        labels=labelled("check"),
    )
    abandoned = CounterMetricFamily(
        "healthcheck_check_abandoned_runs",
        "Runs of the check abandoned because they were still going at its timeout.",
        labels=labelled("check"),
    )
    hung = GaugeMetricFamily(
        "healthcheck_check_hung_runs",
        "Abandoned runs of the check that have not returned yet (at most one per process).",
        labels=labelled("check"),
    )
    per_worker = any(metrics._per_worker for metrics, _ in sources)
    responses = CounterMetricFamily(
        "healthcheck_responses",
        "Answers of the health endpoints, by endpoint and HTTP status code.",
        labels=labelled("endpoint", "code", *(["worker"] if per_worker else [])),
    )
    fleet_outage = GaugeMetricFamily(
        "healthcheck_fleet_outage",
        "1 while a shared check fails on so much of the fleet that every server stays ready "
        "(a fleet-wide outage), else 0; only with a fleet store.",
        labels=labelled("check"),
    )
    bounds = [*(repr(bound) for bound in DURATION_BUCKETS), "+Inf"]
    for metrics, labels in sources:
        taken = metrics._snapshot()
        extra = [labels.get(name, "") for name in extra_names]
        for name, series in taken.checks.items():
            if series.passed is not None:
                critical = "true" if series.critical else "false"
                status.add_metric([name, critical, *extra], 1.0 if series.passed else 0.0)
                warning.add_metric([name, *extra], 1.0 if series.warning else 0.0)
            if series.last_run is not None:
                last_run.add_metric([name, *extra], series.last_run)
            if series.last_success is not None:
                last_success.add_metric([name, *extra], series.last_success)
            if series.observed is not None:
                value, unit = series.observed
                observed.add_metric([name, unit, *extra], value)
            transitions.add_metric([name, "pass", *extra], series.transitions_to_pass)
            transitions.add_metric([name, "fail", *extra], series.transitions_to_fail)
            abandoned.add_metric([name, *extra], series.abandoned)
            hung.add_metric([name, *extra], series.hung)
            duration.add_metric(
                [name, *extra],
                list(zip(bounds, _cumulative(series.bucket_counts), strict=True)),
                series.duration_ns / 1e9,
            )
        for (endpoint, code, worker), count in sorted(taken.responses.items()):
            by_worker = [worker] if per_worker else []
            responses.add_metric([endpoint, str(code), *by_worker, *extra], count)
        if metrics._outages is not None:
            for name, outage in sorted(metrics._outages().items()):
                fleet_outage.add_metric([name, *extra], 1.0 if outage else 0.0)
    return [
        status,
        warning,
        last_run,
        last_success,
        observed,
        transitions,
        duration,
        abandoned,
        hung,
        responses,
        fleet_outage,
    ]


def _cumulative(counts: list[int]) -> Iterator[float]:
    total = 0
    for count in counts:
        total += count
        yield float(total)
