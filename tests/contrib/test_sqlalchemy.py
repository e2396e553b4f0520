"""The SQLAlchemy checks on the real PostgreSQL, MariaDB and SQLite, and on their faults.

Faults are made here without touching the shared servers: a closed port, a socket that accepts
and never answers, a MariaDB user of our own with a password, a database name that does not
exist, a statement that sleeps. Tables, functions and users get unique names and are dropped,
since other tests use the same databases at the same time.
"""

from __future__ import annotations

import importlib
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from flask_healthcheck import CheckError, HealthCheck, MissingDependencyError
from flask_healthcheck.contrib.sqlalchemy import DatabaseCheck, ModelCheck, describe_engine
from tests.contrib.reports import TOKEN, seen
from tests.services import MARIADB, POSTGRES, BlackHole, free_port, require

MakeEngine = Callable[..., sa.Engine]


@pytest.fixture
def make_engine() -> Iterator[MakeEngine]:
    """Create engines for a test and dispose of their pools afterwards."""
    created: list[sa.Engine] = []

    def factory(url: str | sa.URL, **options: Any) -> sa.Engine:
        engine = sa.create_engine(url, **options)
        created.append(engine)
        return engine

    yield factory
    for engine in created:
        engine.dispose()


@pytest.fixture
def pg_url() -> sa.URL:
    return sa.make_url(require(POSTGRES))


@pytest.fixture
def mariadb_url() -> sa.URL:
    return sa.make_url(require(MARIADB))


@pytest.fixture(params=["postgresql", "mariadb", "sqlite"])
def any_url(request: pytest.FixtureRequest, tmp_path: Path) -> sa.URL:
    if request.param == "postgresql":
        return sa.make_url(require(POSTGRES))
    if request.param == "mariadb":
        return sa.make_url(require(MARIADB))
    return sa.make_url(f"sqlite:///{tmp_path / 'app.db'}")


def pool_of(engine: sa.Engine) -> sa.QueuePool:
    assert isinstance(engine.pool, sa.QueuePool)
    return engine.pool


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def result_of(
    client: FlaskClient, name: str, path: str = "/healthz/ready"
) -> tuple[int, dict[str, Any]]:
    response = client.get(path)
    results = {result["checker"]: result for result in response.get_json()["results"]}
    return response.status_code, results[name]


def run_check(check: Callable[[], Any]) -> tuple[str, str]:
    """Run *check* as the runner would see it fail: its public message and the token
    holder's detail."""
    with pytest.raises(CheckError) as failure:
        check()
    assert failure.value.detail is not None
    return str(failure.value), failure.value.detail


# -- DatabaseCheck: the databases up ----------------------------------------------------------


def test_database_check_passes_on_each_backend_and_reports_latency(
    any_url: sa.URL, make_engine: MakeEngine, make_app: Callable[..., Flask], health: HealthCheck
) -> None:
    engine = make_engine(any_url)
    health.add_check(DatabaseCheck(engine))
    client = make_app(HEALTHCHECK_TOKEN=TOKEN).test_client()

    result = seen(client, "database")

    assert result.status_code == 200
    assert result.public["passed"] is True
    assert re.fullmatch(r"answered in [\d.]+ ms", result.public_output), result.public_output
    backend = any_url.get_backend_name()
    if backend == "sqlite":
        expected = rf"sqlite database '{re.escape(str(any_url.database))}': answered in [\d.]+ ms"
    else:
        expected = (
            rf"{backend} database 'test' at 127\.0\.0\.1:{any_url.port}: answered in [\d.]+ ms"
        )
    assert re.fullmatch(expected, result.detailed_output), result.detailed_output
    assert result.public["observed_unit"] == "ms"
    assert 0 < result.public["observed_value"] < 10_000


def test_database_check_reuses_the_engine_pool_and_gives_connections_back(
    pg_url: sa.URL, make_engine: MakeEngine
) -> None:
    engine = make_engine(pg_url)
    check = DatabaseCheck(engine)

    for _ in range(3):
        check()

    assert pool_of(engine).checkedout() == 0
    assert pool_of(engine).checkedin() == 1  # one connection, opened once and reused


