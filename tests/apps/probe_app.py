"""The app the probe-port tests serve with gunicorn and Flask's development server.

``HEALTHCHECK_*`` keys come from ``FLASK_HEALTHCHECK_*`` environment variables (so
``FLASK_HEALTHCHECK_PROBE_PORT=8081`` sets the probe port). ``/slow?seconds=N`` holds a request
worker for N seconds; the ``worker`` check (tagged ``ready``) says which process answered.
The app runs its start-up checks in the factory, so liveness passes from the first probe.
"""

from __future__ import annotations

import os
import time

from flask import Flask, request

from flask_healthcheck import HealthCheck


def create_app() -> Flask:
    app = Flask("probe_app")
    app.config.from_prefixed_env()
    health = HealthCheck(app, success_ttl=0, failed_ttl=0)

    @health.check(name="worker")
    def worker() -> tuple[bool, str]:
        return True, f"pid {os.getpid()}"

    @app.get("/")
    def index() -> str:
        return "main port"

    @app.get("/slow")
    def slow() -> str:
        time.sleep(min(float(request.args.get("seconds", "10")), 20.0))
        return "slept"

    with app.app_context():
        health.state(app).startup_report()
    return app
