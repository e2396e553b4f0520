"""A Celery worker module that builds a Flask app with ``HEALTHCHECK_PROBE_PORT`` set."""

from __future__ import annotations

import os

from celery import Celery
from flask import Flask

from flask_healthcheck import HealthCheck

flask_app = Flask("worker_side")
flask_app.config["HEALTHCHECK_PROBE_PORT"] = int(os.environ["PROBE_PORT"])
flask_app.config["HEALTHCHECK_PROBE_HOST"] = "127.0.0.1"
HealthCheck(flask_app)

celery = Celery("worker_side", broker="memory://")
