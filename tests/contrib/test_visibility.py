"""Every built-in check, passing and failing on real services: the public sees the kind of
result and never where; the token holder sees where as well, credentials still masked."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from celery import Celery
from flask import Flask
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from flask_healthcheck import HealthCheck, Outcome
from flask_healthcheck.contrib.celery import CeleryBrokerCheck
from flask_healthcheck.contrib.network import HttpCheck, TcpCheck
from flask_healthcheck.contrib.redis import RedisCheck
from flask_healthcheck.contrib.sqlalchemy import DatabaseCheck, ModelCheck
from flask_healthcheck.contrib.storage import StorageCheck
from flask_healthcheck.contrib.system import DiskCheck
from tests.contrib.reports import TOKEN, seen
from tests.services import RABBITMQ, REDIS, free_port, require


class Base(DeclarativeBase):
    pass


class Visit(Base):
    __tablename__ = "visits"
    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(sa.String(200))


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_port() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def every_check(
    tmp_path: Path, http_port: int, make_app: Callable[..., Flask], health: HealthCheck
) -> Iterator[tuple[Flask, list[str]]]:
    """An app with every built-in check that needs no schema, passing or failing for real;
    and the topology its answers could give away."""
    require(REDIS)
    require(RABBITMQ)
    closed = free_port()
    database_file = tmp_path / "app.db"
    engine = sa.create_engine(f"sqlite:///{database_file}")
    Base.metadata.create_all(engine)
    down = sa.create_engine(f"postgresql+psycopg://app:s3cret@127.0.0.1:{closed}/orders")
    celery_app = Celery("visibility", broker=RABBITMQ.url, set_as_current=False)
    checks = [
        (DatabaseCheck(engine), {}),
        (DatabaseCheck(down), {"name": "orders_db"}),
        (ModelCheck(Visit, engine, values={"path": "/"}), {}),
        (RedisCheck(REDIS.url), {}),
        (RedisCheck(f"redis://:s3cret@127.0.0.1:{closed}/3"), {"name": "sessions"}),
        (HttpCheck(f"http://user:s3cret@127.0.0.1:{http_port}/status"), {}),
        (TcpCheck("127.0.0.1", closed), {}),
        (StorageCheck(tmp_path), {}),
        (StorageCheck(tmp_path / "missing"), {"name": "uploads"}),
        (DiskCheck(tmp_path, warn=None, fail=None), {}),
        (CeleryBrokerCheck(celery_app), {}),
    ]
    for check, options in checks:
        health.add_check(check, **options)
    app = make_app(HEALTHCHECK_TOKEN=TOKEN)
    topology = ["127.0.0.1", str(closed), str(http_port), str(tmp_path), "guest", "orders'"]
    try:
        yield app, topology
    finally:
        for check, _ in checks:
            close = getattr(check, "close", None)
            if close is not None:
                close()
        engine.dispose()
        down.dispose()


def test_the_public_sees_the_kind_of_result_and_never_where(
    every_check: tuple[Flask, list[str]],
) -> None:
    app, topology = every_check
    client = app.test_client()

    public = client.get("/healthz").get_json()
    detailed = client.get("/healthz", headers={"Authorization": f"Bearer {TOKEN}"}).get_json()

    outputs = {result["checker"]: result["output"] for result in public["results"]}
    assert set(outputs) == {
        "database",
        "orders_db",
        "model:visits",
        "redis",
        "sessions",
        "http",
        "tcp",
        "storage",
        "uploads",
        "disk",
        "celery_broker",
    }
    assert outputs["orders_db"] == "connection refused"
    assert outputs["sessions"] == "connection refused"
    assert outputs["tcp"] == "connection refused"
    assert outputs["uploads"] == "the directory does not exist"
    assert outputs["http"].startswith("answered 200 in ")
    shown = str(public)
    assert [where for where in topology if where in shown] == []
    told = str(detailed)
    assert [where for where in topology if where not in told] == []
    assert "s3cret" not in shown + told


def test_a_passing_outcome_tells_its_detail_to_the_token_holder_only(
    make_app: Callable[..., Flask], health: HealthCheck
) -> None:
    @health.check
    def ledger() -> Outcome:
        return Outcome(True, "answered in 2.0 ms", detail="ledger at 10.0.0.7:5432")

    @health.check
    def malformed() -> Outcome:
        return Outcome(True, "ok", detail=42)  # type: ignore[arg-type]

    client = make_app(HEALTHCHECK_TOKEN=TOKEN).test_client()
    ledger_seen = seen(client, "ledger")
    malformed_seen = seen(client, "malformed")

    assert ledger_seen.public_output == "answered in 2.0 ms"
    assert ledger_seen.detailed_output == "ledger at 10.0.0.7:5432"
    assert malformed_seen.status_code == 503
    assert "detail: str or None" in malformed_seen.public_output
