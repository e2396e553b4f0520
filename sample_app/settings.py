"""The sample app's configuration, read from the environment with embedded defaults.

With no variable set the app runs on its own: SQLite in the instance folder, no Redis, Celery
tasks run eagerly in the web process, no Sentry. Each variable below switches one service on.

``DATABASE_URL``
    A SQLAlchemy URL, such as ``postgresql://user:password@db:5432/notes``. ``postgres://`` and
    ``postgresql://`` use psycopg 3, ``mysql://`` and ``mariadb://`` PyMySQL.
``REDIS_URL``
    ``redis://redis:6379/0``: visits are counted there, and the ``redis`` check runs.
``CELERY_BROKER_URL``
    ``redis://redis:6379/1`` or ``amqp://guest:guest@rabbitmq:5672//``: tasks go to workers
    (``celery -A sample_app.worker worker``) instead of running in the web process.
``CELERY_RESULT_BACKEND``
    Where workers store task results (optional).
``CELERY_QUEUE``
    The queue tasks are sent to and workers consume (default ``celery``).
``CELERY_WORKERS_REQUIRED``
    ``1``: readiness fails while no worker answers a ping (by default it only degrades).
``STORAGE_URL``
    Where the app keeps its files: a directory or an fsspec URL (``s3://bucket/notes``, which
    needs the backend of its scheme, such as s3fs). Default: the instance folder. The
    ``storage`` check writes, reads back and deletes a probe file there.
``UPSTREAM_HEALTH_URL``
    The health endpoint of an HTTP API the app depends on (``http://search:8080/health``):
    the ``upstream_api`` check asks it and expects a 2xx answer.
``MAIL_SERVER``, ``MAIL_PORT``
    The SMTP relay mail goes through (Flask-Mail's names; the port defaults to 25): the
    ``smtp`` check connects to it.
``MEMORY_WARN_PERCENT``, ``CPU_WARN_PERCENT``
    From how much memory in use (default 85) and CPU busy (default 90), in percent, the
    ``memory`` and ``cpu`` checks degrade the report; they never fail it.
``SENTRY_DSN``
    Turns Sentry on (``SENTRY_ENVIRONMENT`` and ``SENTRY_TRACES_SAMPLE_RATE`` are read too).
``MIGRATE_ON_START``
    ``0``: do not apply the migrations when the app starts (default ``1``).
``SAMPLE_INSTANCE_PATH``
    The instance folder (default: ``instance/`` beside the ``sample_app`` package).
``HEALTHCHECK_*``
    Any setting of the extension, such as ``HEALTHCHECK_TOKEN=secret`` or
    ``HEALTHCHECK_PROBE_PORT=8081``; numbers, booleans and lists are read as JSON
    (``HEALTHCHECK_STARTUP_GATE='["ready"]'``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import make_url

from flask_healthcheck import Settings

#: Settings of the extension whose values are text, never JSON.
TEXT_SETTINGS = frozenset({"path", "token", "hostname", "probe_host"})

_DRIVERS = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}

#: The SMTP port when ``MAIL_PORT`` is not set.
SMTP_PORT = 25
#: Percentages of memory in use and of CPU busy from which the report is degraded.
#: (The library's defaults: on a shared node these say "busy", not "broken".)
MEMORY_WARN_PERCENT = 85.0
CPU_WARN_PERCENT = 90.0

#: Seconds to wait for a database connection; the checks bound their statements themselves.
CONNECT_TIMEOUT = 3


def flag(value: str | None, default: bool = False) -> bool:
    """``1``, ``true``, ``yes`` and ``on`` are true; ``0``, ``false``, ``no``, ``off`` false."""
    if value is None or not value.strip():
        return default
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected 1/0, true/false, yes/no or on/off; got {value!r}")


def number(value: str | None, default: float) -> float:
    """*value* as a number, *default* when it is unset or empty."""
    if value is None or not value.strip():
        return default
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"expected a number; got {value!r}") from None


def database_url(url: str) -> str:
    """*url* with the driver this project installs, when it names none (``postgres://``)."""
    scheme, separator, rest = url.partition("://")
    if separator and scheme in _DRIVERS:
        return f"{_DRIVERS[scheme]}://{rest}"
    return url


def engine_options(url: str) -> dict[str, Any]:
    """Engine options for *url*: a bounded connect time, and connections checked on checkout."""
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        return {}
    return {"pool_pre_ping": True, "connect_args": {"connect_timeout": CONNECT_TIMEOUT}}


def healthcheck_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """The ``HEALTHCHECK_*`` variables of *environ*, as config values (validated by init_app)."""
    config: dict[str, Any] = {}
    for option in Settings.option_names():
        key = Settings.key(option)
        raw = environ.get(key)
        if raw is None or raw == "":
            continue
        if option in TEXT_SETTINGS:
            config[key] = raw
            continue
        try:
            config[key] = json.loads(raw)
        except ValueError:
            config[key] = raw  # init_app names the key and the values it accepts
    return config


def from_environment(instance_path: str, environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """The app's configuration from *environ*, with embedded defaults for what is unset."""
    sqlite_path = os.path.join(instance_path, "notes.sqlite3")
    return {
        "SQLALCHEMY_DATABASE_URI": environ.get("DATABASE_URL") or f"sqlite:///{sqlite_path}",
        "REDIS_URL": environ.get("REDIS_URL") or None,
        "CELERY_BROKER_URL": environ.get("CELERY_BROKER_URL") or None,
        "CELERY_RESULT_BACKEND": environ.get("CELERY_RESULT_BACKEND") or None,
        "CELERY_QUEUE": environ.get("CELERY_QUEUE") or "celery",
        "CELERY_WORKERS_REQUIRED": flag(environ.get("CELERY_WORKERS_REQUIRED")),
        "STORAGE_URL": environ.get("STORAGE_URL") or instance_path,
        "UPSTREAM_HEALTH_URL": environ.get("UPSTREAM_HEALTH_URL") or None,
        "MAIL_SERVER": environ.get("MAIL_SERVER") or None,
        "MAIL_PORT": int(environ.get("MAIL_PORT") or SMTP_PORT),
        "MEMORY_WARN_PERCENT": number(environ.get("MEMORY_WARN_PERCENT"), MEMORY_WARN_PERCENT),
        "CPU_WARN_PERCENT": number(environ.get("CPU_WARN_PERCENT"), CPU_WARN_PERCENT),
        "SENTRY_DSN": environ.get("SENTRY_DSN") or None,
        "MIGRATE_ON_START": flag(environ.get("MIGRATE_ON_START"), default=True),
        **healthcheck_settings(environ),
    }
