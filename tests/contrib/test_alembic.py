"""The Alembic checks on real databases (SQLite and PostgreSQL) with real migration scripts.

Each PostgreSQL test gets a database of its own, created and dropped here, because other tests
use the shared ``test`` database at the same time.
"""

from __future__ import annotations

import contextlib
import importlib
import logging.config
import shutil
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flask_migrate
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import Mapped, mapped_column

from flask_healthcheck import CheckError, HealthCheck, MissingDependencyError
from flask_healthcheck.contrib.alembic import MigrationsCheck, ModelsCheck
from tests.services import POSTGRES, free_port, require

USERS = "1a2b3c4d5e6f"
EMAIL = "2b3c4d5e6f7a"
ORDERS = "3c4d5e6f7a8b"
AUDIT = "4d5e6f7a8b9c"

ENV_PY = '''\
"""Runs migrations on the connection the tests hand over; no logging configuration."""
from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection)
with context.begin_transaction():
    context.run_migrations()
'''

REVISION = '''\
"""{message}

Revision ID: {revision}
Revises: {down_revision}
"""
import sqlalchemy as sa
from alembic import op

revision = {revision!r}
down_revision = {down_revision!r}
branch_labels = None
depends_on = None


def upgrade():
{body}


def downgrade():
    pass
'''


class Project:
    """A plain Alembic project in a directory: alembic.ini, the script location and versions/."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.location = root / "alembic"
        self.versions = self.location / "versions"
        self.ini = root / "alembic.ini"

    @classmethod
    def create(cls, root: Path) -> Project:
        project = cls(root)
        project.versions.mkdir(parents=True)
        (project.location / "env.py").write_text(ENV_PY)
        project.ini.write_text("[alembic]\nscript_location = %(here)s/alembic\n")
        return project

    def add(self, revision: str, down_revision: str | None, message: str, body: str) -> None:
        source = REVISION.format(
            message=message,
            revision=revision,
            down_revision=down_revision,
            body=textwrap.indent(textwrap.dedent(body).strip(), "    "),
        )
        (self.versions / f"{revision}_{message.replace(' ', '_')}.py").write_text(source)

    def remove(self, revision: str) -> None:
        for path in self.versions.glob(f"{revision}_*.py"):
            path.unlink()

    def upgrade(self, engine: sa.Engine, target: str = "heads") -> None:
        config = Config(str(self.ini))
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, target)

    def copy(self, root: Path) -> Project:
        """The same scripts elsewhere: the code of another release."""
        shutil.copytree(self.root, root, ignore=shutil.ignore_patterns("__pycache__"))
        return Project(root)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """Three migrations in a line: create users, add users.email, create orders."""
    project = Project.create(tmp_path / "project")
    project.add(
        USERS,
        None,
        "create users",
        """
        op.create_table(
            "users",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("name", sa.String(50), nullable=False),
        )
        """,
    )
    project.add(
        EMAIL,
        USERS,
        "add users.email",
        'op.add_column("users", sa.Column("email", sa.String(100)))',
    )
    project.add(
        ORDERS,
        EMAIL,
        "create orders",
        """
        op.create_table(
            "orders",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("total", sa.Integer, nullable=False),
        )
        """,
    )
    return project


def head_models() -> sa.MetaData:
    """The models as the head migration leaves the schema."""
    metadata = sa.MetaData()
    sa.Table(
        "users",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("email", sa.String(100)),
    )
    sa.Table(
        "orders",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("total", sa.Integer, nullable=False),
    )
    return metadata


@contextlib.contextmanager
def private_postgres_database() -> Iterator[sa.URL]:
    """A PostgreSQL database of this test's own, dropped afterwards even if still connected."""
    url = sa.make_url(require(POSTGRES))
    name = f"hc_alembic_{uuid.uuid4().hex}"
    admin = sa.create_engine(
        url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.NullPool
    )
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.URL]:
    if request.param == "sqlite":
        yield sa.make_url(f"sqlite:///{tmp_path / 'app.db'}")
        return
    with private_postgres_database() as url:
        yield url


@pytest.fixture
def engine(database_url: sa.URL) -> Iterator[sa.Engine]:
    engine = sa.create_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    try:
        yield engine
    finally:
        engine.dispose()


# -- database revision vs script heads ------------------------------------------------------