@pytest.mark.parametrize(
    ("service", "setting"),
    [
        pytest.param(POSTGRES, "SHOW statement_timeout", id="postgresql"),
        pytest.param(MARIADB, "SELECT @@SESSION.max_statement_time", id="mariadb"),
    ],
)
def test_database_check_gives_the_connection_back_without_its_statement_timeout(
    service: Any, setting: str, make_engine: MakeEngine
) -> None:
    engine = make_engine(require(service), pool_size=1, max_overflow=0)
    check = DatabaseCheck(engine)
    with engine.connect() as connection:
        before = connection.exec_driver_sql(setting).scalar()

    check()

    with engine.connect() as connection:  # the one pooled connection, which the check used
        assert connection.exec_driver_sql(setting).scalar() == before


def test_database_check_retries_once_when_a_pooled_connection_was_closed_by_the_server(
    pg_url: sa.URL, make_engine: MakeEngine
) -> None:
    marker = unique("hc_retry")
    engine = make_engine(pg_url, connect_args={"application_name": marker})
    admin = make_engine(pg_url)
    connects: list[object] = []
    sa.event.listen(engine, "connect", lambda dbapi_connection, record: connects.append(record))
    check = DatabaseCheck(engine)
    check()  # leaves one connection in the pool
    with admin.connect() as connection:
        killed = connection.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = :marker"
            ),
            {"marker": marker},
        ).scalar()
    assert killed == 1

    outcome = check()

    assert outcome.passed
    assert outcome.output.startswith("answered in")
    assert len(connects) == 2  # the dead connection was dropped and a new one made


def test_flask_sqlalchemy_db_with_binds_is_detected_automatically(
    pg_url: sa.URL, tmp_path: Path, make_app: Callable[..., Flask], health: HealthCheck
) -> None:
    archive = tmp_path / "archive.db"
    app = make_app(
        SQLALCHEMY_DATABASE_URI=pg_url.render_as_string(hide_password=False),
        SQLALCHEMY_BINDS={"archive": f"sqlite:///{archive}"},
    )
    db = SQLAlchemy()
    db.init_app(app)
    health.add_check(DatabaseCheck(db))
    health.add_check(DatabaseCheck(), name="database_of_the_app")  # finds app.extensions' db
    try:
        client = app.test_client()
        status, result = result_of(client, "database")
        _, found = result_of(client, "database_of_the_app")
    finally:
        with app.app_context():
            for engine in db.engines.values():
                engine.dispose()

    assert status == 200
    assert result["passed"] is True
    parts = sorted(result["output"].split("; "))
    assert [re.sub(r"[\d.]+ ms", "N ms", part) for part in parts] == [
        "archive: answered in N ms",  # bind names, never the database behind them
        "default: answered in N ms",
    ], result["output"]
    assert found["passed"] is True
    assert found["output"].count("answered in") == 2


def test_flask_sqlalchemy_bind_that_fails_is_named_and_fails_readiness(
    pg_url: sa.URL, make_app: Callable[..., Flask], health: HealthCheck
) -> None:
    closed = free_port()
    app = make_app(
        SQLALCHEMY_DATABASE_URI=pg_url.render_as_string(hide_password=False),
        SQLALCHEMY_BINDS={"reports": f"postgresql+psycopg://postgres@127.0.0.1:{closed}/reports"},
        HEALTHCHECK_TOKEN=TOKEN,
    )
    db = SQLAlchemy()
    db.init_app(app)
    health.add_check(DatabaseCheck(db))
    try:
        result = seen(app.test_client(), "database")
    finally:
        with app.app_context():
            for engine in db.engines.values():
                engine.dispose()

    assert result.status_code == 503
    assert result.public["passed"] is False
    assert re.fullmatch(
        r"reports: connection refused; default: answered in [\d.]+ ms", result.public_output
    ), result.public_output
    failing, passing = result.detailed_output.split("; ")
    assert failing == (
        f"reports: postgresql database 'reports' at 127.0.0.1:{closed}: connection refused "
        "(is the server running and listening on that host and port?)"
    )
    assert passing.startswith("default: postgresql database 'test' at 127.0.0.1:5432: answered in")


