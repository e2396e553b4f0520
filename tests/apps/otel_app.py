"""An app whose checks report to OpenTelemetry, served by gunicorn with several workers.

Its SDK tracer provider exports each finished span as a line (the span's name and the process
id) to the file ``OTEL_SPANS_FILE`` names, so that a test can count the spans of the whole
server; ``flooded`` counts its calls with :func:`~tests.gunicorn_server.count_call`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from flask import Flask
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from flask_healthcheck import HealthCheck
from flask_healthcheck.contrib.opentelemetry import instrument_app
from tests.gunicorn_server import count_call


class LineExporter(SpanExporter):
    """One line per span, appended whole (``O_APPEND``) by whichever worker finished it."""

    def __init__(self, path: str) -> None:
        self.path = path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with open(self.path, "a") as lines:
            lines.write("".join(f"{span.name} {os.getpid()}\n" for span in spans))
        return SpanExportResult.SUCCESS


def create_app() -> Flask:
    app = Flask("otel_app")
    health = HealthCheck(app, startup_gate=[])

    @health.check(success_ttl=0.5)
    def flooded() -> tuple[bool, str]:
        count_call("flooded")
        time.sleep(0.01)
        return True, "answered"

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(LineExporter(os.environ["OTEL_SPANS_FILE"])))
    instrument_app(app, tracer_provider=provider)
    return app
