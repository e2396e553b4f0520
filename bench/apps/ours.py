"""flask_healthcheck, configured as its documentation suggests."""

from __future__ import annotations

from typing import Any

from flask import Flask

from bench.apps.checks import CACHING, HANG_DEADLINE, HANG_TIMEOUT, checks_for, scenario
from flask_healthcheck import HealthCheck

NAME = "flask_healthcheck"
LIVE_PATH = "/healthz/live"
READY_PATH = "/healthz/ready"
#: What the benchmark requests until the app has started, as a startup probe would.
STARTUP_PATH = "/healthz/startup"


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
    return app