# -- DatabaseCheck: faults ----------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_database_check_on_closed_port_fails_with_connection_refused_and_no_password(
    backend: str, make_engine: MakeEngine
) -> None:
    port = free_port()
    scheme = "postgresql+psycopg" if backend == "postgresql" else "mysql+pymysql"
    engine = make_engine(f"{scheme}://admin:s3cr3t-Pa55@127.0.0.1:{port}/app")

    message, detail = run_check(DatabaseCheck(engine))

    shown = "postgresql" if backend == "postgresql" else "mysql"
    assert message == "connection refused"
    assert detail == (
        f"{shown} database 'app' at 127.0.0.1:{port}: connection refused "
        "(is the server running and listening on that host and port?)"
    )
    assert "s3cr3t" not in detail
    assert "admin" not in detail


@pytest.mark.parametrize(
    ("backend", "connect_args", "timeout", "reason"),
    [
        pytest.param(
            "postgresql+psycopg", {"connect_timeout": 2}, 4.0, "timed out connecting", id="psycopg"
        ),
        pytest.param(
            "mysql+pymysql",
            {"connect_timeout": 1, "read_timeout": 1},
            3.0,
            "timed out waiting for the server to answer",
            id="pymysql",
        ),
    ],
)
def test_black_holed_server_with_client_timeouts_is_reported_timed_out_on_time(
    backend: str,
    connect_args: dict[str, Any],
    timeout: float,
    reason: str,
    hung_server: BlackHole,
    make_engine: MakeEngine,
    make_app: Callable[..., Flask],
    health: HealthCheck,
) -> None:
    engine = make_engine(
        f"{backend}://u@127.0.0.1:{hung_server.port}/app", connect_args=connect_args
    )
    health.add_check(DatabaseCheck(engine, timeout=timeout))
    client = make_app(HEALTHCHECK_DEADLINE=timeout + 1, HEALTHCHECK_TOKEN=TOKEN).test_client()

    started = time.monotonic()
    result = seen(client, "database")
    elapsed = time.monotonic() - started

    assert result.status_code == 503
    assert result.public_output == reason
    assert result.detailed_output.endswith(f"at 127.0.0.1:{hung_server.port}: {reason}")
    assert elapsed < timeout + 1  # the driver gave up by itself, before the runner had to
    assert hung_server.connections >= 1


def test_black_holed_server_without_connect_timeout_answers_on_time_and_probes_at_most_twice(
    hung_server: BlackHole,
    make_engine: MakeEngine,
    make_app: Callable[..., Flask],
    health: HealthCheck,
) -> None:
    engine = make_engine(f"postgresql+psycopg://u@127.0.0.1:{hung_server.port}/app")
    health.add_check(DatabaseCheck(engine, timeout=1, failed_ttl=0))
    client = make_app().test_client()

    for _ in range(3):
        started = time.monotonic()
        status, result = result_of(client, "database")
        elapsed = time.monotonic() - started
        assert status == 503
        assert result["output"].startswith("timed out after 1 s"), result["output"]
        assert elapsed < 3.0  # the check's timeout is 1 s; its probe hangs for good

    # The first run was abandoned for a second one, which hangs too; while neither returns no
    # third run starts: two connections, two threads, however many requests come.
    assert hung_server.connections == 2
    assert health.state(client.application).runner.in_flight_count() == 2


