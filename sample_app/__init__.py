"""A small Flask app that shows flask_healthcheck in use; ``python3 dev.py run`` serves it.

``create_app`` builds it: Flask-SQLAlchemy models with Alembic migrations (Flask-Migrate,
applied on start), optional Redis, Celery tasks (eager without a broker), optional Sentry, and
the health checks at ``/healthz``. With no environment variable set it needs no service at all;
see :mod:`sample_app.settings` for the variables that switch services on, and
``sample_app/README.md``.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask
from flask_migrate import Migrate

from .health import init_health
from .models import db
from .schema import MIGRATIONS, apply_migrations
from .sentry import init_sentry
from .services import Services
from .settings import database_url, engine_options, from_environment
from .tasks import celery_init_app
from .views import blueprint

__all__ = ["create_app", "make_app"]

migrate = Migrate(directory=MIGRATIONS)


def make_app(config: dict[str, Any] | None = None) -> Flask:
    """The app with everything but its health checks: configuration, database, migrations
    (applied unless ``MIGRATE_ON_START`` is off), Redis, Celery, Sentry and the views.

    *config* overrides what the environment says. ``create_app`` adds the health checks at
    ``/healthz``; :mod:`sample_app.open_event` adds the Open Event Server's ``/health-check``
    instead.
    """
    instance_path = os.environ.get("SAMPLE_INSTANCE_PATH")
    app = Flask(
        __name__,
        instance_path=os.path.abspath(instance_path) if instance_path else None,
        instance_relative_config=True,
    )
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(from_environment(app.instance_path))
    app.config.update(config or {})
    uri = database_url(app.config["SQLALCHEMY_DATABASE_URI"])
    app.config["SQLALCHEMY_DATABASE_URI"] = uri
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options(uri))

    init_sentry(app)
    db.init_app(app)
    migrate.init_app(app, db)
    Services.init_app(app)
    celery_init_app(app)
    app.register_blueprint(blueprint)
    if app.config["MIGRATE_ON_START"]:
        apply_migrations(app)
    return app


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The sample app, with its health checks at ``/healthz`` (``HEALTHCHECK_PATH``)."""
    app = make_app(config)
    init_health(app)
    return app
