"""flask-healthz 1.0.1: its ``healthz`` blueprint and ``HEALTHZ`` dotted paths to functions.

flask-healthz runs one function per endpoint and has no notion of several checks, so readiness
is a function that calls the scenario's checks one after another, as a user would write it.
"""

from __future__ import annotations

from flask import Flask
from flask_healthz import HealthError, healthz  # type: ignore[import-untyped]

from bench.apps.checks import add_bare_route, checks_for, scenario

NAME = "flask-healthz"
LIVE_PATH = "/healthz/live"
READY_PATH = "/healthz/ready"
#: What the benchmark requests until the app has started, as a startup probe would.
STARTUP_PATH = READY_PATH

_CHECKS = checks_for(scenario())


def ready() -> None:
    for check in _CHECKS:
        passed, output = check()
        if not passed:
            raise HealthError(output)


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["HEALTHZ"] = {
        "live": "bench.apps.checks.liveness",
        "ready": f"{__name__}.ready",
    }
    app.register_blueprint(healthz, url_prefix="/healthz")
    add_bare_route(app)
    return app