def test_wrong_password_on_mariadb_fails_with_authentication_failed(
    mariadb_url: sa.URL, make_engine: MakeEngine
) -> None:
    user = unique("hc_wrong")
    admin = make_engine(mariadb_url)
    with admin.begin() as connection:
        connection.execute(sa.text(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'right-Pa55'"))
        connection.execute(sa.text(f"GRANT SELECT ON test.* TO '{user}'@'%'"))
    try:
        right = make_engine(mariadb_url.set(username=user, password="right-Pa55"))
        wrong = make_engine(mariadb_url.set(username=user, password="wrong-Pa55"))

        assert DatabaseCheck(right)().passed  # the user exists and works with its password
        message, detail = run_check(DatabaseCheck(wrong))
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f"DROP USER IF EXISTS '{user}'@'%'"))

    assert message == "authentication failed"
    assert detail == (
        "mysql database 'test' at 127.0.0.1:3306: "
        "authentication failed (wrong user name or password)"
    )
    assert "Pa55" not in detail
    assert user not in detail


def test_unknown_role_on_postgresql_fails_with_authentication_failed(
    pg_url: sa.URL, make_engine: MakeEngine
) -> None:
    # PostgreSQL trusts 127.0.0.1 here, so a wrong password passes; an unknown role does not.
    engine = make_engine(pg_url.set(username=unique("hc_nobody"), password="whatever-Pa55"))

    message, detail = run_check(DatabaseCheck(engine))

    assert message == "authentication failed"
    assert detail == (
        "postgresql database 'test' at 127.0.0.1:5432: "
        "authentication failed (the user does not exist)"
    )


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_missing_database_fails_with_database_does_not_exist(
    backend: str, make_engine: MakeEngine
) -> None:
    url = sa.make_url(require(POSTGRES if backend == "postgresql" else MARIADB))
    missing = unique("hc_missing")
    engine = make_engine(url.set(database=missing))

    message, detail = run_check(DatabaseCheck(engine))

    assert message == "database does not exist"
    assert detail == (
        f"{url.get_backend_name()} database '{missing}' at 127.0.0.1:{url.port}: "
        "database does not exist"
    )


def test_unopenable_sqlite_file_fails_with_a_plain_reason(
    tmp_path: Path, make_engine: MakeEngine
) -> None:
    path = tmp_path / "no-such-directory" / "app.db"
    message, detail = run_check(DatabaseCheck(make_engine(f"sqlite:///{path}")))
    assert message == "cannot open the database file"
    assert detail == f"sqlite database '{path}': cannot open the database file"


# -- The acceptance: a database slower than the check's timeout ---------------------------------


def _still_running(admin: sa.Engine, backend: str, marker: str) -> int:
    query = {
        "postgresql": "SELECT count(*) FROM pg_stat_activity "
        "WHERE state = 'active' AND query LIKE :pattern AND pid <> pg_backend_pid()",
        "mysql": "SELECT count(*) FROM information_schema.processlist "
        "WHERE info LIKE :pattern AND id <> connection_id()",
    }[backend]
    with admin.connect() as connection:
        return int(connection.execute(sa.text(query), {"pattern": f"%{marker}%"}).scalar_one())


def _wait_until_not_running(admin: sa.Engine, backend: str, marker: str) -> int:
    deadline = time.monotonic() + 5
    running = _still_running(admin, backend, marker)
    while running and time.monotonic() < deadline:
        time.sleep(0.1)
        running = _still_running(admin, backend, marker)
    return running


@pytest.mark.parametrize(
    ("service", "sleep"),
    [
        pytest.param(POSTGRES, "pg_sleep(30)", id="postgresql"),
        pytest.param(MARIADB, "SLEEP(30)", id="mariadb"),
    ],
)
def test_slow_statement_fails_readiness_on_time_and_is_cancelled_on_the_server(
    service: Any,
    sleep: str,
    make_engine: MakeEngine,
    make_app: Callable[..., Flask],
    health: HealthCheck,
) -> None:
    url = sa.make_url(require(service))
    marker = unique("hc_sleep")
    engine = make_engine(url)
    admin = make_engine(url)
    health.add_check(DatabaseCheck(engine, query=f"SELECT {sleep}, '{marker}'", timeout=1))
    client = make_app().test_client()

    started = time.monotonic()
    status, result = result_of(client, "database")
    elapsed = time.monotonic() - started

    assert status == 503
    assert elapsed < 3.0  # although the statement sleeps for 30 s
    # The server cancels the statement at 0.7 s; on a very busy machine its error may reach the
    # check after the runner has answered "timed out". Either way the server cancelled it.
    assert re.fullmatch(
        r"statement cancelled by the server after its [\d.]+ s timeout|timed out after 1 s",
        result["output"],
    ), result["output"]
    assert _wait_until_not_running(admin, url.get_backend_name(), marker) == 0


