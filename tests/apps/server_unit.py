"""An app whose workers must act as one health unit, for the multi-worker acceptance tests.

- ``flooded``: a check of a dependency that takes 20 ms, passing results reused for 1 s: under
  a readiness flood the whole server should call it about once a second.
- ``background``: a background check (every ``UNIT_PERIOD`` seconds, timeout ``UNIT_TIMEOUT``)
  that hangs for 30 s while the file ``hang`` exists in ``CALLS_DIR``, as a call to a
  dependency that stopped answering would: it never returns in time, even after the
  dependency is back.
- ``database``: a background :class:`~flask_healthcheck.contrib.sqlalchemy.DatabaseCheck` of
  the real PostgreSQL (``UNIT_DATABASE_URL``), opened before the fork with ``--preload``.

``/pid``, and the ``X-Worker-Pid`` header of every answer, say which worker answered.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import sqlalchemy
from flask import Flask, Response

from flask_healthcheck import HealthCheck
from flask_healthcheck.contrib.sqlalchemy import DatabaseCheck
from tests.gunicorn_server import count_call


def create_app() -> Flask:
    app = Flask("server_unit")
    health = HealthCheck(app, deadline=3.0)
    period = float(os.environ.get("UNIT_PERIOD", "1"))
    timeout = float(os.environ.get("UNIT_TIMEOUT", "0.5"))
    calls = Path(os.environ["CALLS_DIR"])

    @health.check(success_ttl=1.0)
    def flooded() -> tuple[bool, str]:
        count_call("flooded")
        time.sleep(0.02)
        return True, "answered"

    @health.check(period=period, timeout=timeout, failed_ttl=0, max_age=10)
    def background() -> tuple[bool, str]:
        count_call("background")
        if (calls / "hang").exists():
            time.sleep(30)
        return True, f"answered in process {os.getpid()}"

    engine = sqlalchemy.create_engine(os.environ["UNIT_DATABASE_URL"], pool_pre_ping=True)
    engine.connect().close()  # a connection in the pool before the fork, as apps often have
    # A generous maximum age: on a machine loaded by the test's own flood, a late scheduler
    # round must not read as a stale database.
    health.add_check(DatabaseCheck(engine, name="database", period=0.5, max_age=10))

    @app.get("/pid")
    def pid() -> str:
        return str(os.getpid())

    @app.after_request
    def say_which_worker(response: Response) -> Response:
        response.headers["X-Worker-Pid"] = str(os.getpid())
        return response

    return app
