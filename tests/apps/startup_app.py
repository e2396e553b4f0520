"""An app with one critical check, a PostgreSQL database, for the start-up the workers of one
server share (``tests/test_availability.py``).

``STARTUP_DATABASE_URL`` names the database: the test points it at a TCP proxy of its own in
front of the real PostgreSQL, and breaks the proxy to take the database down. The settings are
the defaults. ``/pid`` answers the process id of the worker that serves it.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from flask import Flask

from flask_healthcheck import HealthCheck
from flask_healthcheck.contrib.sqlalchemy import DatabaseCheck


def create_app() -> Flask:
    app = Flask("startup_app")
    # No result reused, so that each answer shows the database as it is now: the workers
    # share their results, and a pass cached before the outage would be read as fresh.
    health = HealthCheck(app, success_ttl=0, failed_ttl=0)
    engine = sa.create_engine(os.environ["STARTUP_DATABASE_URL"])
    health.add_check(DatabaseCheck(engine))

    @app.get("/pid")
    def pid() -> str:
        return str(os.getpid())

    return app
