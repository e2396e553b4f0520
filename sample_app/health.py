"""The sample app's health checks, on the extension mounted at ``/healthz``.

Built-in checks are registered with ``add_check``, one line each; the app's own check uses the
``@health.check`` decorator. Which checks each endpoint runs:

``/healthz/live``
    Nothing shared: the app's own liveness state (and the request watchdog when
    ``HEALTHCHECK_REQUEST_WATCHDOG`` is set). No check is tagged ``live``, so the library
    answers it before Flask routes the request.
``/healthz/ready``
    ``database``, ``notes``, ``disk``, ``storage``, ``redis`` and ``celery_broker``, which are
    critical; ``celery_workers``, which only degrades the report unless
    ``CELERY_WORKERS_REQUIRED``; and ``celery_queues``, ``upstream_api``,
    ``upstream_certificate``, ``smtp``, ``memory`` and ``cpu``, which only degrade it: an API,
    a mail relay or a node that every pod shares
    would take every pod out of the Service at once, which cures nothing.
``/healthz/startup``
    Passes once every critical check has passed once, among them ``migrations``, ``models``
    and ``model:notes``, which are tagged ``startup``: a release whose schema is not there
    keeps its new pods from starting, without taking running pods out of service.
``/healthz``
    Everything.

A service this deployment does not configure keeps its check's name, so URLs such as
``/healthz/redis`` and dashboards are the same everywhere; the check passes and says
``not configured``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from flask_healthcheck import STARTUP, CheckError, HealthCheck
from flask_healthcheck.contrib.alembic import MigrationsCheck, ModelsCheck
from flask_healthcheck.contrib.celery import (
    CeleryBrokerCheck,
    CeleryQueueCheck,
    CeleryWorkersCheck,
)
from flask_healthcheck.contrib.certificates import CertificateCheck
from flask_healthcheck.contrib.network import HttpCheck, TcpCheck
from flask_healthcheck.contrib.redis import RedisCheck
from flask_healthcheck.contrib.sqlalchemy import DatabaseCheck, ModelCheck, describe_error
from flask_healthcheck.contrib.storage import StorageCheck
from flask_healthcheck.contrib.system import CpuCheck, DiskCheck, MemoryCheck

from .models import Note, db
from .services import Services

#: Disk limits of the instance folder's volume, in percent used.
DISK_WARN = 85.0
DISK_FAIL = 95.0

EAGER_TASKS = "tasks run eagerly in the web process"


class NotConfigured:
    """The check of a service this deployment does not use: it passes, saying so."""

    def __init__(self, name: str, output: str, *, critical: bool = True) -> None:
        self.name = name
        self.output = f"not configured: {output}"
        self.critical = critical  # as the check it stands for, so the report reads alike

    def __repr__(self) -> str:
        return f"NotConfigured({self.name!r})"

    def __call__(self) -> tuple[bool, str]:
        return True, self.output


def init_health(app: Flask) -> HealthCheck:
    """Register the sample app's checks on a new extension and mount it on *app*."""
    health = HealthCheck()
    register_checks(health, app)
    health.init_app(app)
    return health


