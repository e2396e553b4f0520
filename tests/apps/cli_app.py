"""The app the ``flask healthcheck`` tests run in a real ``flask`` process.

``CLI_APP_FAIL`` lists the checks that fail (comma-separated), ``CLI_APP_WARN`` those that pass
with a warning. ``database`` is critical; ``redis`` is not; ``disk`` is tagged ``live``.
"""

from __future__ import annotations

import os

from flask import Flask

from flask_healthcheck import CheckError, HealthCheck, Outcome


def _listed(variable: str) -> set[str]:
    return {name for name in os.environ.get(variable, "").split(",") if name}


def create_app() -> Flask:
    app = Flask("cli_app")
    health = HealthCheck(app)
    failing, warning = _listed("CLI_APP_FAIL"), _listed("CLI_APP_WARN")

    def outcome(name: str) -> Outcome:
        if name in failing:
            raise CheckError(f"{name} is down")
        return Outcome(True, f"{name} ok", warning=name in warning)

    health.add_check(lambda: outcome("database"), name="database")
    health.add_check(lambda: outcome("redis"), name="redis", critical=False, timeout=0.5)
    health.add_check(lambda: outcome("disk"), name="disk", tags=["live"])
    return app
