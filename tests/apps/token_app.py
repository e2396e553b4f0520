"""An app whose check raises, behind ``HEALTHCHECK_TOKEN`` (from ``TOKEN_APP_TOKEN``)."""

from __future__ import annotations

import os

from flask import Flask

from flask_healthcheck import HealthCheck


def create_app() -> Flask:
    app = Flask("token_app")
    app.config["HEALTHCHECK_TOKEN"] = os.environ["TOKEN_APP_TOKEN"]
    health = HealthCheck(app, startup_gate=())

    @health.check
    def ledger() -> tuple[bool, str]:
        raise ConnectionError("ledger at 10.0.0.7:5432 refused the connection")

    return app