def test_database_at_head_passes(engine: sa.Engine, project: Project) -> None:
    project.upgrade(engine)

    outcome = MigrationsCheck(engine, project.ini)()

    assert outcome.passed
    assert outcome.output == f"database is at the head revision {ORDERS} (create orders)"
    assert (outcome.observed_value, outcome.observed_unit) == (0, "migrations")


def test_one_pending_migration_fails_naming_it(engine: sa.Engine, project: Project) -> None:
    project.upgrade(engine, EMAIL)

    outcome = MigrationsCheck(engine, project.ini)()

    assert not outcome.passed
    assert outcome.output == (
        f"1 pending migration: {ORDERS} (create orders); apply it with 'alembic upgrade head'"
    )
    assert outcome.observed_value == 1


def test_pending_migrations_are_listed_oldest_first(engine: sa.Engine, project: Project) -> None:
    project.upgrade(engine, USERS)

    outcome = MigrationsCheck(engine, project.ini)()

    assert not outcome.passed
    assert outcome.output == (
        f"2 pending migrations: {EMAIL} (add users.email), {ORDERS} (create orders); "
        "apply them with 'alembic upgrade head'"
    )
    assert outcome.observed_value == 2


def test_database_ahead_of_the_scripts_says_the_code_is_older(
    engine: sa.Engine, project: Project, tmp_path: Path
) -> None:
    project.upgrade(engine)
    previous_release = project.copy(tmp_path / "previous_release")
    previous_release.remove(ORDERS)

    outcome = MigrationsCheck(engine, previous_release.ini)()

    assert not outcome.passed
    assert outcome.output == (
        f"database is at revision {ORDERS}, which these migration scripts do not know: "
        "the code is older than the database"
    )


def test_branched_scripts_fail_naming_their_heads(engine: sa.Engine, project: Project) -> None:
    project.add(
        AUDIT,
        EMAIL,
        "create audit",
        'op.create_table("audit", sa.Column("id", sa.Integer, primary_key=True))',
    )
    project.upgrade(engine)

    outcome = MigrationsCheck(engine, project.ini)()

    assert not outcome.passed
    assert outcome.output.startswith("migration scripts have 2 heads (")
    assert outcome.output.endswith("): merge them with 'alembic merge heads'")
    assert ORDERS in outcome.output
    assert AUDIT in outcome.output


def test_allow_multiple_heads_wants_every_head_applied(
    sqlite_engine: sa.Engine, project: Project
) -> None:
    project.add(
        AUDIT,
        EMAIL,
        "create audit",
        'op.create_table("audit", sa.Column("id", sa.Integer, primary_key=True))',
    )
    project.upgrade(sqlite_engine, ORDERS)
    check = MigrationsCheck(sqlite_engine, project.ini, allow_multiple_heads=True)

    one_branch = check()
    project.upgrade(sqlite_engine, "heads")
    both_branches = check()

    assert not one_branch.passed
    assert one_branch.output == (
        f"1 pending migration: {AUDIT} (create audit); apply it with 'alembic upgrade heads'"
    )
    assert both_branches.passed
    assert both_branches.output.startswith("database is at the 2 head revisions ")


def test_empty_database_has_no_version_table(engine: sa.Engine, project: Project) -> None:
    outcome = MigrationsCheck(engine, project.ini)()

    assert not outcome.passed
    assert outcome.output == (
        "database has no alembic_version table: no migration has been applied "
        "(3 pending migrations); run 'alembic upgrade head'"
    )
    assert outcome.observed_value == 3


@pytest.mark.parametrize("given_as", ["alembic.ini", "script location", "Config"])
def test_scripts_are_found_from_an_ini_a_script_location_or_a_config(
    sqlite_engine: sa.Engine, project: Project, given_as: str
) -> None:
    project.upgrade(sqlite_engine)
    scripts: Any = {
        "alembic.ini": str(project.ini),
        "script location": project.location,
        "Config": Config(str(project.ini)),
    }[given_as]

    outcome = MigrationsCheck(sqlite_engine, scripts)()

    assert outcome.passed, outcome.output


def test_missing_scripts_location_is_refused_when_the_check_is_made(
    sqlite_engine: sa.Engine, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match=r"no migration scripts at .*nowhere"):
        MigrationsCheck(sqlite_engine, tmp_path / "nowhere")


