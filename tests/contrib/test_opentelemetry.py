"""The OpenTelemetry integration with the real SDK: in-memory span exporter and metric reader,
and the real Flask instrumentation for the probes that must not be traced."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from flask_healthcheck import CheckError, HealthCheck
from flask_healthcheck.contrib.opentelemetry import instrument_app
from flask_healthcheck.metrics import DURATION_BUCKETS
from tests.app_server import get
from tests.gunicorn_server import Configuration, gunicorn

SECRET = "hunter2"


class Telemetry:
    """An SDK tracer provider and meter provider that keep what they get in memory."""

    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def finished(self, name: str | None = None) -> list[ReadableSpan]:
        spans = list(self.spans.get_finished_spans())
        return [span for span in spans if name is None or span.name == name]

    def points(self, metric: str) -> list[tuple[dict[str, Any], Any]]:
        """The data points of *metric*: their attributes and the point."""
        data = self.reader.get_metrics_data()
        found = []
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for each in scope.metrics:
                    if each.name == metric:
                        found += [(dict(p.attributes or {}), p) for p in each.data.data_points]
        return found

    def instrument(self, app: Flask, **options: Any) -> None:
        instrument_app(
            app,
            tracer_provider=self.tracer_provider,
            meter_provider=self.meter_provider,
            **options,
        )


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    found = Telemetry()
    yield found
    found.tracer_provider.shutdown()
    found.meter_provider.shutdown()


@pytest.fixture
def checks(health: HealthCheck, release: threading.Event) -> dict[str, bool]:
    """Checks that pass, fail, raise, explain and hang; ``switch`` answers what the test sets."""
    switch = {"up": True}

    @health.check(success_ttl=0, failed_ttl=0)
    def database() -> tuple[bool, str]:
        return switch["up"], "up" if switch["up"] else "down"

    @health.check(failed_ttl=0)
    def raising() -> tuple[bool, str]:
        raise ConnectionRefusedError(f"postgresql://app:{SECRET}@db.internal refused")

    @health.check(failed_ttl=0, critical=False, tags=["ready", "mail"])
    def explained() -> tuple[bool, str]:
        raise CheckError("mail relay refused the connection") from OSError(SECRET)

    @health.check(timeout=0.05, failed_ttl=0, critical=False)
    def hung() -> tuple[bool, str]:
        release.wait(30)
        return True, "late"

    return switch


def test_each_run_is_a_span_with_its_status_and_failure_kind_and_nothing_withheld(
    checks: dict[str, bool], make_app: Callable[..., Flask], telemetry: Telemetry
) -> None:
    app = make_app(HEALTHCHECK_STARTUP_GATE=[])
    telemetry.instrument(app)

    assert app.test_client().get("/healthz/ready").status_code == 503

    spans = {span.name: span for span in telemetry.finished()}
    names = ("database", "raising", "explained", "hung")
    assert set(spans) == {f"healthcheck {name}" for name in names}
    database = spans["healthcheck database"]
    assert database.kind is SpanKind.INTERNAL
    assert database.parent is None
    assert database.status.status_code is StatusCode.UNSET
    assert database.attributes == {
        "healthcheck.check.name": "database",
        "healthcheck.check.status": "pass",
        "healthcheck.check.critical": True,
        "healthcheck.check.tags": ("ready",),
    }
    assert database.start_time is not None
    assert database.end_time is not None
    assert database.end_time >= database.start_time

    raising = spans["healthcheck raising"]
    assert raising.status.status_code is StatusCode.ERROR
    assert raising.status.description == "raised ConnectionRefusedError (details withheld)"
    assert raising.attributes["error.type"] == "ConnectionRefusedError"
    explained = spans["healthcheck explained"]
    assert explained.status.description == "mail relay refused the connection"
    assert explained.attributes["error.type"] == "OSError"
    assert explained.attributes["healthcheck.check.tags"] == ("mail", "ready")
    hung = spans["healthcheck hung"]
    assert hung.attributes["error.type"] == "timeout"
    assert hung.status.description == "timed out after 0.05 s"
    # No exception event, message or stack trace: what the public may not see, the span
    # does not carry either.
    for span in spans.values():
        assert not span.events
        assert SECRET not in str(span.to_json())


def test_a_request_answered_from_the_cache_adds_no_span(
    health: HealthCheck, make_app: Callable[..., Flask], telemetry: Telemetry
) -> None:
    health.add_check(lambda: (True, "ok"), name="cached", success_ttl=60)
    app = make_app(HEALTHCHECK_STARTUP_GATE=[])
    telemetry.instrument(app)
    client = app.test_client()

    for _ in range(5):
        assert client.get("/healthz/ready").status_code == 200

    assert len(telemetry.finished("healthcheck cached")) == 1
    durations = telemetry.points("healthcheck.check.duration")
    assert [(attributes, point.count) for attributes, point in durations] == [
        ({"healthcheck.check.name": "cached", "healthcheck.check.state": "pass"}, 1)
    ]


def test_metrics_count_transitions_once_per_change_and_gauge_the_reported_state(
    checks: dict[str, bool], make_app: Callable[..., Flask], telemetry: Telemetry
) -> None:
    app = make_app(HEALTHCHECK_STARTUP_GATE=[])
    telemetry.instrument(app)
    client = app.test_client()

    for up in (True, False, False, False, True, True):
        checks["up"] = up
        client.get("/healthz/database")

    transitions = {
        attributes["healthcheck.check.state"]: point.value
        for attributes, point in telemetry.points("healthcheck.check.transitions")
        if attributes["healthcheck.check.name"] == "database"
    }
    assert transitions == {"fail": 1, "pass": 1}
    status = {
        attributes["healthcheck.check.state"]: point.value
        for attributes, point in telemetry.points("healthcheck.check.status")
        if attributes["healthcheck.check.name"] == "database"
    }
    assert status == {"pass": 1, "warn": 0, "fail": 0}
    durations = {
        attributes["healthcheck.check.state"]: point.count
        for attributes, point in telemetry.points("healthcheck.check.duration")
        if attributes["healthcheck.check.name"] == "database"
    }
    assert durations == {"pass": 3, "fail": 3}


def test_two_apps_on_one_meter_provider_are_both_gauged_and_durations_use_seconds_buckets(
    telemetry: Telemetry,
) -> None:
    for name in ("api", "admin"):
        app = Flask(name)
        health = HealthCheck(app, startup_gate=[])
        health.add_check(lambda: (True, "ok"), name=f"{name}_database")
        telemetry.instrument(app)
        app.test_client().get("/healthz/ready")

    status = telemetry.points("healthcheck.check.status")
    # One gauge for both apps: a meter keeps the callbacks of an instrument's first creation.
    passing = {attributes["healthcheck.check.name"] for attributes, point in status if point.value}
    assert passing == {"api_database", "admin_database"}
    durations = [point for _, point in telemetry.points("healthcheck.check.duration")]
    assert [point.count for point in durations] == [1, 1]
    assert {tuple(point.explicit_bounds) for point in durations} == {DURATION_BUCKETS}


def test_probes_are_not_traced_by_the_flask_instrumentation_and_the_app_is(
    checks: dict[str, bool], make_app: Callable[..., Flask], telemetry: Telemetry
) -> None:
    app = make_app(HEALTHCHECK_STARTUP_GATE=[])

    @app.get("/hello")
    def hello() -> str:
        return "hello"

    FlaskInstrumentor().instrument_app(app, tracer_provider=telemetry.tracer_provider)
    telemetry.instrument(app)
    client = app.test_client()

    for path in ("/healthz/live", "/healthz/ready", "/healthz/database", "/healthz"):
        client.get(path)
    assert [span for span in telemetry.finished() if span.kind is SpanKind.SERVER] == []

    client.get("/hello")
    assert [span.name for span in telemetry.finished() if span.kind is SpanKind.SERVER] == [
        "GET /hello"
    ]
    FlaskInstrumentor().uninstrument_app(app)


def test_trace_probes_traces_them_as_any_request(
    checks: dict[str, bool], make_app: Callable[..., Flask], telemetry: Telemetry
) -> None:
    app = make_app(HEALTHCHECK_STARTUP_GATE=[])
    FlaskInstrumentor().instrument_app(app, tracer_provider=telemetry.tracer_provider)
    telemetry.instrument(app, trace_probes=True)

    app.test_client().get("/healthz/database")

    servers = [span for span in telemetry.finished() if span.kind is SpanKind.SERVER]
    assert [span.name for span in servers] == ["GET /healthz/<name>"]
    # The check's own span is a root of its own: a run serves every request that waits for it.
    check = telemetry.finished("healthcheck database")[0]
    assert check.parent is None
    FlaskInstrumentor().uninstrument_app(app)


def test_instrument_app_before_health_check_says_what_to_do() -> None:
    with pytest.raises(RuntimeError, match="after HealthCheck"):
        instrument_app(Flask("bare"))


def exported(spans: Path) -> list[str]:
    """The lines the test app's exporter wrote: a span each."""
    return spans.read_text().splitlines() if spans.exists() else []


