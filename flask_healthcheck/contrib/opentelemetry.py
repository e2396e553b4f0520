"""OpenTelemetry: each check run a span, the results as metrics, the probes themselves untraced.

``instrument_app(app)``, after ``HealthCheck`` (and after ``FlaskInstrumentor``, if the app
uses it), has the app's health checks report through the OpenTelemetry API, to the providers
the app configured (the global ones unless others are given):

Spans
    One span per run of a check, ``healthcheck <name>`` (kind ``INTERNAL``), from the start of
    the run to its end, in the thread that ran it, as a root span: a run serves every request
    that waits for it, and belongs to none. Attributes: ``healthcheck.check.name``,
    ``healthcheck.check.status`` (``pass``, ``warn``, ``fail``: what the check said),
    ``healthcheck.check.critical`` and ``healthcheck.check.tags``. A failed run has status
    ``ERROR`` described by its public output, and ``error.type``: ``timeout``, the exception's
    class (``psycopg.OperationalError``) or ``check_failed``. Nothing withheld from the public
    report is put on a span: no exception message, no detail, no traceback. A request answered
    from the cache runs nothing and adds no span.
Metrics
    ``healthcheck.check.status`` (gauge, ``1``): per check and ``healthcheck.check.state``
    (``pass``, ``warn``, ``fail``), 1 for the state the check is reported in and 0 for the
    others, as OpenTelemetry's ``hw.status`` does; ``healthcheck.check.duration`` (histogram,
    seconds) per run; ``healthcheck.check.transitions`` (counter) per change of the reported
    state, with the state it changed to.
Probe requests
    The requests of the health endpoints are not traced (``trace_probes=False``): with the
    Flask instrumentation, every Kubernetes probe would otherwise be a trace of its own. A
    probe is given a trace context that is not sampled (``traceparent`` flags ``00``) unless
    it came with one, so a parent-based sampler (the SDK's default, ``parentbased_always_on``)
    records nothing of it. The same rule as the Sentry integration's.

Everything is a no-op while the app has configured no OpenTelemetry SDK: the API alone records
nothing. Install it with ``pip install 'flask-health-checks[opentelemetry]'``.
"""

from __future__ import annotations

import importlib.metadata
import os
import threading
import weakref
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from flask import Flask

from flask_healthcheck.exceptions import MissingDependencyError
from flask_healthcheck.metrics import DURATION_BUCKETS
from flask_healthcheck.results import CheckResult, failure_kind
from flask_healthcheck.results import Status as ResultStatus

try:
    from opentelemetry import metrics, trace
    from opentelemetry.metrics import CallbackOptions, Observation
    from opentelemetry.trace import SpanKind, Status, StatusCode
except ImportError as exc:  # pragma: no cover - the extra is installed in the tests
    raise MissingDependencyError(
        "opentelemetry-api", "opentelemetry", "flask_healthcheck.contrib.opentelemetry"
    ) from exc

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

    from flask_healthcheck.runner import Transition
    from flask_healthcheck.state import AppState

__all__ = ["HealthInstrumentation", "instrument_app"]

#: The instrumentation scope's name: the tracer's and the meter's.
SCOPE = "flask_healthcheck"


def _version() -> str | None:
    try:
        return importlib.metadata.version("flask-health-checks")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - run from a checkout
        return None


#: The instrumentation scope's version: the installed distribution's.
VERSION = _version()
#: Characters of a failed run's public output kept as its span's status description.
DESCRIPTION_LIMIT = 256


def _error_type(transition: Transition) -> str:
    if transition.timed_out:
        return "timeout"
    exception = transition.exception
    if exception is None:
        return "check_failed"
    kind = type(exception)
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


class _Instruments:
    """The metric instruments on one meter provider, and the apps whose state its gauge reads.

    One set per provider, whichever apps use it: a meter hands out one instrument per name,
    and keeps the callbacks of its first creation only, so a second app's gauge would be lost.
    """

    def __init__(self, meter: metrics.Meter) -> None:
        self._states: list[weakref.ref[AppState]] = []
        self._lock = threading.Lock()
        self.duration = _duration_histogram(meter)
        self.transitions = meter.create_counter(
            "healthcheck.check.transitions",
            unit="{transition}",
            description="Changes of the reported state of a check.",
        )
        meter.create_observable_gauge(
            "healthcheck.check.status",
            callbacks=[self.observe],
            unit="1",
            description="1 for the state each check is reported in (pass, warn, fail), else 0.",
        )

    def add(self, state: AppState) -> None:
        with self._lock:
            self._states = [ref for ref in self._states if ref() is not None]
            self._states.append(weakref.ref(state))

    def observe(self, options: CallbackOptions) -> Iterable[Observation]:
        """The gauge: the reported state of every check with a result, in every app."""
        for ref in list(self._states):
            state = ref()
            if state is None:
                continue
            runner = state.runner
            for spec in state.registry.select():
                latest = runner.latest(spec.name)
                if latest is None:
                    continue
                for each in ResultStatus:
                    yield Observation(
                        int(each is latest.status),
                        {
                            "healthcheck.check.name": spec.name,
                            "healthcheck.check.state": each.value,
                        },
                    )