def test_directory_without_versions_fails_clearly(sqlite_engine: sa.Engine, tmp_path: Path) -> None:
    (tmp_path / "not_migrations").mkdir()

    with pytest.raises(CheckError, match="no migration scripts found") as raised:
        MigrationsCheck(sqlite_engine, tmp_path / "not_migrations")()
    assert raised.value.detail is not None
    assert "it has no versions directory" in raised.value.detail


def test_revision_file_that_does_not_import_fails_naming_the_error(
    sqlite_engine: sa.Engine, project: Project
) -> None:
    (project.versions / "5e6f7a8b9c0d_broken.py").write_text('revision = "5e6f7a8b9c0d"\nx = (\n')

    with pytest.raises(CheckError) as raised:
        MigrationsCheck(sqlite_engine, project.ini)()

    assert str(raised.value) == "cannot load the migration scripts"  # no file path in public
    assert raised.value.detail == (
        f"migration scripts at {str(project.ini)!r}: cannot load the migration scripts "
        "(SyntaxError; see the application's log)"
    )
    assert isinstance(raised.value.__cause__, SyntaxError)


@pytest.mark.parametrize("fault", ["closed port", "missing database"])
def test_unreachable_database_fails_without_credentials(project: Project, fault: str) -> None:
    if fault == "closed port":
        url = f"postgresql+psycopg://postgres:s3cret@127.0.0.1:{free_port()}/test"
        kind = "connection refused"
        expected = f"{kind} (is the server running and listening on that host and port?)"
    else:
        kind = expected = "database does not exist"
        base = sa.make_url(require(POSTGRES)).set(password="s3cret")
        url = base.set(database=f"hc_alembic_missing_{uuid.uuid4().hex}").render_as_string(
            hide_password=False
        )
    engine = sa.create_engine(url, connect_args={"connect_timeout": 5})
    try:
        with pytest.raises(CheckError) as raised:
            MigrationsCheck(engine, project.ini)()
    finally:
        engine.dispose()

    database = sa.make_url(url).database
    assert str(raised.value) == f"cannot read the alembic_version table: {kind}"
    assert raised.value.detail == (
        f"postgresql database {database!r} at 127.0.0.1:{sa.make_url(url).port}: "
        f"cannot read the alembic_version table: {expected}"
    )
    assert "s3cret" not in raised.value.detail


def test_locked_version_table_fails_on_time_and_the_statement_is_cancelled(
    project: Project,
) -> None:
    with private_postgres_database() as url:
        engine = sa.create_engine(url)
        observer = sa.create_engine(url, poolclass=sa.NullPool)
        try:
            project.upgrade(engine)
            app = Flask("locked")
            health = HealthCheck(app)
            health.add_check(MigrationsCheck(engine, project.ini), timeout=1)
            with engine.connect() as migration_in_progress:
                migration_in_progress.exec_driver_sql(
                    "LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE"
                )
                started = time.monotonic()
                response = app.test_client().get("/healthz/migrations")
                answered_in = time.monotonic() - started

                waiting = -1
                give_up = time.monotonic() + 10
                while waiting != 0 and time.monotonic() < give_up:
                    with observer.connect() as connection:
                        waiting = connection.execute(
                            sa.text(
                                "SELECT count(*) FROM pg_stat_activity "
                                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                            )
                        ).scalar_one()
                    time.sleep(0.1)
                migration_in_progress.rollback()
        finally:
            engine.dispose()
            observer.dispose()

    assert response.status_code == 503
    output = response.get_json()["results"][0]["output"]
    assert output == "cannot read the alembic_version table: statement cancelled by the server" or (
        output.startswith("timed out after 1 s")  # the server's answer came late on a busy host
    )
    assert answered_in < 5  # the check's timeout is 1 s; the probe must not hang on the lock
    assert waiting == 0, "the check's query still waits on the lock: it was not cancelled"


# -- models vs database schema ---------------------------------------------------------------


def test_models_matching_the_database_pass(engine: sa.Engine, project: Project) -> None:
    project.upgrade(engine)

    outcome = ModelsCheck(head_models(), engine)()

    assert outcome.passed, outcome.output
    assert outcome.output == "models match the database schema"
    assert (outcome.observed_value, outcome.observed_unit) == (0, "differences")


