"""The app of the probe-port tests under gunicorn (``tests/test_probe_port_server.py``).

Its probe port is ``PROBE_PORT``, on 127.0.0.1. Every answer that goes through Flask says which
process made it, in ``X-Worker-Pid``. ``/hold`` keeps a request worker (a thread of it) busy
until the file ``release`` appears in ``CALLS_DIR`` (at most 30 s), and counts its calls as
``hold`` (:func:`~tests.gunicorn_server.count_call`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from flask import Flask, Response

from flask_healthcheck import HealthCheck
from tests.gunicorn_server import count_call


def create_app() -> Flask:
    app = Flask("probe_port_app")
    HealthCheck(app, probe_port=int(os.environ["PROBE_PORT"]), probe_host="127.0.0.1")
    release = Path(os.environ["CALLS_DIR"]) / "release"

    @app.after_request
    def say_who_answered(response: Response) -> Response:
        response.headers["X-Worker-Pid"] = str(os.getpid())
        return response

    @app.get("/hold")
    def hold() -> str:
        count_call("hold")
        due = time.monotonic() + 30
        while not release.exists() and time.monotonic() < due:
            time.sleep(0.02)
        return "released"

    return app
