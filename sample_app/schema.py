"""Migrations applied when the app starts: ``flask_migrate.upgrade()`` in the app factory.

Upgrading to the head revision is idempotent, so every process may do it: the first one
applies what is pending, the others find nothing to do. On PostgreSQL the processes take turns
through an advisory lock, so that two pods starting together do not both create the tables.

A database that cannot be reached does not stop the app from starting: the error is logged,
the app serves its health endpoints, and the ``migrations`` check (tagged ``startup``) keeps
the startup probe failing with the reason until a restart finds the database and upgrades it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import flask_migrate
from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from flask_healthcheck.contrib.sqlalchemy import describe_engine, describe_error

from .models import db

#: Flask-Migrate's directory of this app: ``sample_app/migrations``.
MIGRATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")

#: ``-x`` argument that tells ``migrations/env.py`` to leave the app's logging alone
#: (``flask db ...`` configures logging from ``alembic.ini``, which the app must not do).
KEEP_APP_LOGGING = "logging=app"

#: Key of the PostgreSQL advisory lock held while upgrading.
ADVISORY_LOCK_KEY = 0x5A3D_1E00


@contextlib.contextmanager
def migration_lock(engine: Engine) -> Iterator[None]:
    """Hold a lock that one process at a time may hold while it upgrades (PostgreSQL only).

    Elsewhere nothing is locked: SQLite serialises writers itself, and the loser of a race
    finds the revision applied.
    """
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})


def apply_migrations(app: Flask) -> bool:
    """Upgrade the app's database to the head revision; False when the database failed."""
    with app.app_context():
        engine = db.engine
        try:
            with migration_lock(engine):
                flask_migrate.upgrade(x_arg=KEEP_APP_LOGGING)
        except SQLAlchemyError as exc:
            app.logger.error(
                "cannot apply the migrations to the %s on start: %s; the startup probe fails "
                "until a restart can upgrade it (or run 'flask --app sample_app db upgrade')",
                describe_engine(engine),
                describe_error(exc),
            )
            return False
    return True