def test_model_drift_is_listed(engine: sa.Engine, project: Project) -> None:
    project.upgrade(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE legacy (id INTEGER)")
    models = head_models()
    models.tables["users"].append_column(sa.Column("nickname", sa.String(30)))

    outcome = ModelsCheck(models, engine)()

    assert not outcome.passed
    assert outcome.output.startswith(
        "models differ from the database by 2 changes no applied migration makes: "
    )
    assert "add column users.nickname" in outcome.output
    assert "remove table legacy" in outcome.output
    assert "alembic_version" not in outcome.output
    assert outcome.output.endswith("; generate a migration with 'alembic revision --autogenerate'")
    assert outcome.observed_value == 2


def test_ignored_tables_and_objects_are_not_drift(
    sqlite_engine: sa.Engine, project: Project
) -> None:
    project.upgrade(sqlite_engine)
    with sqlite_engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE legacy (id INTEGER)")
    models = head_models()
    models.tables["users"].append_column(sa.Column("nickname", sa.String(30)))

    def not_nickname(
        item: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
    ) -> bool:
        return not (type_ == "column" and name == "nickname")

    outcome = ModelsCheck(
        models, sqlite_engine, ignore_tables=["legacy"], include_object=not_nickname
    )()

    assert outcome.passed, outcome.output


def test_ignored_kinds_of_change_are_not_drift(sqlite_engine: sa.Engine, project: Project) -> None:
    project.upgrade(sqlite_engine)
    models = head_models()
    sa.Index("ix_users_email", models.tables["users"].c.email)

    flagged = ModelsCheck(models, sqlite_engine)()
    ignored = ModelsCheck(models, sqlite_engine, ignore_changes=["add_index"])()

    assert flagged.output.startswith(
        "models differ from the database by 1 change no applied migration makes: "
        "add index ix_users_email on users;"
    )
    assert ignored.passed, ignored.output
    with pytest.raises(ValueError, match=r"unknown kind.*add_indexes"):
        ModelsCheck(models, sqlite_engine, ignore_changes=["add_indexes"])


def test_objects_ignored_by_name_pattern_are_not_drift_and_others_still_are(
    sqlite_engine: sa.Engine, project: Project
) -> None:
    project.upgrade(sqlite_engine)
    with sqlite_engine.begin() as connection:  # an operator renamed the index by hand
        connection.exec_driver_sql("CREATE INDEX ix_users_email_by_hand ON users (email)")
    models = head_models()
    sa.Index("ix_users_email", models.tables["users"].c.email)
    sa.Index("ix_orders_total", models.tables["orders"].c.total)  # missing for real
    models.tables["users"].append_column(sa.Column("nickname", sa.String(30)))

    everything = ModelsCheck(models, sqlite_engine)()
    renamed_ignored = ModelsCheck(
        models, sqlite_engine, ignore_names=["ix_users_email*", "users.nick*"]
    )()

    assert everything.observed_value == 4
    assert not renamed_ignored.passed
    assert renamed_ignored.output == (
        "models differ from the database by 1 change no applied migration makes: "
        "add index ix_orders_total on orders; generate a migration with "
        "'alembic revision --autogenerate'"
    )
    with pytest.raises(TypeError, match="ignore_names"):
        ModelsCheck(models, sqlite_engine, ignore_names="ix_users_email*")


def test_slow_models_comparison_runs_in_the_background_and_no_probe_waits_for_it(
    sqlite_engine: sa.Engine, project: Project
) -> None:
    project.upgrade(sqlite_engine)

    def slowly(item: Any, name: str | None, type_: str, reflected: bool, compare: Any) -> bool:
        if type_ == "table":
            time.sleep(0.3)  # a large schema: the comparison outlasts the request's deadline
        return True

    app = Flask("slow_schema")
    app.config.update(TESTING=True, HEALTHCHECK_DEADLINE=0.2)
    health = HealthCheck(app)
    health.add_check(ModelsCheck(head_models(), sqlite_engine, include_object=slowly))
    client = app.test_client()

    outputs: list[str] = []
    deadline = time.monotonic() + 15
    while not outputs or not outputs[-1].startswith("models match"):
        assert time.monotonic() < deadline, outputs
        (result,) = client.get("/healthz/models").get_json()["results"]
        outputs.append(result["output"])
        time.sleep(0.05)

    assert not [output for output in outputs if "timed out" in output], outputs
    assert client.get("/healthz/startup").status_code == 200


# -- registration --------------------------------------------------------------------------


def test_checks_register_as_startup_checks_with_overridable_options(
    sqlite_engine: sa.Engine, project: Project
) -> None:
    health = HealthCheck()

    migrations = health.add_check(MigrationsCheck(sqlite_engine, project.ini))
    models = health.add_check(ModelsCheck(head_models(), sqlite_engine))
    both_probes = health.add_check(
        MigrationsCheck(sqlite_engine, project.ini),
        name="migrations_ready",
        tags=("startup", "ready"),
        timeout=3,
    )

    assert (migrations.name, migrations.tags, migrations.timeout) == (
        "migrations",
        frozenset({"startup"}),
        10.0,
    )
    assert (models.name, models.tags, models.period, models.timeout) == (
        "models",
        frozenset({"startup"}),
        60.0,  # in the background: no probe waits for a schema comparison
        30.0,
    )
    assert (both_probes.name, both_probes.tags, both_probes.timeout) == (
        "migrations_ready",
        frozenset({"startup", "ready"}),
        3.0,
    )


def test_missing_alembic_raises_an_error_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(sys.modules):
        if name == "alembic" or name.startswith("alembic."):
            monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "flask_healthcheck.contrib.alembic")

    with pytest.raises(MissingDependencyError, match=r"flask-health-checks\[alembic\]"):
        importlib.import_module("flask_healthcheck.contrib.alembic")


