"""A bare Flask route answering the bytes and headers of flask_healthcheck's liveness answer.

The answer is taken once, at import, from the library itself, so the two stay byte-for-byte
alike; serving it costs nothing but Flask and gunicorn, which is the floor the library is held to.
"""

from __future__ import annotations

from flask import Flask, Response

from flask_healthcheck import HealthCheck

NAME = "bare Flask"
LIVE_PATH = "/healthz/live"
READY_PATH = None
#: What the benchmark requests until the app has started, as a startup probe would.
STARTUP_PATH = LIVE_PATH


def _liveness_answer() -> tuple[bytes, str, str]:
    sample = Flask("liveness_sample")
    HealthCheck(sample)
    response = sample.test_client().get(LIVE_PATH)
    return response.data, response.mimetype or "application/json", response.headers["Cache-Control"]


def create_app() -> Flask:
    body, mimetype, cache_control = _liveness_answer()
    app = Flask(__name__)

    @app.route(LIVE_PATH)
    def live() -> Response:
        return Response(body, 200, mimetype=mimetype, headers={"Cache-Control": cache_control})

    return app
