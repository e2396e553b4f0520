"""An app with a background check that is always mid-run, for gunicorn ``--preload``.

The master loads the app and its scheduler starts the check, which takes 0.6 s every 0.3 s,
so the workers are forked while a run is in flight in the master.
"""

from __future__ import annotations

import os
import time

from flask import Flask

from flask_healthcheck import HealthCheck


def create_app() -> Flask:
    app = Flask("preload_app")
    health = HealthCheck(app, startup_gate=(), timeout=2.0)

    @health.check(period=0.3)
    def slow_dependency() -> tuple[bool, str]:
        time.sleep(0.6)
        return True, f"answered in process {os.getpid()}"

    return app
