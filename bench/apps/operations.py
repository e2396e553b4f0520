"""flask_healthcheck for the operations scenarios, which measure it alone (no peer has these).

The scenario comes from ``BENCH_SCENARIO``:

``cli``
    an instant readiness check; the target of the exec probe's cold-start runs.
``probe_port``
    the same, with the probe port on ``BENCH_PROBE_PORT`` (``HEALTHCHECK_PROBE_PORT``).
``background``, ``on_request``, ``cached``
    one check that takes 20 ms, as a round trip to a database does, run three ways: in the
    background every second (``period=1``), on every request (``success_ttl=0``), or on
    request with its passing result reused for 10 s (``success_ttl=10``).

``/slow?seconds=N`` holds a request worker for N seconds, asleep as in a slow query, or with
``&cpu=1`` computing in pure Python. The app finishes starting in the factory where it can.
"""

from __future__ import annotations

import os
import time
from typing import Any

from flask import Flask, request

from bench.apps.checks import COUNTED_CHECK_SECONDS, checks_for
from flask_healthcheck import HealthCheck

NAME = "flask_healthcheck"
LIVE_PATH = "/healthz/live"
READY_PATH = "/healthz/ready"
STARTUP_PATH = "/healthz/startup"
#: The probe port's liveness path.
PROBE_LIVE_PATH = "/live"
SLOW_PATH = "/slow"
#: Seconds between two background runs of the check in the ``background`` scenario.
BACKGROUND_PERIOD = 1.0
CACHED_TTL = 10.0
#: The readiness modes, with what the docs table calls them.
MODES = {
    "background": f"background, period={BACKGROUND_PERIOD:g}",
    "on_request": "on request, success_ttl=0",
    "cached": f"on request, success_ttl={CACHED_TTL:g}",
}
SCENARIOS = ("cli", "probe_port", *MODES)


def scenario() -> str:
    name = os.environ.get("BENCH_SCENARIO", "")
    if name not in SCENARIOS:
        raise ValueError(f"BENCH_SCENARIO must be one of {', '.join(SCENARIOS)}; got {name!r}")
    return name


def database() -> tuple[bool, str]:
    time.sleep(COUNTED_CHECK_SECONDS)
    return True, "answered"


def create_app() -> Flask:
    name = scenario()
    options: dict[str, Any] = {}
    if name == "probe_port":
        options.update(probe_port=int(os.environ["BENCH_PROBE_PORT"]), probe_host="127.0.0.1")
    elif name == "on_request":
        options.update(success_ttl=0.0, failed_ttl=0.0)
    elif name == "cached":
        options.update(success_ttl=CACHED_TTL)
    app = Flask(__name__)
    health = HealthCheck(app, **options)
    if name == "background":
        health.add_check(database, period=BACKGROUND_PERIOD)
    elif name in MODES:
        health.add_check(database)
    else:
        health.add_check(checks_for("live")[0])
        with app.app_context():  # started before the fork: liveness passes from the first probe
            health.state(app).startup_report()

    @app.get(SLOW_PATH)
    def slow() -> str:
        due = time.monotonic() + min(float(request.args.get("seconds", "1")), 30.0)
        if request.args.get("cpu"):
            while time.monotonic() < due:  # pure Python: the GIL changes hands every 5 ms
                pass
        else:
            time.sleep(max(0.0, due - time.monotonic()))
        return "done"

    return app
