"""The Celery app the tests' worker processes run, configured from environment variables.

``CELERY_TEST_BROKER_URL`` and ``CELERY_TEST_QUEUE`` choose the broker and the only queue;
the probe files come from ``HEALTHCHECK_CELERY_LIVENESS_FILE`` and
``HEALTHCHECK_CELERY_READINESS_FILE`` (the defaults of ``install_worker_probes``), touched
every ``CELERY_TEST_PROBE_INTERVAL`` seconds.
"""

from __future__ import annotations

import os
import time

from celery import Celery

from flask_healthcheck.contrib.celery_worker import install_worker_probes

QUEUE = os.environ.get("CELERY_TEST_QUEUE", "celery")

app = Celery("celery_probe_app", broker=os.environ.get("CELERY_TEST_BROKER_URL"))
app.conf.update(
    task_default_queue=QUEUE,
    broker_connection_retry_on_startup=True,
    worker_prefetch_multiplier=1,
    worker_hijack_root_logger=False,
)
install_worker_probes(app, interval=float(os.environ.get("CELERY_TEST_PROBE_INTERVAL", "1")))


@app.task(name="celery_probe_app.block")
def block(seconds: float) -> None:
    """Hold the worker: in the solo pool this blocks its event loop for *seconds*."""
    time.sleep(seconds)
