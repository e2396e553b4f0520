"""What recording history and spans costs per readiness answer, beside the peers.

``python -m bench.observability`` builds, in this one process, apps whose readiness has one
instant check, and calls each app's WSGI callable directly, so that the figures are the
library's CPU time and not a server's or a load generator's. Two scenarios:

``cached``
    the default configuration: a passing result is reused for ``HEALTHCHECK_SUCCESS_TTL``
    (10 s), as probes meet it; the check runs once per TTL, so a run (a sample, a span) is
    rare and an answer reads the cached result.
``every request``
    the worst case, ``success_ttl=0``: every answer runs the check, and so records a sample
    and a span.

In each, the apps are:

- ``flask_healthcheck``, history off (``HEALTHCHECK_HISTORY_SIZE = 0``): the baseline;
- ``+ history``: the default history of 60 runs;
- ``+ history + OpenTelemetry``: and :func:`~flask_healthcheck.contrib.opentelemetry.instrument_app`
  with the SDK's tracer provider (a batch span processor to an exporter that drops what it
  gets) and meter provider (a reader that is never collected);
- each of the three again with ``HEALTHCHECK_SHARED_DIR`` set, which is how the workers of a
  gunicorn server keep results (the history is then written with each result's record);
- py-healthcheck and flask-healthz with the same check and caching, for reference.

The apps take turns answering a few requests each, many times over (the order rotating), and
each figure is the CPU time (``time.process_time``, every thread of the process) per answer. The
target: in the default configuration, history and spans together add under 5% to an answer's
CPU time, with and without the shared directory; the worst case is reported beside it. It
prints a table and writes ``bench/results/observability.json`` and the table beside it
(``observability.txt``), which docs/history.rst includes.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "observability.json"
TABLE = RESULTS.with_suffix(".txt")
#: Most the history and the spans together may add to an answer's CPU time.
TARGET = 0.05

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def check() -> tuple[bool, str]:
    return True, "ok"


def _ours(*, ttl: float, history: bool, spans: bool, shared_dir: str | None) -> WsgiApp:
    from flask_healthcheck import HealthCheck

    app = Flask("bench_observability")
    config: dict[str, Any] = {
        "HEALTHCHECK_SUCCESS_TTL": ttl,
        "HEALTHCHECK_STARTUP_GATE": [],
        "HEALTHCHECK_HISTORY_SIZE": 60 if history else 0,
    }
    if shared_dir is not None:
        config["HEALTHCHECK_SHARED_DIR"] = shared_dir
    app.config.update(config)
    health = HealthCheck(app)
    health.add_check(check, name="database")
    if spans:
        _instrument(app)
    return app.wsgi_app  # type: ignore[return-value]


def _instrument(app: Flask) -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    from flask_healthcheck.contrib.opentelemetry import instrument_app

    class Dropped(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(Dropped()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    instrument_app(app, tracer_provider=tracer_provider, meter_provider=meter_provider)


def _py_healthcheck(ttl: float) -> WsgiApp:
    from healthcheck import HealthCheck  # type: ignore[import-untyped]

    app = Flask("bench_py_healthcheck")
    ready = HealthCheck(success_ttl=ttl or None, failed_ttl=0)
    ready.add_check(check)
    app.add_url_rule("/healthz/ready", "ready", view_func=ready.run)
    return app.wsgi_app  # type: ignore[return-value]


def _flask_healthz(ttl: float) -> WsgiApp:
    """flask-healthz caches nothing: its function runs on every request whatever *ttl*."""
    from flask_healthz import HealthError, healthz  # type: ignore[import-untyped]

    def ready() -> None:
        passed, output = check()
        if not passed:
            raise HealthError(output)

    module = sys.modules[__name__]
    module.ready = ready  # type: ignore[attr-defined]
    app = Flask("bench_flask_healthz")
    app.config["HEALTHZ"] = {"live": lambda: None, "ready": f"{__name__}.ready"}
    app.register_blueprint(healthz, url_prefix="/healthz")
    return app.wsgi_app  # type: ignore[return-value]


def _environ() -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/healthz/ready",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_ACCEPT": "application/json",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }


def _answer(app: WsgiApp) -> str:
    statuses: list[str] = []
    body = app(_environ(), lambda status, headers, exc_info=None: statuses.append(status))
    b"".join(body)
    close = getattr(body, "close", None)
    if close is not None:
        close()
    return statuses[0]


def _cpu_per_answer(app: WsgiApp, answers: int) -> float:
    started = time.process_time()
    for _ in range(answers):
        status = _answer(app)
    took = time.process_time() - started
    if not status.startswith("200"):
        raise SystemExit(f"readiness answered {status}")
    return took / answers


#: Seconds a passing result is reused in each scenario.
SCENARIOS = {"cached": 10.0, "every request": 0.0}
SHARED = ", shared directory"
AGAIN = "flask_healthcheck, again"


def _scenario(ttl: float, cycles: int, block: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as shared_dir:
        apps: dict[str, WsgiApp] = {}
        for shared in (None, shared_dir):
            where = SHARED if shared else ""
            for name, history, spans in (
                ("flask_healthcheck", False, False),
                ("+ history", True, False),
                ("+ history + OpenTelemetry", True, True),
            ):
                apps[name + where] = _ours(ttl=ttl, history=history, spans=spans, shared_dir=shared)
        # The baseline twice: how far apart two identical apps come out is the noise.
        apps[AGAIN] = _ours(ttl=ttl, history=False, spans=False, shared_dir=None)
        apps["py-healthcheck"] = _py_healthcheck(ttl)
        apps["flask-healthz"] = _flask_healthz(ttl)
        for app in apps.values():  # warm up: imports, first results, caches
            _cpu_per_answer(app, 200)
        # Blocks of a few answers, the apps taking turns (the order rotating), many times
        # over: a drift of the machine's speed (another process, the CPU's clock) then falls
        # on every app alike. Whole-run medians of one app after another differed by 10%
        # between two identical apps; this way, by under 1%.
        cpu = dict.fromkeys(apps, 0.0)
        names = list(apps)
        for index in range(cycles):
            turn = index % len(names)
            for name in names[turn:] + names[:turn]:
                cpu[name] += _cpu_per_answer(apps[name], block) * block
    answers = cycles * block
    contestants = {
        name: {"cpu_us_per_answer": round(total / answers * 1e6, 2), "answers": answers}
        for name, total in cpu.items()
    }
    overheads: dict[str, float] = {}
    first, again = (contestants[name]["cpu_us_per_answer"] for name in ("flask_healthcheck", AGAIN))
    noise = round(abs(again - first) / first, 4)
    # The one-process baseline is the mean of its two measurements.
    contestants["flask_healthcheck"]["baseline_us"] = round((first + again) / 2, 2)
    for where in ("", SHARED):
        entry = contestants[f"flask_healthcheck{where}"]
        base = entry.get("baseline_us", entry["cpu_us_per_answer"])
        for added in ("+ history", "+ history + OpenTelemetry"):
            cost = contestants[f"{added}{where}"]["cpu_us_per_answer"]
            overheads[f"{added}{where}"] = round((cost - base) / base, 4)
    return {
        "success_ttl": ttl,
        "contestants": contestants,
        "overheads": overheads,
        "noise": noise,
    }


def run(cycles: int, block: int) -> dict[str, Any]:
    scenarios = {
        # A run every answer costs up to twenty times a cached one: smaller blocks.
        name: _scenario(ttl, cycles, block if ttl else max(1, block // 5))
        for name, ttl in SCENARIOS.items()
    }
    cached = scenarios["cached"]["overheads"]
    targets = {
        f"history and spans add under 5% CPU per answer, default configuration ({label})": (
            cached[f"+ history + OpenTelemetry{where}"] < TARGET
        )
        for label, where in (("one process", ""), ("shared directory", SHARED))
    }
    return {
        "meta": {
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cycles": cycles,
            "block": block,
            "packages": {
                name: metadata.version(name)
                for name in ("flask", "py-healthcheck", "flask-healthz", "opentelemetry-sdk")
            },
        },
        "scenarios": scenarios,
        "targets": targets,
    }


def table(results: dict[str, Any]) -> str:
    meta = results["meta"]
    lines = [
        f"Run on {meta['when']} with Python {meta['python']}: readiness with one instant check; "
        f"the apps take turns for {meta['cycles']} cycles of {meta['block']} answers (a fifth "
        "of that when every request runs the check); CPU time per answer (every thread of the "
        "process), in microseconds.",
        "",
        "| | cached (default TTL) | added | every request (TTL 0) | added |",
        "|---|---:|---:|---:|---:|",
    ]
    cached, every = results["scenarios"]["cached"], results["scenarios"]["every request"]
    for name in cached["contestants"]:
        cells = [name]
        for scenario in (cached, every):
            added = scenario["overheads"].get(name)
            cells += [
                f"{scenario['contestants'][name]['cpu_us_per_answer']:.1f}",
                "-" if added is None else f"{added * 100:+.1f}%",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Two identical apps (flask_healthcheck, again) came out {cached['noise'] * 100:.1f}% "
        f"apart when cached and {every['noise'] * 100:.1f}% when every request runs the check: "
        "the noise of this machine; the one-process figures are added to their mean.",
        "",
        *(f"- {'PASS' if held else 'FAIL'}: {name}" for name, held in results["targets"].items()),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.observability", description=__doc__)
    parser.add_argument("--cycles", type=int, default=600, help="turns of every app (600)")
    parser.add_argument("--block", type=int, default=50, help="answers per turn (50)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="the JSON file")
    args = parser.parse_args(argv)
    results = run(args.cycles, args.block)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    args.output.with_suffix(".txt").write_text(table(results) + "\n")
    print(table(results))
    return 0 if all(results["targets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