# -- Flask-SQLAlchemy and Flask-Migrate --------------------------------------------------------


def test_flask_sqlalchemy_db_stands_for_engine_and_models(tmp_path: Path, project: Project) -> None:
    app = Flask("plain_alembic_app")
    app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'app.db'}"
    db = SQLAlchemy(app, metadata=head_models())
    with app.app_context():
        project.upgrade(db.engine)
        try:
            migrations = MigrationsCheck(db, project.ini)()
            models = ModelsCheck(db)()
        finally:
            db.engine.dispose()

    assert migrations.passed, migrations.output
    assert models.passed, models.output


# Flask-Migrate's env.py template still calls Flask-SQLAlchemy's deprecated get_engine() first.
@pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")
def test_flask_migrate_options_are_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logging.config, "fileConfig", lambda *args, **kwargs: None)
    app = Flask("versioned_app")
    app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'app.db'}"
    db = SQLAlchemy(app)

    class User(db.Model):  # type: ignore[name-defined]
        __tablename__ = "users"
        id: Mapped[int] = mapped_column(primary_key=True)

    Migrate(app, db, directory=str(tmp_path / "migrations"), version_table="schema_versions")
    with app.app_context():
        try:
            flask_migrate.init()
            flask_migrate.migrate(message="create users")
            flask_migrate.upgrade()
            tables = sa.inspect(db.engine).get_table_names()
            migrations = MigrationsCheck()()
            models = ModelsCheck()()
        finally:
            db.engine.dispose()

    assert "schema_versions" in tables
    assert "alembic_version" not in tables
    assert migrations.passed, migrations.output
    assert models.passed, models.output  # schema_versions is not a table the models lack


def flask_migrate_release(database_url: sa.URL, directory: Path, *, with_orders: bool) -> Flask:
    """One release of an app using Flask-SQLAlchemy and Flask-Migrate, with the checks."""
    app = Flask("migrated_app")
    app.config.update(
        TESTING=True,
        SQLALCHEMY_DATABASE_URI=database_url.render_as_string(hide_password=False),
        HEALTHCHECK_SUCCESS_TTL=0,
        HEALTHCHECK_FAILED_TTL=0,
    )
    db = SQLAlchemy(app)

    class User(db.Model):  # type: ignore[name-defined]
        __tablename__ = "users"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(sa.String(50))

    if with_orders:

        class Order(db.Model):  # type: ignore[name-defined]
            __tablename__ = "orders"
            id: Mapped[int] = mapped_column(primary_key=True)
            total: Mapped[int]

    Migrate(app, db, directory=str(directory))
    health = HealthCheck(app)
    health.add_check(MigrationsCheck())
    health.add_check(ModelsCheck(period=0.2))  # in the background, as by default, but often
    return app


