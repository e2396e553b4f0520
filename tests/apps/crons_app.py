"""An app with a background check that reports to a Sentry cron monitor, for gunicorn.

Its Sentry client writes each check-in it sends to a file of its own in ``SENTRY_DIR`` (with
the process id that sent it), so that a test can count the check-ins of the whole server;
``flipping`` passes and fails in turn, so that every run checks in.
"""

from __future__ import annotations

import sentry_sdk
from flask import Flask

from flask_healthcheck import HealthCheck
from tests.gunicorn_server import count_call
from tests.sentry_capture import FileTransport


def create_app() -> Flask:
    sentry_sdk.init(
        dsn="http://public@127.0.0.1:9/1",
        transport=FileTransport(("check_in",)),
        default_integrations=False,
    )
    app = Flask("crons_app")
    health = HealthCheck(app)
    runs = {"count": 0}

    @health.check(period=0.2, timeout=1, cron="flipping-db")
    def flipping() -> tuple[bool, str]:
        count_call("flipping")
        runs["count"] += 1
        return runs["count"] % 2 == 1, "flips"

    return app
