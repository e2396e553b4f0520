"""Celery: one Celery app per Flask app (Flask's own pattern), and the sample's tasks.

Without ``CELERY_BROKER_URL`` the broker is Celery's in-process ``memory://`` transport and
tasks run eagerly, inside the request that sends them: no service is needed. With a broker URL
(Redis or RabbitMQ) tasks go to the workers of ``celery -A sample_app.worker worker``.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, Task, shared_task
from flask import Flask, current_app
from sqlalchemy import func, select

from .models import Note, db

#: The broker used when ``CELERY_BROKER_URL`` is not set: in-process, with eager tasks.
IN_PROCESS_BROKER = "memory://"

#: Seconds between two touches of a worker's liveness file (``sample_app.worker``); the
#: worker probes allow at least twice that (``flask-healthcheck worker --max-age``).
WORKER_PROBE_INTERVAL = 60.0


def uses_broker(app: Flask) -> bool:
    """True when tasks go to a real broker; False when they run eagerly in the web process."""
    return app.config["CELERY_BROKER_URL"] is not None


def celery_init_app(app: Flask) -> Celery:
    """Make the Celery app of *app*; its tasks run inside *app*'s application context."""

    class FlaskTask(Task):  # type: ignore[misc]
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    broker = app.config["CELERY_BROKER_URL"]
    celery_app = Celery(app.import_name, task_cls=FlaskTask)
    celery_app.conf.update(
        broker_url=broker or IN_PROCESS_BROKER,
        result_backend=app.config["CELERY_RESULT_BACKEND"],
        task_default_queue=app.config["CELERY_QUEUE"],
        task_ignore_result=True,
        task_always_eager=broker is None,
        task_eager_propagates=True,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app


def send(task: Task, *args: Any) -> Any:
    """Send *task* with the Celery app of the current Flask app.

    ``task.delay()`` would use Celery's default app, which is the one made last: in a process
    with several Flask apps (a test suite) that may belong to another app.
    """
    celery_app: Celery = current_app.extensions["celery"]
    return celery_app.tasks[task.name].delay(*args)


@shared_task(ignore_result=False)
def count_words(note_id: int) -> int | None:
    """Store the number of words of a note; returns it (None when the note is gone)."""
    note = db.session.get(Note, note_id)
    if note is None:
        return None
    note.words = len(note.body.split())
    db.session.commit()
    return note.words


@shared_task(ignore_result=False)
def count_notes() -> int:
    """The number of notes, counted by whoever runs the task."""
    return int(db.session.scalar(select(func.count()).select_from(Note)) or 0)