# -- ModelCheck ---------------------------------------------------------------------------------


def make_model(table: str) -> type[Any]:
    """A model of a table of our own: an id, a unique required email and a free note."""

    class Base(DeclarativeBase):
        pass

    class Probe(Base):
        __tablename__ = table
        id: Mapped[int] = mapped_column(primary_key=True)
        email: Mapped[str] = mapped_column(sa.String(200), unique=True)
        note: Mapped[str | None] = mapped_column(sa.String(200))

    return Probe


class Table:
    """A model's table created for one test, and what is in it."""

    def __init__(self, engine: sa.Engine, model: type[Any]) -> None:
        self.engine = engine
        self.model = model
        self.table: sa.Table = model.__table__
        self.table.create(engine)

    def rows(self) -> int:
        with self.engine.connect() as connection:
            count = sa.select(sa.func.count()).select_from(self.table)
            return int(connection.execute(count).scalar_one())

    def drop(self) -> None:
        self.table.drop(self.engine, checkfirst=True)


@pytest.fixture
def probe_table(any_url: sa.URL, make_engine: MakeEngine) -> Iterator[Table]:
    table = Table(make_engine(any_url), make_model(unique("hc_probe")))
    yield table
    table.drop()


@pytest.fixture
def pg_probe_table(pg_url: sa.URL, make_engine: MakeEngine) -> Iterator[Table]:
    table = Table(make_engine(pg_url), make_model(unique("hc_probe")))
    yield table
    table.drop()


def _wait_until_returned(engine: sa.Engine) -> bool:
    """Wait until the check's thread has given its connection back (after its rollback)."""
    deadline = time.monotonic() + 10
    while pool_of(engine).checkedout() and time.monotonic() < deadline:
        time.sleep(0.05)
    return pool_of(engine).checkedout() == 0


def fresh_values() -> dict[str, Any]:
    return {"email": f"{uuid.uuid4().hex}@example.invalid"}


def test_model_check_round_trip_passes_and_leaves_no_row(
    probe_table: Table, make_app: Callable[..., Flask], health: HealthCheck
) -> None:
    check = ModelCheck(probe_table.model, probe_table.engine, values=fresh_values)
    health.add_check(check)
    client = make_app(HEALTHCHECK_TOKEN=TOKEN).test_client()

    result = seen(client, check.name)

    assert result.status_code == 200
    assert re.fullmatch(
        r"inserted, read, updated and deleted a Probe row in [\d.]+ ms, rolled back",
        result.public_output,
    ), result.public_output
    assert result.detailed_output == (
        f"{describe_engine(probe_table.engine)}: {result.public_output}"
    )
    assert result.public["observed_unit"] == "ms"
    assert probe_table.rows() == 0
    assert pool_of(probe_table.engine).checkedout() == 0


def test_model_check_that_fails_halfway_leaves_no_row(probe_table: Table) -> None:
    calls = iter([fresh_values(), {"email": None}])  # the update breaks NOT NULL

    message, detail = run_check(
        ModelCheck(probe_table.model, probe_table.engine, values=lambda: next(calls))
    )

    assert message == "Probe round trip failed at update: a NOT NULL constraint was violated"
    assert detail == f"{describe_engine(probe_table.engine)}: {message}"
    assert probe_table.rows() == 0


