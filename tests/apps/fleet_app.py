"""A server of a fleet, for tests/test_fleet_servers.py: one pod of the "notes" service.

- ``database``: a :class:`~flask_healthcheck.contrib.sqlalchemy.DatabaseCheck` of the real
  PostgreSQL, ``shared=True``, reached through this pod's own proxy (``FLEET_DATABASE_URL``)
  that the test breaks;
- ``notes``: ``depends_on="database"``, its calls counted in ``CALLS_DIR``;
- ``models``: an expensive check with ``fleet_ttl=300``, its calls counted in ``CALLS_DIR``.

The pod's name is ``HEALTHCHECK_HOSTNAME``, its fleet store ``HEALTHCHECK_FLEET_URL``. Sentry
events go to files in ``SENTRY_DIR`` (one per event, from whichever worker sends it), and
fleet changes heard by ``on_change`` to lines of ``CHANGES_DIR/changes``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import sentry_sdk
import sqlalchemy
from flask import Flask

from flask_healthcheck import HealthCheck, StatusChange
from flask_healthcheck.contrib.sqlalchemy import DatabaseCheck
from tests.gunicorn_server import count_call
from tests.sentry_capture import FileTransport

TOKEN = "fleet-servers-token"


def create_app() -> Flask:
    sentry_sdk.init(
        dsn="http://public@127.0.0.1:9/1", transport=FileTransport(), default_integrations=False
    )
    app = Flask("fleet_app")
    app.config.update(
        HEALTHCHECK_FLEET_NAME="notes",
        HEALTHCHECK_SUCCESS_TTL=0.5,
        HEALTHCHECK_FAILED_TTL=0.5,
        HEALTHCHECK_TIMEOUT=1.0,
        HEALTHCHECK_FLEET_POD_TTL=5.0,
        HEALTHCHECK_TOKEN=TOKEN,
    )
    for key, value in os.environ.items():
        if key.startswith("HEALTHCHECK_") and key != "HEALTHCHECK_SHARED_DIR":
            try:
                app.config[key] = json.loads(value)
            except ValueError:
                app.config[key] = value
    health = HealthCheck()
    engine = sqlalchemy.create_engine(
        os.environ["FLEET_DATABASE_URL"], pool_pre_ping=True, connect_args={"connect_timeout": 1}
    )
    health.add_check(DatabaseCheck(engine, name="database", shared=True))

    @health.check(depends_on="database")
    def notes() -> tuple[bool, str]:
        count_call("notes")
        return True, "notes readable"

    @health.check(fleet_ttl=300, timeout=2.0)
    def models() -> tuple[bool, str]:
        count_call("models")
        time.sleep(0.05)
        return True, "models match the schema"

    changes = Path(os.environ["CHANGES_DIR"])

    @health.on_change
    def record(change: StatusChange) -> None:
        if change.kind == "fleet":
            line = json.dumps([change.name, change.passed, change.previous, change.output])
            # One file for the server, appended whole by each worker: the order of changes.
            with (changes / "changes").open("a") as lines:
                lines.write(line + "\n")

    health.init_app(app)
    return app
