"""The Open Event Server's health check, written as its blog post wrote it, on this library.

``HealthCheck(current_app, "/health-check")`` and ``health.add_check(health_check_db)``: the
Runscope ``healthcheck`` form, which keeps working unchanged. Serve it with::

    flask --app sample_app.open_event run

It is the same app as :func:`sample_app.create_app` (models, migrations, Redis, Celery,
Sentry), with the Open Event Server's checks at ``/health-check`` instead of the checks at
``/healthz``: an app has one ``HealthCheck``. ``GET /health-check`` answers the Runscope report
(``status``, ``results`` of ``checker``, ``output``, ``passed``, ``timestamp``, ``expires``),
and the library adds what the Runscope library did not have: ``/health-check/ready``,
``/live``, ``/startup``, one check per URL, timeouts and caching.

The checks are plain functions returning ``(passed, output)``, as in the post: the database,
"models in line with the migrations", the Celery workers and Redis.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app
from sqlalchemy import text

from flask_healthcheck import HealthCheck
from flask_healthcheck.contrib.alembic import ModelsCheck

from . import make_app
from .models import db
from .sentry import capture_exception
from .services import Services


def health_check_db() -> tuple[bool, str]:
    """
    Check health status of db
    :return:
    """
    try:
        db.session.execute(text("SELECT 1"))
        return True, "database ok"
    except Exception:
        capture_exception()
        return False, "Error connecting to database"


def health_check_migrations() -> tuple[bool, str]:
    """The sqlalchemy models are in line with the migrations."""
    outcome = ModelsCheck(db)()
    if outcome.passed:
        return True, "database models in line with the migrations"
    return False, outcome.output


def health_check_celery() -> tuple[bool, str]:
    """Celery workers answer a ping (tasks run eagerly when no broker is configured)."""
    if current_app.config["CELERY_BROKER_URL"] is None:
        return True, "celery not configured: tasks run eagerly"
    try:
        replies = current_app.extensions["celery"].control.ping(timeout=1.0)
    except Exception:
        capture_exception()
        return False, "Error connecting to the celery broker"
    if not replies:
        return False, "No celery worker answered"
    return True, f"celery ok: {len(replies)} worker(s)"


def health_check_redis() -> tuple[bool, str]:
    """Redis answers PING (when configured)."""
    client = Services.of(current_app).redis
    if client is None:
        return True, "redis not configured"
    try:
        client.ping()
        return True, "redis ok"
    except Exception:
        capture_exception()
        return False, "Error connecting to redis"


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The sample app with the Open Event Server's checks at ``/health-check``."""
    app = make_app(config)
    with app.app_context():
        health = HealthCheck(current_app, "/health-check")
        health.add_check(health_check_db)
        health.add_check(health_check_migrations)
        health.add_check(health_check_celery)
        health.add_check(health_check_redis)
    return app