def test_model_check_with_duplicate_row_fails_at_insert_and_leaves_the_table_alone(
    probe_table: Table,
) -> None:
    with probe_table.engine.begin() as connection:
        connection.execute(sa.insert(probe_table.table).values(email="taken@example.invalid"))

    message, _ = run_check(
        ModelCheck(probe_table.model, probe_table.engine, values={"email": "taken@example.invalid"})
    )

    assert message == "Probe round trip failed at insert: a UNIQUE constraint was violated"
    assert probe_table.rows() == 1


def test_model_check_refuses_a_myisam_table_before_writing_to_it(
    mariadb_url: sa.URL, make_engine: MakeEngine
) -> None:
    engine = make_engine(mariadb_url)
    model = make_model(unique("hc_myisam"))
    model.__table__.kwargs["mysql_engine"] = "MyISAM"
    table = Table(engine, model)
    with engine.connect() as connection:
        created = connection.execute(
            sa.text("SELECT ENGINE FROM information_schema.TABLES WHERE TABLE_NAME = :name"),
            {"name": table.table.name},
        ).scalar_one()
    assert created == "MyISAM"
    try:
        calls = iter([fresh_values(), {"email": None}])  # the update would break NOT NULL

        message, detail = run_check(ModelCheck(model, engine, values=lambda: next(calls)))

        name = table.table.name
        assert message == (
            f"Probe round trip failed at check the storage engine: table {name} uses the "
            "MyISAM storage engine, which cannot roll back, so the round trip would leave "
            "rows behind"
        )
        assert detail == (
            f"mysql database 'test' at 127.0.0.1:3306: {message} (convert it with "
            f"'ALTER TABLE {name} ENGINE=InnoDB', or do not check this model)"
        )
        assert table.rows() == 0  # nothing was written, so nothing stayed
    finally:
        table.drop()


def test_model_check_cancelled_by_the_statement_timeout_leaves_no_row(
    pg_probe_table: Table, make_app: Callable[..., Flask], health: HealthCheck
) -> None:
    function = unique("hc_slow_update")
    with pg_probe_table.engine.begin() as connection:
        connection.exec_driver_sql(
            f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN PERFORM pg_sleep(30); RETURN NEW; END $$"
        )
        connection.exec_driver_sql(
            f"CREATE TRIGGER {function} BEFORE UPDATE ON {pg_probe_table.table.name} "
            f"FOR EACH ROW EXECUTE FUNCTION {function}()"
        )
    try:
        check = ModelCheck(
            pg_probe_table.model, pg_probe_table.engine, values=fresh_values, timeout=1
        )
        health.add_check(check)
        client = make_app().test_client()

        started = time.monotonic()
        status, result = result_of(client, check.name)
        elapsed = time.monotonic() - started

        assert status == 503
        assert elapsed < 3.0
        # As above: the runner's "timed out" may win the race on a very busy machine.
        assert re.fullmatch(
            r"Probe round trip failed at update: "
            r"statement cancelled by the server after its [\d.]+ s timeout|timed out after 1 s",
            result["output"],
        ), result["output"]
        assert pg_probe_table.rows() == 0
        table = pg_probe_table.table.name
        assert _wait_until_not_running(pg_probe_table.engine, "postgresql", table) == 0
        assert _wait_until_returned(pg_probe_table.engine)
        assert pg_probe_table.rows() == 0
    finally:
        pg_probe_table.drop()
        with pg_probe_table.engine.begin() as connection:
            connection.exec_driver_sql(f"DROP FUNCTION IF EXISTS {function}()")


def test_model_check_timed_out_by_the_runner_leaves_no_row_during_or_after(
    pg_probe_table: Table, make_app: Callable[..., Flask], health: HealthCheck
) -> None:
    finished = threading.Event()
    calls = 0

    def slow_second_call() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 2:  # the update: the row is inserted, the transaction open
            time.sleep(2)
            finished.set()
        return fresh_values()

    check = ModelCheck(
        pg_probe_table.model, pg_probe_table.engine, values=slow_second_call, timeout=1
    )
    health.add_check(check)
    client = make_app().test_client()

    status, result = result_of(client, check.name)

    assert status == 503
    assert result["output"].startswith("timed out after 1 s")
    assert pg_probe_table.rows() == 0  # inserted, but not committed
    assert finished.wait(10)
    assert _wait_until_returned(pg_probe_table.engine)
    assert pg_probe_table.rows() == 0


