"""An app with a background check that reports to a Sentry cron monitor, for gunicorn.

Its Sentry client writes each check-in it sends to a file of its own in ``SENTRY_DIR`` (with
the process id that sent it), so that a test can count the check-ins of the whole server;
``flipping`` passes and fails in turn, so that every run checks in.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import sentry_sdk
from flask import Flask
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from flask_healthcheck import HealthCheck
from tests.gunicorn_server import count_call


class FileTransport(Transport):
    """Writes each check-in the client sends to a file of its own."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.directory = Path(os.environ["SENTRY_DIR"])

    def capture_envelope(self, envelope: Envelope) -> None:
        for item in envelope.items:
            if item.type == "check_in" and item.payload.json is not None:
                path = self.directory / f"{os.getpid()}-{uuid.uuid4().hex}.json"
                path.write_text(json.dumps({**item.payload.json, "pid": os.getpid()}))


def create_app() -> Flask:
    sentry_sdk.init(
        dsn="http://public@127.0.0.1:9/1", transport=FileTransport(), default_integrations=False
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
