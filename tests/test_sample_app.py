"""The sample app: its checks on embedded defaults and on real services, the Open Event Server's
Runscope form, the migrations applied on start, eager and real Celery tasks, Sentry, and
``flask run``."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from psycopg import sql
from sqlalchemy import inspect, select, text
from werkzeug.serving import make_server

from flask_healthcheck import LIVE, READY, STARTUP, ConfigurationError
from flask_healthcheck.contrib.alembic import ModelsCheck
from sample_app import create_app, open_event
from sample_app.models import Note, db
from sample_app.schema import ADVISORY_LOCK_KEY, apply_migrations
from sample_app.settings import database_url
from sample_app.tasks import count_notes, send

from .app_server import get
from .contrib.test_certificates import Authority, TlsServer
from .sample_env import isolate
from .services import POSTGRES, RABBITMQ, REDIS, free_port, private_redis, require

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HEAD = "e97a626ec1d7"


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty instance folder for the app, and an environment without the app's variables."""
    return isolate(monkeypatch, tmp_path)


@pytest.fixture
def make_app() -> Iterator[Callable[..., Flask]]:
    """``create_app`` (or another factory); the apps' connections are closed at teardown."""
    apps: list[Flask] = []

    def factory(config: dict[str, Any] | None = None, build: Callable[..., Flask] = create_app):
        app = build(config)
        apps.append(app)
        compare_once(app)
        return app

    yield factory
    for app in apps:
        close_connections(app)


def compare_once(app: Flask) -> None:
    """Give the background checks (the models comparison) their first result now, as their
    first scheduled run would a moment after start-up, so a test's first request reads it."""
    health = app.extensions.get("healthcheck")
    if health is None:
        return
    background = [spec.name for spec in health.checks if spec.period is not None]
    if background:
        health.run(background, app=app)


def close_connections(app: Flask) -> None:
    for check in app.extensions["healthcheck"].checks:
        close = getattr(check.func, "close", None)
        if callable(close):
            close()
    redis_client = app.extensions["sample_app"].redis
    if redis_client is not None:
        redis_client.close()
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose()