def test_model_check_finds_the_bind_of_a_flask_sqlalchemy_model(
    pg_url: sa.URL, tmp_path: Path, make_app: Callable[..., Flask], health: HealthCheck
) -> None:
    archive = tmp_path / "archive.db"
    app = make_app(
        SQLALCHEMY_DATABASE_URI=pg_url.render_as_string(hide_password=False),
        SQLALCHEMY_BINDS={"archive": f"sqlite:///{archive}"},
    )
    db = SQLAlchemy()
    db.init_app(app)

    class Entry(db.Model):  # type: ignore[name-defined,misc]
        __bind_key__ = "archive"
        __tablename__ = unique("hc_entry")
        id: Mapped[int] = mapped_column(primary_key=True)
        title: Mapped[str] = mapped_column(sa.String(100))

    with app.app_context():
        db.create_all(bind_key="archive")
    check = ModelCheck(Entry, db, values={"title": "probe"})
    health.add_check(check)
    try:
        status, result = result_of(app.test_client(), check.name)
        with app.app_context():
            remaining = db.session.scalar(sa.select(sa.func.count()).select_from(Entry))
    finally:
        with app.app_context():
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()

    assert status == 200
    assert result["output"].startswith("inserted, read, updated")
    assert remaining == 0


# -- Registration and configuration -------------------------------------------------------------


def test_checks_register_in_one_line_with_readiness_defaults(
    make_engine: MakeEngine, health: HealthCheck, tmp_path: Path
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}")
    model = make_model("hc_registered")

    database = health.add_check(DatabaseCheck(engine))
    model_spec = health.add_check(ModelCheck(model, engine))
    overridden = health.add_check(DatabaseCheck(engine, timeout=5), name="replica", critical=False)

    ready = frozenset({"ready"})
    assert (database.name, database.tags, database.critical) == ("database", ready, True)
    assert (model_spec.name, model_spec.tags) == ("model:hc_registered", ready)
    assert (overridden.name, overridden.critical, overridden.timeout) == ("replica", False, 5.0)


class AsyncEngineLike:
    """What DatabaseCheck sees of an AsyncEngine (greenlet is not installed here)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.sync_engine = engine


def test_bad_arguments_are_rejected_at_construction(
    make_engine: MakeEngine, tmp_path: Path
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}")
    model = make_model("hc_bad_arguments")

    with pytest.raises(TypeError, match="Flask-SQLAlchemy's db, an Engine"):
        DatabaseCheck("sqlite:///app.db")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not both"):
        DatabaseCheck(engine, engines=[engine])
    with pytest.raises(TypeError, match="must be a SQLAlchemy Engine"):
        DatabaseCheck({"main": "sqlite://"})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="is an AsyncEngine"):
        DatabaseCheck(AsyncEngineLike(engine))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="mapped model class"):
        ModelCheck(object, engine)
    with pytest.raises(ValueError, match=r"has no attribute.*'mail'"):
        ModelCheck(model, engine, values={"mail": "x"})


def test_database_check_without_flask_sqlalchemy_says_what_to_pass(
    make_app: Callable[..., Flask], health: HealthCheck
) -> None:
    health.add_check(DatabaseCheck())
    status, result = result_of(make_app().test_client(), "database")
    assert status == 503
    assert result["output"].startswith("no Flask-SQLAlchemy extension on this app")


def test_missing_sqlalchemy_raises_an_error_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in list(sys.modules):
        if name == "sqlalchemy" or name.startswith("sqlalchemy."):
            monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "flask_healthcheck.contrib.sqlalchemy")

    with pytest.raises(MissingDependencyError, match=r"flask-health-checks\[sqlalchemy\]"):
        importlib.import_module("flask_healthcheck.contrib.sqlalchemy")
