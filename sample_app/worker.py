"""The Celery worker's module: ``celery -A sample_app.worker worker``.

It builds the Flask app (the tasks run in its application context) and installs the probe files
that ``flask-healthcheck worker`` reads in the worker's container: a liveness file the worker's
event loop touches every ``WORKER_PROBE_INTERVAL`` seconds, and a readiness file that exists
while the worker takes tasks. Their paths come from ``HEALTHCHECK_CELERY_LIVENESS_FILE`` and
``HEALTHCHECK_CELERY_READINESS_FILE`` (default ``celery_worker.live`` and ``celery_worker.ready``
in the temporary directory), which the worker command reads too.

The worker serves no HTTP: the probe port and the SIGTERM drain handler of the extension are
turned off here whatever the environment says (Celery handles its own shutdown).
"""

from __future__ import annotations

from celery import Celery

from flask_healthcheck.contrib.celery_worker import install_worker_probes

from . import create_app
from .tasks import WORKER_PROBE_INTERVAL

flask_app = create_app({"HEALTHCHECK_PROBE_PORT": None, "HEALTHCHECK_DRAIN_SECONDS": 0})
celery_app: Celery = flask_app.extensions["celery"]
probes = install_worker_probes(celery_app, interval=WORKER_PROBE_INTERVAL)