def results(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {result["checker"]: result for result in body["results"]}


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A PostgreSQL database of its own for one test, dropped afterwards; yields its URL."""
    require(POSTGRES)
    name = f"sample_app_{uuid.uuid4().hex[:12]}"
    server = f"postgresql://postgres@{POSTGRES.host}:{POSTGRES.port}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"postgresql+psycopg://postgres@{POSTGRES.host}:{POSTGRES.port}/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


# -- embedded defaults --------------------------------------------------------------------


def test_fresh_app_answers_healthz_200_on_sqlite_with_services_not_configured(
    instance: Path, make_app: Callable[..., Flask]
) -> None:
    client = make_app().test_client()

    response = client.get("/healthz")

    assert response.status_code == 200, response.json
    assert response.json["status"] == "success"
    checks = results(response.json)
    assert checks["database"]["output"].startswith("answered in ")
    assert str(instance) not in response.get_data(as_text=True)  # no file path in public
    assert checks["migrations"]["output"] == (
        f"database is at the head revision {HEAD} (Create the notes table)"
    )
    assert checks["models"]["output"] == "models match the database schema"
    assert checks["model:notes"]["passed"]
    assert checks["notes"]["output"] == "notes table readable, no note yet"
    for name in (
        "redis",
        "celery_broker",
        "celery_workers",
        "celery_queues",
        "upstream_api",
        "upstream_certificate",
        "smtp",
    ):
        assert checks[name]["passed"]
        assert checks[name]["output"].startswith("not configured: ")
    assert checks["storage"]["output"].startswith("wrote, read back and deleted a probe file")
    assert checks["memory"]["passed"]
    assert checks["cpu"]["passed"]
    # The node's memory and CPU are the machine's: a busy test machine may degrade the report.
    assert set(response.json["warnings"]) <= {"memory", "cpu"}
    for endpoint in ("live", "ready", "startup"):
        assert client.get(f"/healthz/{endpoint}").status_code == 200


def test_probes_select_the_checks_that_fit_them(
    instance: Path, make_app: Callable[..., Flask]
) -> None:
    checks = make_app().extensions["healthcheck"].checks

    assert [check.name for check in checks if LIVE in check.tags] == []
    assert {check.name for check in checks if STARTUP in check.tags} == {
        "migrations",
        "models",
        "model:notes",
    }
    assert {check.name for check in checks if READY in check.tags} == {
        "database",
        "notes",
        "disk",
        "storage",
        "memory",
        "cpu",
        "redis",
        "celery_broker",
        "celery_workers",
        "celery_queues",
        "upstream_api",
        "upstream_certificate",
        "smtp",
    }
    critical = {check.name for check in checks if check.critical}
    remote = {"upstream_api", "upstream_certificate", "smtp"}
    assert not {"memory", "cpu", "celery_queues", *remote} & critical
    assert {"database", "notes", "disk", "storage", "redis", "celery_broker"} <= critical


def test_migrations_are_applied_on_start_and_again_without_change(
    instance: Path, make_app: Callable[..., Flask]
) -> None:
    first = make_app()
    second = make_app()  # a second process on the same database: nothing left to apply

    with second.app_context():
        inspector = inspect(db.engine)
        assert set(inspector.get_table_names()) == {"alembic_version", "notes"}
        versions = db.session.execute(text("SELECT version_num FROM alembic_version")).all()
        assert versions == [(HEAD,)]
    assert first.test_client().get("/healthz/startup").status_code == 200


def test_without_migrations_on_start_the_startup_probe_names_the_pending_migration(
    instance: Path, make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The models comparison runs in the background every minute; this test sees the next one.
    monkeypatch.setattr(ModelsCheck, "period", 0.2)
    app = make_app({"MIGRATE_ON_START": False, "HEALTHCHECK_FAILED_TTL": 0})
    client = app.test_client()

    response = client.get("/healthz/startup")
    assert response.status_code == 503
    migrations = results(response.json)["migrations"]
    assert not migrations["passed"]
    assert "no migration has been applied (1 pending migration)" in migrations["output"]
    assert "flask db upgrade" in migrations["output"]

    assert apply_migrations(app)
    wait_for(lambda: client.get("/healthz/startup").status_code == 200, 15, "startup to pass")


def test_unreachable_database_at_start_leaves_the_app_serving_its_probes(
    instance: Path, make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/notes"

    app = make_app({"SQLALCHEMY_DATABASE_URI": url})

    assert "cannot apply the migrations" in caplog.text
    assert "connection refused" in caplog.text
    response = app.test_client().get("/healthz/startup")
    assert response.status_code == 503
    database = results(response.json)["database"]
    assert "connection refused" in database["output"]


def test_eager_tasks_run_inside_the_request_on_defaults(
    instance: Path, make_app: Callable[..., Flask]
) -> None:
    app = make_app()
    client = app.test_client()

    response = client.post("/notes", json={"body": "three short words"})

    assert response.status_code == 201
    assert response.json["queued"] is False
    assert response.json["note"]["words"] == 3
    with app.test_request_context():
        assert send(count_notes).get() == 1
    assert client.get("/").json["notes"] == 1
    assert client.post("/notes", json={"body": " "}).status_code == 400
    assert client.get("/healthz/notes").json["results"][0]["output"] == (
        "notes table readable, latest note #1"
    )


def test_settings_of_the_extension_come_from_the_environment(
    instance: Path, make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEALTHCHECK_TOKEN", "12345")
    monkeypatch.setenv("HEALTHCHECK_DEADLINE", "5")
    monkeypatch.setenv("HEALTHCHECK_STARTUP_GATE", '["ready"]')

    config = make_app().config

    assert config["HEALTHCHECK_TOKEN"] == "12345"
    assert config["HEALTHCHECK_DEADLINE"] == 5
    assert config["HEALTHCHECK_STARTUP_GATE"] == ["ready"]

    monkeypatch.setenv("HEALTHCHECK_TIMEOUT", "soon")
    with pytest.raises(ConfigurationError, match="HEALTHCHECK_TIMEOUT"):
        create_app()


def test_database_urls_without_a_driver_get_the_installed_one() -> None:
    assert database_url("postgres://u:p@db/notes") == "postgresql+psycopg://u:p@db/notes"
    assert database_url("postgresql://db/notes") == "postgresql+psycopg://db/notes"
    assert database_url("mysql://db/notes") == "mysql+pymysql://db/notes"
    assert database_url("postgresql+psycopg2://db/n") == "postgresql+psycopg2://db/n"
    assert database_url("sqlite:///x.db") == "sqlite:///x.db"


# -- files, an upstream API, the mail relay, the node ----------------------------------------


def upstream_api(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """An HTTP API's health endpoint: ``/health`` answers 200, ``/broken`` 503."""
    status = "200 OK" if environ["PATH_INFO"] == "/health" else "503 Service Unavailable"
    start_response(status, [("Content-Type", "text/plain")])
    return [status.encode()]


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    """A real HTTP server for :func:`upstream_api` on loopback; yields its base URL."""
    server = make_server("127.0.0.1", 0, upstream_api, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


@pytest.fixture
def mail_relay() -> Iterator[int]:
    """A socket listening on loopback, as an SMTP relay's port would; yields the port."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield listener.getsockname()[1]


def test_configured_storage_upstream_api_and_mail_relay_are_checked_and_pass(
    instance: Path,
    make_app: Callable[..., Flask],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    upstream: str,
    mail_relay: int,
) -> None:
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    monkeypatch.setenv("STORAGE_URL", str(uploads))
    monkeypatch.setenv("UPSTREAM_HEALTH_URL", f"{upstream}/health")
    monkeypatch.setenv("MAIL_SERVER", "127.0.0.1")
    monkeypatch.setenv("MAIL_PORT", str(mail_relay))

    response = make_app().test_client().get("/healthz/ready")

    assert response.status_code == 200, response.json
    checks = results(response.json)
    assert checks["storage"]["output"].startswith("wrote, read back and deleted a probe file")
    assert list(uploads.iterdir()) == []  # the probe file is gone
    assert checks["upstream_api"]["output"].startswith("answered 200 in ")
    assert checks["smtp"]["output"].startswith("accepted a connection in ")
    for topology in (str(uploads), upstream, str(mail_relay)):
        assert topology not in response.get_data(as_text=True)


def test_an_https_upstream_has_its_certificate_watched(
    instance: Path,
    make_app: Callable[..., Flask],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # A TLS server with a self-signed certificate, which no client trusts: the check says so,
    # and only degrades the report.
    certificate, key, _ = Authority(tmp_path).issue("upstream", days=90, self_signed=True)
    server = TlsServer(certificate, key)
    try:
        monkeypatch.setenv("UPSTREAM_HEALTH_URL", f"https://127.0.0.1:{server.port}/health")
        app = make_app()
        client = app.test_client()
        with app.app_context():
            report = app.extensions["healthcheck"].run(["upstream_certificate"])
        [result] = report.results
        assert not result.passed
        assert result.output.startswith("certificate not trusted: self")
        assert not result.critical
        ready = client.get("/healthz/ready")
        assert ready.status_code == 200  # not critical: readiness holds, degraded
        assert "upstream_certificate" in ready.json["warnings"]
        # Its hourly runs check in with a Sentry cron monitor (sent while Sentry is on).
        crons = {spec.name: spec.cron for spec in app.extensions["healthcheck"].checks}
        assert crons["upstream_certificate"] == "healthcheck-upstream_certificate"
    finally:
        server.close()


def test_storage_an_fsspec_url_names_is_checked(
    instance: Path, make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORAGE_URL", f"memory://sample-{uuid.uuid4().hex[:8]}/notes")

    response = make_app().test_client().get("/healthz/storage")

    assert response.status_code == 200, response.json
    assert response.json["results"][0]["output"].startswith("wrote, read back and deleted")


def test_unwritable_storage_takes_the_instance_out_of_service(
    instance: Path, make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    not_a_directory = tmp_path / "uploads"
    not_a_directory.write_text("a file where the volume should be mounted")
    monkeypatch.setenv("STORAGE_URL", str(not_a_directory))

    response = make_app().test_client().get("/healthz/ready")

    assert response.status_code == 503
    storage = results(response.json)["storage"]
    assert storage["critical"]
    assert storage["output"] == "not a directory"


def test_failing_upstream_api_and_mail_relay_degrade_readiness_without_failing_it(
    instance: Path,
    make_app: Callable[..., Flask],
    monkeypatch: pytest.MonkeyPatch,
    upstream: str,
) -> None:
    monkeypatch.setenv("UPSTREAM_HEALTH_URL", f"{upstream}/broken")
    monkeypatch.setenv("MAIL_SERVER", "127.0.0.1")
    monkeypatch.setenv("MAIL_PORT", str(free_port()))  # nothing listens there

    response = make_app().test_client().get("/healthz/ready")

    assert response.status_code == 200, response.json
    assert {"upstream_api", "smtp"} <= set(response.json["warnings"])
    checks = results(response.json)
    assert checks["upstream_api"]["output"] == "answered 503, expected 200-299"
    assert checks["smtp"]["output"] == "connection refused"
    assert not checks["upstream_api"]["critical"]
    assert not checks["smtp"]["critical"]


def test_upstream_api_that_is_down_reports_connection_refused(
    instance: Path, make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UPSTREAM_HEALTH_URL", f"http://127.0.0.1:{free_port()}/health")

    response = make_app().test_client().get("/healthz/upstream_api")

    (result,) = response.json["results"]
    assert not result["passed"]
    assert result["output"] == "connection refused"
    assert response.json["warnings"] == ["upstream_api"]  # degraded, not failed


def test_memory_and_cpu_above_their_warn_limits_degrade_the_report(
    instance: Path, make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMORY_WARN_PERCENT", "0")
    monkeypatch.setenv("CPU_WARN_PERCENT", "0")

    response = make_app().test_client().get("/healthz/ready")

    assert response.status_code == 200, response.json
    assert {"memory", "cpu"} <= set(response.json["warnings"])
    checks = results(response.json)
    assert "% used (at or above the 0% warn limit)" in checks["memory"]["output"]
    assert "% busy (at or above the 0% warn limit)" in checks["cpu"]["output"]
    assert checks["memory"]["passed"]
    assert checks["cpu"]["passed"]


# -- the Open Event Server's Runscope form ---------------------------------------------------


def test_open_event_app_answers_the_runscope_report_at_health_check(
    instance: Path, make_app: Callable[..., Flask]
) -> None:
    client = make_app(build=open_event.create_app).test_client()

    response = client.get("/health-check")

    assert response.status_code == 200
    body = response.json
    assert body["status"] == "success"
    assert {"hostname", "timestamp", "results"} <= set(body)
    checks = results(body)
    assert list(checks) == [
        "health_check_db",
        "health_check_migrations",
        "health_check_celery",
        "health_check_redis",
    ]
    assert checks["health_check_db"]["output"] == "database ok"
    assert checks["health_check_migrations"]["passed"]
    for result in checks.values():
        assert {"checker", "output", "passed", "timestamp", "expires"} <= set(result)
    assert client.get("/health-check/health_check_db").status_code == 200
    assert client.get("/health-check/ready").status_code == 200
    assert client.get("/healthz").status_code == 404


def test_open_event_database_check_fails_with_its_message_and_reports_to_sentry(
    instance: Path, make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sentry_sdk

    captured: list[bool] = []
    monkeypatch.setattr(sentry_sdk, "capture_exception", lambda: captured.append(True))
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/notes"
    app = make_app({"SQLALCHEMY_DATABASE_URI": url}, build=open_event.create_app)

    response = app.test_client().get("/health-check/health_check_db")

    assert response.status_code == 503
    assert response.json["results"][0]["output"] == "Error connecting to database"
    assert captured == [True]


def test_the_main_app_has_no_open_event_path(
    instance: Path, make_app: Callable[..., Flask]
) -> None:
    assert make_app().test_client().get("/health-check").status_code == 404


# -- Sentry ---------------------------------------------------------------------------------


@pytest.fixture
def sentry_inits(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    import sentry_sdk

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(sentry_sdk, "init", lambda **options: calls.append(options))
    return calls


def test_sentry_stays_off_without_sentry_dsn(
    instance: Path, make_app: Callable[..., Flask], sentry_inits: list[dict[str, Any]]
) -> None:
    make_app()
    assert sentry_inits == []


def test_sentry_is_initialised_from_sentry_dsn(
    instance: Path,
    make_app: Callable[..., Flask],
    sentry_inits: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SENTRY_DSN", "https://public@sentry.invalid/1")
    make_app()
    assert [options["dsn"] for options in sentry_inits] == ["https://public@sentry.invalid/1"]


# -- real services --------------------------------------------------------------------------


def test_app_on_postgresql_and_redis_answers_healthz_200(
    instance: Path, make_app: Callable[..., Flask], postgres_database: str
) -> None:
    redis_url = require(REDIS)
    app = make_app({"SQLALCHEMY_DATABASE_URI": postgres_database, "REDIS_URL": redis_url})
    client = app.test_client()

    response = client.get("/healthz")

    assert response.status_code == 200, response.json
    checks = results(response.json)
    database_name = postgres_database.rsplit("/", 1)[1]
    assert checks["database"]["output"].startswith("answered in ")
    assert checks["migrations"]["passed"]
    assert checks["models"]["output"] == "models match the database schema"
    assert checks["redis"]["output"].startswith("answered PING")
    for topology in (database_name, ":5432", ":6379"):
        assert topology not in response.get_data(as_text=True)
    assert client.post("/notes", json={"body": "on postgresql"}).json["note"]["words"] == 2
    assert isinstance(client.get("/").json["visits"], int)
    with app.app_context():
        held = db.session.execute(
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :key"),
            {"key": ADVISORY_LOCK_KEY},
        ).scalar()
    assert held == 0


def test_app_with_rabbitmq_as_broker_checks_the_broker_and_its_queue(
    instance: Path, make_app: Callable[..., Flask]
) -> None:
    broker_url = require(RABBITMQ)
    queue = f"sample-app-{uuid.uuid4().hex[:12]}"
    app = make_app({"CELERY_BROKER_URL": broker_url, "CELERY_QUEUE": queue})

    response = app.test_client().get("/healthz/ready")

    assert response.status_code == 200, response.json
    checks = results(response.json)
    assert checks["celery_broker"]["output"].startswith("answered in ")
    assert "guest" not in response.get_data(as_text=True)  # the broker's user is withheld
    assert checks["celery_queues"]["output"] == f"0 pending tasks ({queue}: no such queue)"
    assert not checks["celery_workers"]["critical"]


@contextlib.contextmanager
def celery_worker(environment: dict[str, str], name: str, log: Path) -> Iterator[Any]:
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(BIN / "celery"), "-A", "sample_app.worker", "worker", "--pool", "solo",
             "-n", name, "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


def wait_for(predicate: Callable[[], bool], seconds: float, what: str) -> None:
    due = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > due:
            raise AssertionError(f"{what} within {seconds} s")
        time.sleep(0.1)


def test_worker_runs_the_tasks_and_keeps_the_probe_files_the_worker_command_reads(
    instance: Path,
    make_app: Callable[..., Flask],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with private_redis() as port:
        broker_url = f"redis://127.0.0.1:{port}/0"
        name = f"sample-{uuid.uuid4().hex[:8]}@localhost"
        monkeypatch.setenv("CELERY_BROKER_URL", broker_url)
        monkeypatch.setenv("CELERY_WORKERS_REQUIRED", "1")
        monkeypatch.setenv("CELERY_WORKER_NAME", name)
        monkeypatch.setenv("HEALTHCHECK_CELERY_LIVENESS_FILE", str(tmp_path / "worker.live"))
        monkeypatch.setenv("HEALTHCHECK_CELERY_READINESS_FILE", str(tmp_path / "worker.ready"))
        app = make_app({"HEALTHCHECK_SUCCESS_TTL": 0, "HEALTHCHECK_FAILED_TTL": 0})
        client = app.test_client()
        log = tmp_path / "worker.log"

        with celery_worker(dict(os.environ), name, log) as worker:
            wait_for(
                lambda: (tmp_path / "worker.ready").exists() or worker.poll() is not None,
                30,
                "the worker was not ready",
            )
            assert worker.poll() is None, log.read_text()
            probe = subprocess.run(
                [str(BIN / "flask-healthcheck"), "worker", "--liveness", "--readiness", "--ping"],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            assert probe.returncode == 0, probe.stderr
            ready = client.get("/healthz/ready")
            assert ready.status_code == 200, ready.json
            assert results(ready.json)["celery_workers"]["output"] == (
                "1 worker answered a ping"  # which one, for the token holder only
            )

            created = client.post("/notes", json={"body": "counted by a real worker"})
            assert created.json["queued"] is True
            note_id = created.json["note"]["id"]

            def counted() -> bool:
                with app.app_context():
                    return db.session.scalar(select(Note.words).filter_by(id=note_id)) == 5

            wait_for(counted, 20, "the worker did not count the words")

        assert not (tmp_path / "worker.ready").exists()
        not_ready = client.get("/healthz/ready")
        assert not_ready.status_code == 503
        assert not results(not_ready.json)["celery_workers"]["passed"]


def test_worker_module_installs_the_probe_files_and_serves_no_probe_port(
    instance: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEALTHCHECK_CELERY_LIVENESS_FILE", str(tmp_path / "live"))
    monkeypatch.setenv("HEALTHCHECK_PROBE_PORT", str(free_port()))
    monkeypatch.delitem(sys.modules, "sample_app.worker", raising=False)

    worker = importlib.import_module("sample_app.worker")

    try:
        steps = [step.__name__ for step in worker.celery_app.steps["worker"]]
        assert "WorkerLivenessStep" in steps
        assert worker.probes.liveness_file == tmp_path / "live"
        assert worker.flask_app.config["HEALTHCHECK_PROBE_PORT"] is None
    finally:
        close_connections(worker.flask_app)
        sys.modules.pop("sample_app.worker", None)


def test_flask_db_migrate_writes_no_revision_while_the_models_match(
    instance: Path, tmp_path: Path
) -> None:
    directory = tmp_path / "migrations"
    shutil.copytree(ROOT / "sample_app" / "migrations", directory)
    before = sorted(path.name for path in (directory / "versions").glob("*.py"))

    migrate = subprocess.run(
        [str(BIN / "flask"), "--app", "sample_app", "db", "migrate", "-d", str(directory)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert migrate.returncode == 0, migrate.stderr
    assert "No changes in schema detected." in migrate.stderr
    assert sorted(path.name for path in (directory / "versions").glob("*.py")) == before


# -- the development server -----------------------------------------------------------------


def test_flask_run_serves_healthz_200_from_an_empty_instance_folder(
    instance: Path, tmp_path: Path
) -> None:
    port = free_port()
    log = tmp_path / "flask.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(BIN / "flask"), "--app", "sample_app:create_app", "run", "--port", str(port)],
            cwd=ROOT,
            env=dict(os.environ),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        answer: list[tuple[int, str, str]] = []

        def answered() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"flask run exited:\n{log.read_text()}")
            with contextlib.suppress(OSError):
                answer.append(get(f"http://127.0.0.1:{port}/healthz", timeout=10))
            return bool(answer)

        wait_for(answered, 30, "flask run did not answer")
        status, content_type, body = answer[0]
        assert status == 200, body
        assert content_type == "application/json"
        assert json.loads(body)["status"] == "success"
        assert (instance / "notes.sqlite3").is_file()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)