@pytest.mark.parametrize("preload", [False, True], ids=["fork", "preload"])
def test_one_span_per_run_for_the_whole_gunicorn_server(tmp_path: Path, preload: bool) -> None:
    spans = tmp_path / "spans"
    with gunicorn(
        "otel_app:create_app()",
        tmp_path,
        Configuration("gthread", preload, workers=2),
        environment={"OTEL_SPANS_FILE": str(spans)},
    ) as server:
        server.wait_for_workers(2)
        started = time.monotonic()
        due = started + 2.0

        def client() -> None:
            while time.monotonic() < due:
                assert get(server.url + "/healthz/ready")[0] == 200

        threads = [threading.Thread(target=client) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        flooded = time.monotonic() - started
        calls = server.calls("flooded")
        # The last run's span is exported once its result is stored: wait for it.
        deadline = time.monotonic() + 10
        while len(exported(spans)) < len(calls):
            assert time.monotonic() < deadline, (exported(spans), calls)
            time.sleep(0.05)

    # A run is one span, exported by the worker that ran it, whichever worker's request
    # started it; requests served from the server's shared result add none.
    lines = exported(spans)
    assert sorted(lines) == sorted(f"healthcheck flooded {pid}" for pid in calls)
    assert 2 <= len(calls) <= flooded / 0.5 + 2, (calls, flooded)