def models_compared_since_now(app: Flask) -> None:
    """Wait for a result of the background models check from a run started after this call."""
    since = time.time()
    client = app.test_client()

    def fresh() -> bool:
        (result,) = client.get("/healthz/models").get_json()["results"]
        if result["output"].startswith("unknown: no result yet"):  # nothing ran: no start time
            return False
        return bool(result["timestamp"] - result["response_time"] >= since)

    deadline = time.monotonic() + 15
    while not fresh():
        assert time.monotonic() < deadline, "the models check did not run again"
        time.sleep(0.05)


def output_of(app: Flask, path: str) -> tuple[int, dict[str, str]]:
    response = app.test_client().get(path)
    body = response.get_json()
    return response.status_code, {result["checker"]: result["output"] for result in body["results"]}


# Flask-Migrate's env.py template still calls Flask-SQLAlchemy's deprecated get_engine() first.
@pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")
def test_flask_migrate_app_through_the_endpoints(
    database_url: sa.URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Flask-Migrate's env.py configures logging from its alembic.ini, which would disable the
    # loggers of the rest of the test session.
    monkeypatch.setattr(logging.config, "fileConfig", lambda *args, **kwargs: None)
    directory = tmp_path / "migrations"
    releases: list[Flask] = []

    def release(*, with_orders: bool) -> Flask:
        releases.append(flask_migrate_release(database_url, directory, with_orders=with_orders))
        return releases[-1]

    def head() -> str:
        return str(ScriptDirectory(str(directory)).get_current_head())

    try:
        first = release(with_orders=False)
        with first.app_context():
            flask_migrate.init()
            flask_migrate.migrate(message="create users")
        create_users = head()
        models_compared_since_now(first)

        # Autogenerate leaves an empty alembic_version table behind: one migration is pending.
        status, outputs = output_of(first, "/healthz/startup")
        assert status == 503
        assert outputs["migrations"] == (
            f"1 pending migration: {create_users} (create users); apply it with 'flask db upgrade'"
        )
        assert outputs["models"].startswith("models differ from the database by 1 change")
        assert "add table users" in outputs["models"]

        with first.app_context():
            flask_migrate.upgrade()
        models_compared_since_now(first)
        assert output_of(first, "/healthz/startup")[0] == 200
        assert output_of(first, "/healthz/migrations") == (
            200,
            {"migrations": f"database is at the head revision {create_users} (create users)"},
        )
        assert output_of(first, "/healthz/models") == (
            200,
            {"models": "models match the database schema"},
        )

        # A release whose models gained a table, without a migration for it.
        forgot_migration = release(with_orders=True)
        models_compared_since_now(forgot_migration)
        status, outputs = output_of(forgot_migration, "/healthz/models")
        assert status == 503
        assert outputs["models"] == (
            "models differ from the database by 1 change no applied migration makes: "
            "add table orders; generate a migration with 'flask db migrate'"
        )
        assert output_of(forgot_migration, "/healthz/migrations")[0] == 200

        # The next release brings the migration; until it is applied, it does not start.
        with forgot_migration.app_context():
            flask_migrate.migrate(message="create orders")
        create_orders = head()
        second = release(with_orders=True)
        status, outputs = output_of(second, "/healthz/startup")
        assert status == 503
        assert outputs["migrations"] == (
            f"1 pending migration: {create_orders} (create orders); apply it with "
            "'flask db upgrade'"
        )

        with second.app_context():
            flask_migrate.upgrade()
        models_compared_since_now(second)
        assert output_of(second, "/healthz/startup")[0] == 200
        assert output_of(second, "/healthz/models")[0] == 200

        # The first release, still running, now sees a database ahead of its code; tagged
        # startup, the check leaves its readiness alone.
        assert output_of(first, "/healthz/migrations") == (
            503,
            {
                "migrations": f"database is at revision {create_orders}, which these migration "
                "scripts do not know: the code is older than the database"
            },
        )
        assert output_of(first, "/healthz/ready")[0] == 200
        assert output_of(first, "/healthz/startup")[0] == 200
    finally:
        for app in releases:
            with app.app_context():
                app.extensions["sqlalchemy"].engine.dispose()
