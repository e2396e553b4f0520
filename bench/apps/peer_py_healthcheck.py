"""py-healthcheck 1.10.1, used as its README shows: ``HealthCheck()`` plus ``add_url_rule``.

Liveness is an instance with no checks; readiness an instance with the scenario's checks. Its
``error_timeout`` stays 0 (the default): it is a SIGALRM timer, and under gunicorn's threaded
workers ``signal.signal`` raises in a request thread, which would fail every check.
"""

from __future__ import annotations

from flask import Flask
from healthcheck import HealthCheck  # type: ignore[import-untyped]

from bench.apps.checks import CACHING, add_bare_route, checks_for, scenario

NAME = "py-healthcheck"
LIVE_PATH = "/healthcheck/live"
READY_PATH = "/healthcheck/ready"
#: What the benchmark requests until the app has started, as a startup probe would.
STARTUP_PATH = READY_PATH


def create_app() -> Flask:
    name = scenario()
    caching = CACHING[name]
    app = Flask(__name__)
    live = HealthCheck()
    ready = HealthCheck(success_ttl=caching.success_ttl, failed_ttl=caching.failed_ttl)
    for check in checks_for(name):
        ready.add_check(check)
    app.add_url_rule(LIVE_PATH, "healthcheck_live", view_func=live.run)
    app.add_url_rule(READY_PATH, "healthcheck_ready", view_func=ready.run)
    add_bare_route(app)
    return app