def _duration_histogram(meter: metrics.Meter) -> metrics.Histogram:
    """The histogram of run durations in seconds, with the Prometheus histogram's buckets: the
    SDK's default buckets (0, 5, 10, 25 ... 10000) suit milliseconds, and nearly every run
    would fall in the first. The API takes bucket boundaries from 1.30 on."""
    return meter.create_histogram(
        "healthcheck.check.duration",
        unit="s",
        description="Duration of each check run.",
        explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
    )


_INSTRUMENTS: weakref.WeakKeyDictionary[Any, _Instruments] = weakref.WeakKeyDictionary()
_INSTRUMENTS_LOCK = threading.Lock()


def _instruments_on(provider: MeterProvider | None) -> _Instruments:
    key = provider if provider is not None else metrics.get_meter_provider()
    with _INSTRUMENTS_LOCK:
        found = _INSTRUMENTS.get(key)
        if found is None:
            meter = metrics.get_meter(SCOPE, VERSION or "", key)
            found = _INSTRUMENTS[key] = _Instruments(meter)
        return found


class HealthInstrumentation:
    """What :func:`instrument_app` attaches to an app: the listener of its runner that makes
    the spans and records the metrics."""

    def __init__(
        self,
        state: AppState,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        self.state = state
        self.tracer = trace.get_tracer(SCOPE, VERSION, tracer_provider)
        instruments = _instruments_on(meter_provider)
        instruments.add(state)
        self.duration = instruments.duration
        self.transitions = instruments.transitions
        self._attributes: dict[tuple[str, str, bool, frozenset[str]], dict[str, Any]] = {}

    def record(self, transition: Transition) -> None:
        """A new result: a span and a duration for a run of this process, a count for a
        change of state (whoever ran it)."""
        result = transition.result
        said = result.raw or result
        name = result.name
        previous = transition.previous
        if previous is not None and previous.status.value != result.status.value:
            self.transitions.add(
                1, {"healthcheck.check.name": name, "healthcheck.check.state": result.status.value}
            )
        if not transition.called or failure_kind(said) == "not run":
            return  # stale, lent by the fleet, or kept from running: not a run of this process
        state = said.status.value
        self.duration.record(
            result.response_time,
            {"healthcheck.check.name": name, "healthcheck.check.state": state},
        )
        end = int(result.timestamp * 1e9)
        start = end - int(result.response_time * 1e9)
        span = self.tracer.start_span(
            f"healthcheck {name}",
            kind=SpanKind.INTERNAL,
            start_time=start,
            context=_ROOT,
            attributes=self._span_attributes(result, state),
        )
        if not said.passed:
            span.set_attribute("error.type", _error_type(transition))
            span.set_status(Status(StatusCode.ERROR, said.output[:DESCRIPTION_LIMIT]))
        span.end(end_time=end)

    def _span_attributes(self, result: CheckResult, state: str) -> dict[str, Any]:
        """A run's span attributes, made once per check and state (a run is on the hot path
        of an answer whose check is not cached)."""
        key = (result.name, state, result.critical, result.tags)
        found = self._attributes.get(key)
        if found is None:
            found = self._attributes[key] = {
                "healthcheck.check.name": result.name,
                "healthcheck.check.status": state,
                "healthcheck.check.critical": result.critical,
                "healthcheck.check.tags": tuple(sorted(result.tags)),
            }
        return found


#: The context of a root span: no parent, whatever the thread's context holds.
_ROOT = trace.set_span_in_context(trace.INVALID_SPAN)


def instrument_app(
    app: Flask,
    *,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
    trace_probes: bool = False,
) -> HealthInstrumentation:
    """Report *app*'s checks to OpenTelemetry (see the module's docs); call it after
    ``HealthCheck(app)`` or ``init_app(app)``.

    *tracer_provider* and *meter_provider* default to the global ones. With *trace_probes*
    the health endpoints' requests are traced as any other.
    """
    extension = app.extensions.get("healthcheck")
    if extension is None:
        raise RuntimeError(
            "instrument_app(app) needs the app's HealthCheck: call it after HealthCheck(app) "
            "or health.init_app(app)"
        )
    state = extension.state(app)
    instrumentation = HealthInstrumentation(state, tracer_provider, meter_provider)
    state.runner.add_listener(instrumentation.record)
    if not trace_probes:
        app.wsgi_app = UntracedProbes(app.wsgi_app, state.settings.path)  # type: ignore[method-assign]
    return instrumentation


class UntracedProbes:
    """WSGI middleware: a request under the health path without a trace context of its own
    gets one that is not sampled, so a parent-based sampler records nothing of it."""

    def __init__(self, app: Callable[..., Any], path: str) -> None:
        self.app = app
        self.path = path
        self._below = path + "/"
        # One context for every probe of the process: nothing is recorded of an unsampled
        # trace, and a check's run, the only work a probe starts, is a root span of its own.
        self._traceparent = f"00-{os.urandom(16).hex()}-{os.urandom(8).hex()}-00"

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if (path == self.path or path.startswith(self._below)) and (
            "HTTP_TRACEPARENT" not in environ
        ):
            environ["HTTP_TRACEPARENT"] = self._traceparent
        return self.app(environ, start_response)