def register_checks(health: HealthCheck, app: Flask) -> None:
    """The checks of *app*, which depend on the services its configuration names."""
    # The database answers, is at the migrations' head, matches the models, and takes a write.
    health.add_check(DatabaseCheck(db))
    health.add_check(MigrationsCheck())
    health.add_check(ModelsCheck(db))
    health.add_check(
        ModelCheck(Note, db, values={"body": "health probe"}), tags=[STARTUP], success_ttl=60
    )
    health.add_check(DiskCheck(app.instance_path, warn=DISK_WARN, fail=DISK_FAIL))
    # Where the app keeps its files takes a write: a read-only or unmounted volume, or a
    # bucket the credentials no longer reach, shows here before a user's upload fails.
    health.add_check(StorageCheck(app.config["STORAGE_URL"]))
    # The node's memory and CPU: a busy node degrades the report, and never fails it.
    health.add_check(MemoryCheck(warn=app.config["MEMORY_WARN_PERCENT"]), critical=False)
    health.add_check(CpuCheck(warn=app.config["CPU_WARN_PERCENT"]), critical=False)

    services = Services.of(app)
    if services.redis is not None:
        health.add_check(RedisCheck(services.redis))
    else:
        health.add_check(NotConfigured("redis", "set REDIS_URL to count visits in Redis"))

    if app.config["CELERY_BROKER_URL"] is not None:
        celery_app = app.extensions["celery"]
        health.add_check(CeleryBrokerCheck(celery_app))
        # Without workers tasks wait in the queue and requests still work, so by default
        # missing workers degrade the report; a deployment whose pages wait for task
        # results sets CELERY_WORKERS_REQUIRED=1 and readiness fails instead.
        health.add_check(
            CeleryWorkersCheck(celery_app), critical=app.config["CELERY_WORKERS_REQUIRED"]
        )
        queue = app.config["CELERY_QUEUE"]
        health.add_check(CeleryQueueCheck(celery_app, queues=[queue], warn=100, fail=1000))
    else:
        set_broker = "set CELERY_BROKER_URL to send them to workers"
        health.add_check(NotConfigured("celery_broker", f"{EAGER_TASKS}; {set_broker}"))
        no_workers = f"{EAGER_TASKS}, no worker is needed"
        required = app.config["CELERY_WORKERS_REQUIRED"]
        health.add_check(NotConfigured("celery_workers", no_workers, critical=required))
        nothing_queued = f"{EAGER_TASKS}, nothing is queued"
        health.add_check(NotConfigured("celery_queues", nothing_queued, critical=False))

    register_remote_services(health, app)

    @health.check(timeout=1.0)
    def notes() -> tuple[bool, str]:
        """The app's own query works: the notes table is there and readable."""
        try:
            # The primary key's index answers this at once, however many notes there are.
            latest = db.session.scalar(select(func.max(Note.id)))
        except SQLAlchemyError as exc:
            raise CheckError(f"cannot read the notes table: {describe_error(exc)}") from exc
        if latest is None:
            return True, "notes table readable, no note yet"
        return True, f"notes table readable, latest note #{latest}"


def register_remote_services(health: HealthCheck, app: Flask) -> None:
    """The services the app calls over the network, each only degrading the report: the
    upstream HTTP API and its certificate, and the SMTP relay."""
    upstream = app.config["UPSTREAM_HEALTH_URL"]
    if upstream is not None:
        health.add_check(
            HttpCheck(upstream, expected_status=range(200, 300), name="upstream_api"),
            critical=False,
        )
    else:
        set_upstream = "set UPSTREAM_HEALTH_URL to check the HTTP API the app depends on"
        health.add_check(NotConfigured("upstream_api", set_upstream, critical=False))
    parts = urlsplit(upstream or "")
    if parts.scheme == "https" and parts.hostname:
        # The API's certificate, hourly in the background: weeks of warning before it expires.
        # Each run checks in with a Sentry cron monitor (when SENTRY_DSN is set), which alerts
        # when the runs stop: every pod down, or the scheduler gone.
        certificate = CertificateCheck(
            parts.hostname, parts.port or 443, name="upstream_certificate", period=3600
        )
        health.add_check(certificate, critical=False, cron=True)
    else:
        set_https = "set UPSTREAM_HEALTH_URL to an https:// URL to watch its certificate"
        health.add_check(NotConfigured("upstream_certificate", set_https, critical=False))

    mail_server = app.config["MAIL_SERVER"]
    if mail_server is not None:
        port = app.config["MAIL_PORT"]
        health.add_check(TcpCheck(mail_server, port, name="smtp"), critical=False)
    else:
        set_relay = "set MAIL_SERVER (and MAIL_PORT) to check the SMTP relay"
        health.add_check(NotConfigured("smtp", set_relay, critical=False))
