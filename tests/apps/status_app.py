"""The app the metrics and status-page tests serve from a real server process.

``STATUS_APP_SWITCH`` names a file: the ``switch`` check passes while it exists, so a test can
flip it from outside the server. ``search`` always fails (non-critical) with an output that
holds markup, and ``database`` always passes. Results are never reused, so every request runs
the checks. ``/hello`` is the app's own page.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

from flask_healthcheck import HealthCheck


def create_app() -> Flask:
    app = Flask("status_app")
    # The access-log tests turn probe logging back on with it.
    app.config["HEALTHCHECK_LOG_PROBES"] = "STATUS_APP_LOG_PROBES" in os.environ
    # The page test counts the runs of each check: no start-up thread to run them too.
    if "STATUS_APP_NO_STARTUP_GATE" in os.environ:
        app.config["HEALTHCHECK_STARTUP_GATE"] = []
    health = HealthCheck(app, success_ttl=0, failed_ttl=0)
    switch = Path(os.environ["STATUS_APP_SWITCH"])

    @health.check
    def database() -> tuple[bool, str]:
        return True, "database ok"

    @health.check(name="switch")
    def switch_check() -> tuple[bool, str]:
        return (True, "switched on") if switch.exists() else (False, "switched off")

    @health.check(critical=False)
    def search() -> tuple[bool, str]:
        return False, "index <script>alert('stale')</script> is 3 days old"

    @app.get("/hello")
    def hello() -> str:
        return "hello"

    return app
