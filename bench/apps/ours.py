"""flask_healthcheck, configured as its documentation suggests."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

import flask_healthcheck
from bench.apps.checks import (
    CACHING,
    HANG_DEADLINE,
    HANG_TIMEOUT,
    add_bare_route,
    checks_for,
    scenario,
)
from flask_healthcheck import HealthCheck

NAME = "flask_healthcheck"
LIVE_PATH = "/healthz/live"
READY_PATH = "/healthz/ready"
#: What the benchmark requests until the app has started, as a startup probe would.
STARTUP_PATH = "/healthz/startup"
#: Answers the directory of the flask_healthcheck package the server imported, so that the
#: benchmark can confirm it runs the library it meant to (see :mod:`bench.libraries`).
LIBRARY_PATH = "/__bench_library"


def create_app() -> Flask:
    name = scenario()
    caching = CACHING[name]
    options: dict[str, Any] = {
        "success_ttl": caching.success_ttl,
        "failed_ttl": caching.failed_ttl,
    }
    if name == "hang":
        options.update(deadline=HANG_DEADLINE, timeout=HANG_TIMEOUT)
    app = Flask(__name__)
    health = HealthCheck(app, **options)
    for check in checks_for(name):
        health.add_check(check)
    add_bare_route(app)

    @app.get(LIBRARY_PATH)
    def library() -> str:
        return os.path.dirname(os.path.abspath(flask_healthcheck.__file__))

    return app
