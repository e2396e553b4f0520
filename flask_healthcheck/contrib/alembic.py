"""Alembic migrations: is the database at the scripts' head, and do the models match it?

Two checks, each answering one question with its own name, result and options:

- :class:`MigrationsCheck` compares the revision recorded in the database's ``alembic_version``
  table with the heads of the migration scripts, and lists the migrations not yet applied.
- :class:`ModelsCheck` compares the models' :class:`~sqlalchemy.schema.MetaData` with the
  database schema, as ``flask db migrate`` (Alembic autogenerate) would, and lists the changes
  that no applied migration makes.

Both work with Flask-Migrate (they read its directory, database and options from the app) and
with plain Alembic (an ``alembic.ini``, a script location or an :class:`alembic.config.Config`).
Both are tagged ``startup``: a database that is not at the code's migrations should keep a new
pod from starting, not take running pods out of service.

Install with ``pip install 'flask-health-checks[alembic]'``.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from flask import current_app, has_app_context

from flask_healthcheck.contrib._base import BuiltinCheck, renew_after_fork
from flask_healthcheck.contrib._outcomes import failure
from flask_healthcheck.exceptions import CheckError, MissingDependencyError
from flask_healthcheck.registry import STARTUP
from flask_healthcheck.results import Outcome

try:
    import sqlalchemy
    from alembic.autogenerate import compare_metadata
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import Script, ScriptDirectory
    from alembic.script.revision import RevisionError
    from alembic.util import CommandError
    from sqlalchemy.engine import Connection, Dialect, Engine
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.schema import MetaData, SchemaItem
except ImportError as exc:  # pragma: no cover - exercised by the missing-dependency test
    raise MissingDependencyError("alembic", "alembic") from exc

# Alembic requires SQLAlchemy, so with alembic installed this import cannot fail.
from flask_healthcheck.contrib.sqlalchemy import describe_engine, describe_error, probe_transaction

if TYPE_CHECKING:
    from alembic.runtime.environment import IncludeNameFn, IncludeObjectFn
    from typing_extensions import Unpack

    from flask_healthcheck.registry import CheckOptions

__all__ = ["CHANGE_KINDS", "MigrationsCheck", "ModelsCheck"]

#: The version table Alembic and Flask-Migrate use unless told otherwise.
DEFAULT_VERSION_TABLE = "alembic_version"

#: How many pending migrations or model changes a message lists before "and N more".
LISTED = 10

#: Kinds of difference Alembic autogenerate reports, for ``ModelsCheck(ignore_changes=...)``.
CHANGE_KINDS = frozenset(
    {
        "add_table",
        "remove_table",
        "add_column",
        "remove_column",
        "modify_type",
        "modify_nullable",
        "modify_default",
        "modify_comment",
        "add_index",
        "remove_index",
        "add_constraint",
        "remove_constraint",
        "add_fk",
        "remove_fk",
        "add_table_comment",
        "remove_table_comment",
    }
)


class SQLAlchemyExtension(Protocol):
    """What the checks use of Flask-SQLAlchemy's ``db``: its default engine and metadata."""

    @property
    def engine(self) -> Engine: ...

    @property
    def metadata(self) -> MetaData: ...


#: An :class:`~sqlalchemy.engine.Engine`, or Flask-SQLAlchemy's ``db`` (its default engine).
Database: TypeAlias = "Engine | SQLAlchemyExtension"
#: Where the migration scripts are: a directory (Flask-Migrate's ``migrations/`` or an Alembic
#: script location), the path of an ``alembic.ini``, or an Alembic ``Config``.
ScriptsLocation: TypeAlias = "str | os.PathLike[str] | Config"
#: The models: a ``MetaData``, several, or Flask-SQLAlchemy's ``db`` (its default metadata).
Models: TypeAlias = "MetaData | Sequence[MetaData] | SQLAlchemyExtension"


# -- what both checks share -----------------------------------------------------------------


@dataclass(frozen=True)
class _FlaskMigrate:
    """What Flask-Migrate registered on the current app, read without importing it."""

    db: Any
    directory: str
    command: str
    configure_args: Mapping[str, Any]


def _flask_migrate() -> _FlaskMigrate | None:
    if not has_app_context():
        return None
    registered = current_app.extensions.get("migrate")
    if registered is None:
        return None
    migrate = getattr(registered, "migrate", None)
    return _FlaskMigrate(
        db=getattr(registered, "db", None),
        directory=str(getattr(registered, "directory", "migrations")),
        command=str(getattr(migrate, "command", "db")),
        configure_args=dict(getattr(registered, "configure_args", None) or {}),
    )


def _check_database_argument(database: object, argument: str) -> None:
    if database is None or isinstance(database, Engine) or hasattr(database, "engine"):
        return
    raise TypeError(
        f"'{argument}' must be a SQLAlchemy Engine or Flask-SQLAlchemy's db; got {database!r}"
    )


def _flask_migrate_db(migrate: _FlaskMigrate | None, missing: str, instead: str) -> Any:
    """The ``db`` given to Flask-Migrate, for an argument left out; CheckError without one."""
    if migrate is None or migrate.db is None:
        raise CheckError(f"no {missing}: pass {instead}, or set up Flask-Migrate on the app")
    return migrate.db


def _engine_of(database: Database | None, migrate: _FlaskMigrate | None) -> Engine:
    if database is None:
        database = _flask_migrate_db(
            migrate, "database to check", "an Engine or Flask-SQLAlchemy's db"
        )
    if isinstance(database, Engine):
        return database
    return database.engine


def _flask_migrate_options(database: object, migrate: _FlaskMigrate | None) -> Mapping[str, Any]:
    """The options given to ``Migrate(...)`` when *database* is Flask-Migrate's, else none."""
    if migrate is not None and (database is None or database is migrate.db):
        return migrate.configure_args
    return {}


@contextlib.contextmanager
def _connection(engine: Engine, doing: str, left: float) -> Iterator[Connection]:
    """A pooled connection whose statements the server cancels when the check runs out of time,
    in a transaction that is rolled back (see
    :func:`~flask_healthcheck.contrib.sqlalchemy.probe_transaction`).

    Database errors become a :class:`~flask_healthcheck.CheckError` saying what could not be
    done and why, publicly, and which database to the token holder; never the driver's text.
    """
    try:
        with probe_transaction(engine, left) as connection:
            yield connection
    except SQLAlchemyError as exc:
        raise failure(f"cannot {doing}: {describe_error(exc)}", describe_engine(engine)) from exc


def _qualified(schema: str | None, name: str) -> str:
    return f"{schema}.{name}" if schema else name


def _listed(items: Sequence[str]) -> str:
    shown = ", ".join(items[:LISTED])
    if len(items) > LISTED:
        shown += f", and {len(items) - LISTED} more"
    return shown


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


# -- the migration scripts ------------------------------------------------------------------


@dataclass(frozen=True)
class _Scripts:
    """The migration scripts at one location, loaded once: they do not change while running."""

    location: str
    directory: ScriptDirectory
    heads: tuple[str, ...]
    #: Every revision, bases first (the order ``upgrade`` applies them in).
    in_order: tuple[Script, ...]
    by_id: Mapping[str, Script]
    lock: threading.Lock

    def applied(self, current: Iterable[str]) -> set[str]:
        """The revisions a database at *current* has applied: those and their ancestors."""
        with self.lock:  # the revision map is read by one thread at a time
            walked = self.directory.iterate_revisions(tuple(current), "base")
            return {script.revision for script in walked}

    def describe(self, revision: str) -> str:
        script = self.by_id.get(revision)
        first_line = script.doc.strip().splitlines()[0] if script and script.doc.strip() else ""
        if len(first_line) > 80:
            first_line = first_line[:77] + "..."
        return f"{revision} ({first_line})" if first_line else revision


def _alembic_config(location: ScriptsLocation) -> Config:
    if isinstance(location, Config):
        return location
    path = Path(location)
    if path.is_dir():
        # Flask-Migrate's layout: the directory is the script location, and any alembic.ini in
        # it only configures logging. A plain Alembic script location works the same way.
        ini = path / "alembic.ini"
        config = Config(str(ini) if ini.is_file() else None)
        config.set_main_option("script_location", str(path).replace("%", "%%"))
        return config
    if not path.is_file():
        raise failure(
            "no migration scripts found (it is neither a directory nor an alembic.ini)",
            f"migration scripts at {str(path)!r}",
        )
    return Config(str(path))


def _load_scripts(location: ScriptsLocation, shown: str) -> _Scripts:
    where = f"migration scripts at {shown!r}"
    try:
        directory = ScriptDirectory.from_config(_alembic_config(location))
        in_order = tuple(reversed(list(directory.walk_revisions())))
        heads = tuple(directory.get_heads())
    except CheckError:
        raise
    except (CommandError, RevisionError) as exc:
        # Alembic's own words name the revision or path at fault ("Path doesn't exist", a
        # revision's missing down_revision, a cycle), and never a credential.
        raise failure(f"cannot load the migration scripts ({exc})", where) from exc
    except Exception as exc:  # a revision file that does not import
        raise failure(
            f"cannot load the migration scripts ({type(exc).__name__}; see the application's log)",
            where,
        ) from exc
    if not in_order and not directory.version_locations:
        versions = Path(directory.dir, "versions")
        if not versions.is_dir():
            raise failure(
                "no migration scripts found (it has no versions directory: point the check at "
                "Flask-Migrate's directory, a script location or alembic.ini)",
                where,
            )
    return _Scripts(
        location=shown,
        directory=directory,
        heads=heads,
        in_order=in_order,
        by_id={script.revision: script for script in in_order},
        lock=threading.Lock(),
    )


# -- database revision vs script heads ------------------------------------------------------


class MigrationsCheck(BuiltinCheck):
    """Passes when the database is at the head revision(s) of the migration scripts.

    *database* is an :class:`~sqlalchemy.engine.Engine` or Flask-SQLAlchemy's ``db`` (its
    default engine); by default, the ``db`` given to Flask-Migrate. *scripts* says where the
    migration scripts are: Flask-Migrate's ``migrations`` directory, an Alembic script location,
    the path of an ``alembic.ini``, or an :class:`alembic.config.Config`; by default,
    Flask-Migrate's directory, else ``"migrations"``. Relative paths are taken from the working
    directory, as Flask-Migrate and the ``alembic`` command take them.

    The scripts are loaded once, on the first run, and kept: they do not change while the
    process runs. ``env.py`` is never executed; the database's revisions are read with Alembic's
    :class:`~alembic.runtime.migration.MigrationContext` on a pooled connection.

    Fails, naming the revisions, when migrations are pending, when the database is at a
    revision the scripts do not know (the code is older than the database), when it has no
    version table, or when the scripts have several heads (unless *allow_multiple_heads*, for
    projects that keep independent branches on purpose). The observed value is the number of
    pending migrations.

    *version_table* and *version_table_schema* default to Flask-Migrate's options when the
    database is Flask-Migrate's, else to Alembic's ``alembic_version`` in the default schema.
    """

    name = "migrations"
    tags: tuple[str, ...] = (STARTUP,)
    #: Loading the scripts on the first run imports every revision file; the probe's deadline
    #: still answers on time, and a later probe gets the result.
    timeout: float | None = 10.0

    def __init__(
        self,
        database: Database | None = None,
        scripts: ScriptsLocation | None = None,
        *,
        allow_multiple_heads: bool = False,
        version_table: str | None = None,
        version_table_schema: str | None = None,
        **options: Unpack[CheckOptions],
    ) -> None:
        super().__init__(**options)
        _check_database_argument(database, "database")
        if scripts is not None and not isinstance(scripts, Config) and not Path(scripts).exists():
            raise ValueError(
                f"no migration scripts at {os.fspath(scripts)!r}: give Flask-Migrate's "
                "directory, an Alembic script location or the path of an alembic.ini"
            )
        self.database = database
        self.scripts = scripts
        self.allow_multiple_heads = allow_multiple_heads
        self.version_table = version_table
        self.version_table_schema = version_table_schema
        self._loaded: dict[str, _Scripts] = {}
        self._loading = threading.Lock()
        renew_after_fork(self)

    def __repr__(self) -> str:
        return f"MigrationsCheck(database={self.database!r}, scripts={self.scripts!r})"

    def _after_fork(self) -> None:
        """New locks in a forked child: a run of the parent may have held one at the fork."""
        self._loading = threading.Lock()
        self._loaded = {
            key: replace(scripts, lock=threading.Lock()) for key, scripts in self._loaded.items()
        }

    def _scripts(self, migrate: _FlaskMigrate | None) -> _Scripts:
        location: ScriptsLocation
        if self.scripts is not None:
            location = self.scripts
        else:
            location = migrate.directory if migrate is not None else "migrations"
        if isinstance(location, Config):
            key = f"config:{id(location)}"
            shown = str(location.config_file_name or location.get_main_option("script_location"))
        else:
            shown = os.fspath(location)
            key = os.path.abspath(shown)
        loaded = self._loaded.get(key)
        if loaded is None:
            with self._loading:
                loaded = self._loaded.get(key)
                if loaded is None:
                    loaded = self._loaded[key] = _load_scripts(location, shown)
        return loaded

    def _version_table(self, migrate: _FlaskMigrate | None) -> tuple[str, str | None]:
        options = _flask_migrate_options(self.database, migrate)
        table = self.version_table or options.get("version_table") or DEFAULT_VERSION_TABLE
        schema = self.version_table_schema or options.get("version_table_schema")
        return table, schema

    def _database_revisions(
        self, engine: Engine, table: str, schema: str | None
    ) -> tuple[str, ...] | None:
        """The database's current revisions; None when it has no version table."""
        doing = f"read the {_qualified(schema, table)} table"
        with _connection(engine, doing, self.time_left()) as conn:
            if not sqlalchemy.inspect(conn).has_table(table, schema=schema):
                return None
            context = MigrationContext.configure(
                conn, opts={"version_table": table, "version_table_schema": schema}
            )
            return context.get_current_heads()

    def __call__(self) -> Outcome:
        migrate = _flask_migrate()
        scripts = self._scripts(migrate)
        upgrade = _upgrade_command(self.scripts, migrate, len(scripts.heads))
        if len(scripts.heads) > 1 and not self.allow_multiple_heads:
            merge = _merge_command(self.scripts, migrate)
            return Outcome(
                False,
                f"migration scripts have {len(scripts.heads)} heads "
                f"({', '.join(scripts.heads)}): merge them with '{merge}'",
            )
        table, schema = self._version_table(migrate)
        engine = _engine_of(self.database, migrate)
        current = self._database_revisions(engine, table, schema)
        if current is None:
            if not scripts.in_order:
                return Outcome(True, "no migration scripts yet", 0, "migrations")
            pending_count = len(scripts.in_order)
            return Outcome(
                False,
                f"database has no {_qualified(schema, table)} table: no migration has been "
                f"applied ({_plural(pending_count, 'pending migration')}); run '{upgrade}'",
                pending_count,
                "migrations",
            )
        unknown = [revision for revision in current if revision not in scripts.by_id]
        if unknown:
            noun = "revision" if len(unknown) == 1 else "revisions"
            return Outcome(
                False,
                f"database is at {noun} {', '.join(unknown)}, which these migration scripts do "
                "not know: the code is older than the database",
            )
        applied = scripts.applied(current) if current else set()
        pending = [script for script in scripts.in_order if script.revision not in applied]
        if pending:
            listed = _listed([scripts.describe(script.revision) for script in pending])
            return Outcome(
                False,
                f"{_plural(len(pending), 'pending migration')}: {listed}; apply "
                f"{'it' if len(pending) == 1 else 'them'} with '{upgrade}'",
                len(pending),
                "migrations",
            )
        if not current:
            return Outcome(True, "no migration scripts yet", 0, "migrations")
        described = ", ".join(scripts.describe(revision) for revision in current)
        noun = "the head revision" if len(current) == 1 else f"the {len(current)} head revisions"
        return Outcome(True, f"database is at {noun} {described}", 0, "migrations")


def _upgrade_command(
    scripts: ScriptsLocation | None, migrate: _FlaskMigrate | None, heads: int
) -> str:
    target = " heads" if heads > 1 else ""
    if scripts is None and migrate is not None:
        return f"flask {migrate.command} upgrade{target}"
    return f"alembic upgrade {'heads' if heads > 1 else 'head'}"


def _merge_command(scripts: ScriptsLocation | None, migrate: _FlaskMigrate | None) -> str:
    if scripts is None and migrate is not None:
        return f"flask {migrate.command} merge heads"
    return "alembic merge heads"


# -- models vs database schema --------------------------------------------------------------


def _metadata_of(models: Models | None, migrate: _FlaskMigrate | None) -> MetaData | list[MetaData]:
    if models is None:
        models = _flask_migrate_db(
            migrate, "models to compare", "a MetaData or Flask-SQLAlchemy's db"
        )
    if isinstance(models, MetaData):
        return models
    if isinstance(models, Sequence):
        return list(models)
    return models.metadata


def _type_text(type_: Any, dialect: Dialect) -> str:
    try:
        return str(type_.compile(dialect=dialect))
    except Exception:
        return type(type_).__name__


def _constraint_text(constraint: Any) -> str:
    kinds = {
        "unique_constraint": "unique constraint",
        "check_constraint": "check constraint",
        "primary_key_constraint": "primary key",
        "foreign_key_constraint": "foreign key",
    }
    kind = kinds.get(getattr(constraint, "__visit_name__", ""), "constraint")
    table = getattr(constraint, "table", None)
    where = f" on {_qualified(table.schema, table.name)}" if table is not None else ""
    name = getattr(constraint, "name", None)
    if isinstance(name, str) and name:
        return f"{kind} {name}{where}"
    columns = [column.name for column in getattr(constraint, "columns", ())]
    return f"{kind}{where} ({', '.join(columns)})" if columns else f"{kind}{where}"


def _describe_change(change: tuple[Any, ...], dialect: Dialect) -> str:
    """One difference from :func:`alembic.autogenerate.compare_metadata`, in a few words.

    ``("add_column", None, "users", Column("email"))`` is ``"add column users.email"``.
    """
    kind = change[0]
    if kind in ("add_table", "remove_table"):
        table = change[1]
        return f"{kind.split('_')[0]} table {_qualified(table.schema, table.name)}"
    if kind in ("add_column", "remove_column"):
        _, schema, table_name, column = change
        return f"{kind.split('_')[0]} column {_qualified(schema, table_name)}.{column.name}"
    if kind.startswith("modify_"):
        _, schema, table_name, column_name, _options, old, new = change
        column = f"{_qualified(schema, table_name)}.{column_name}"
        if kind == "modify_type":
            return (
                f"change type of {column} from {_type_text(old, dialect)} "
                f"to {_type_text(new, dialect)}"
            )
        if kind == "modify_nullable":
            return f"make {column} {'nullable' if new else 'NOT NULL'}"
        if kind == "modify_default":
            return f"change server default of {column}"
        if kind == "modify_comment":
            return f"change comment of {column}"
    if kind in ("add_index", "remove_index"):
        index = change[1]
        table = index.table
        where = f" on {_qualified(table.schema, table.name)}" if table is not None else ""
        return f"{kind.split('_')[0]} index {index.name or ''}{where}".replace("  ", " ")
    if kind in ("add_constraint", "remove_constraint", "add_fk", "remove_fk"):
        return f"{kind.split('_')[0]} {_constraint_text(change[1])}"
    if kind in ("add_table_comment", "remove_table_comment"):
        table = change[1]
        verb = "change" if kind.startswith("add") else "remove"
        return f"{verb} comment of table {_qualified(table.schema, table.name)}"
    return str(kind).replace("_", " ")


def _names_of(change: tuple[Any, ...]) -> list[str]:
    """The names *ignore_names* is matched against for one difference: the object's name, and
    for a table or a column also its schema-qualified one (a column as ``table.column``)."""
    kind = change[0]
    if kind.endswith("_column") or kind.startswith("modify_"):
        _, schema, table_name, column = change[:4]
        column_name = column if isinstance(column, str) else column.name
        return [
            f"{table_name}.{column_name}",
            f"{_qualified(schema, table_name)}.{column_name}",
        ]
    item = change[1]
    name = getattr(item, "name", None)
    if not isinstance(name, str) or not name:
        return []
    if kind.endswith("_table") or kind.endswith("_table_comment"):
        return [name, _qualified(item.schema, name)]
    return [name]


def _flatten(diffs: Iterable[Any]) -> Iterator[tuple[Any, ...]]:
    for diff in diffs:
        if isinstance(diff, list):
            yield from diff
        else:
            yield diff


class ModelsCheck(BuiltinCheck):
    """Passes when the models' metadata matches the database schema.

    It runs Alembic autogenerate's comparison (:func:`alembic.autogenerate.compare_metadata`,
    what ``flask db migrate`` does) and fails listing the changes a new migration would make:
    ``add column users.email``, ``remove table legacy``. With the database at the scripts' head
    (see :class:`MigrationsCheck`), any difference is a model change no migration applies, or a
    schema changed by hand. The observed value is the number of differences.

    *models* is a :class:`~sqlalchemy.schema.MetaData` (or several) or Flask-SQLAlchemy's
    ``db`` (its default metadata); *database* an :class:`~sqlalchemy.engine.Engine` or ``db``
    (its default engine). Both default to the ``db`` given to Flask-Migrate; *database* to the
    engine of *models* when that is a ``db``.

    What is compared can be narrowed: *ignore_tables* (names, or ``schema.name``) are neither
    reflected nor compared; *ignore_names* are patterns (``fnmatch``: ``*``, ``?``, ``[abc]``)
    of the names of objects whose differences do not count: an index or a constraint by its
    name, a table by its name (or ``schema.name``), a column as ``table.column``, so an index
    renamed by hand (``["ix_users_email", "ix_users_email_by_hand"]``) is not drift while
    every other missing index still is. *include_object* and *include_name* are Alembic's
    filters of the same names; *ignore_changes* drops whole kinds of difference (such as
    ``"add_index"`` or ``"modify_default"``, see :data:`CHANGE_KINDS`). *compare_type*,
    *compare_server_default* and *include_schemas* are Alembic's options. When the database is
    Flask-Migrate's, options not given here are taken from the ones given to ``Migrate(...)``,
    so the check compares what ``flask db migrate`` would. The version table is never compared.

    The comparison reads the whole schema, which takes seconds on a large one, longer than a
    probe's deadline. So it runs in the background by default, every 60 s (``period``), with
    a timeout of 30 s: probes read its latest result and never wait for it. Until the first
    run has ended (a moment after the app's first request), the check reports "no result yet"
    and the startup probe waits. A migration applied while a process waits to start is seen
    within a period, well inside a startup probe's usual budget of minutes. Pass ``period=``
    to compare more or less often (each process compares once per period).
    """

    name = "models"
    tags: tuple[str, ...] = (STARTUP,)
    #: Often enough to see a migration applied while a process waits to start; rarely enough
    #: that reading a large schema is no load.
    period: float | None = 60.0
    #: Reflecting a large schema takes a while; in the background no probe waits for it.
    timeout: float | None = 30.0

    def __init__(
        self,
        models: Models | None = None,
        database: Database | None = None,
        *,
        ignore_tables: Collection[str] = (),
        ignore_names: Collection[str] = (),
        include_object: IncludeObjectFn | None = None,
        include_name: IncludeNameFn | None = None,
        ignore_changes: Collection[str] = (),
        compare_type: bool | Callable[..., Any] | None = None,
        compare_server_default: bool | Callable[..., Any] | None = None,
        include_schemas: bool | None = None,
        version_table: str | None = None,
        version_table_schema: str | None = None,
        **options: Unpack[CheckOptions],
    ) -> None:
        super().__init__(**options)
        _check_database_argument(database, "database")
        if not (
            models is None or isinstance(models, MetaData | Sequence) or hasattr(models, "metadata")
        ):
            raise TypeError(
                "'models' must be a MetaData, a list of them, or Flask-SQLAlchemy's db; "
                f"got {models!r}"
            )
        if any(isinstance(given, str) for given in (ignore_tables, ignore_names, ignore_changes)):
            raise TypeError(
                "'ignore_tables', 'ignore_names' and 'ignore_changes' take a list of names"
            )
        if not all(isinstance(pattern, str) and pattern for pattern in ignore_names):
            raise TypeError(f"'ignore_names' takes patterns of names; got {list(ignore_names)!r}")
        unknown = set(ignore_changes) - CHANGE_KINDS
        if unknown:
            raise ValueError(
                f"unknown kind(s) of change {', '.join(sorted(unknown))} in 'ignore_changes'; "
                f"the kinds are {', '.join(sorted(CHANGE_KINDS))}"
            )
        self.models = models
        if database is None and not isinstance(models, MetaData | Sequence | None):
            database = models  # Flask-SQLAlchemy's db: its own engine
        self.database = database
        self.ignore_tables = frozenset(ignore_tables)
        self.ignore_names = tuple(ignore_names)
        self.include_object = include_object
        self.include_name = include_name
        self.ignore_changes = frozenset(ignore_changes)
        self.compare_type = compare_type
        self.compare_server_default = compare_server_default
        self.include_schemas = include_schemas
        self.version_table = version_table
        self.version_table_schema = version_table_schema

    def __repr__(self) -> str:
        return f"ModelsCheck(models={self.models!r}, database={self.database!r})"

    def _ignores(self, change: tuple[Any, ...]) -> bool:
        """True when *change* concerns an object whose name matches one of *ignore_names*."""
        return any(
            fnmatch.fnmatchcase(name, pattern)
            for name in _names_of(change)
            for pattern in self.ignore_names
        )

    def _options(self, migrate: _FlaskMigrate | None) -> dict[str, Any]:
        """The MigrationContext options: given here, else Flask-Migrate's, else Alembic's."""
        inherited = _flask_migrate_options(self.database, migrate)

        def option(name: str, given: Any, default: Any) -> Any:
            if given is not None:
                return given
            value = inherited.get(name)
            return default if value is None else value

        version_table = option("version_table", self.version_table, DEFAULT_VERSION_TABLE)
        version_schema = option("version_table_schema", self.version_table_schema, None)
        ignored = self.ignore_tables | {
            version_table,
            _qualified(version_schema, version_table),
        }
        user_include_object = option("include_object", self.include_object, None)
        user_include_name = option("include_name", self.include_name, None)

        def include_object(
            item: SchemaItem,
            name: str | None,
            type_: Any,
            reflected: bool,
            compare_to: SchemaItem | None,
        ) -> bool:
            if type_ == "table" and name is not None:
                schema = getattr(item, "schema", None)
                if name in ignored or _qualified(schema, name) in ignored:
                    return False
            if user_include_object is not None:
                return bool(user_include_object(item, name, type_, reflected, compare_to))
            return True

        def include_name(name: str | None, type_: Any, parent_names: Any) -> bool:
            if type_ == "table" and name is not None:
                qualified = _qualified(parent_names.get("schema_name"), name)
                if name in ignored or qualified in ignored:
                    return False
            if user_include_name is not None:
                return bool(user_include_name(name, type_, parent_names))
            return True

        return {
            "compare_type": option("compare_type", self.compare_type, True),
            "compare_server_default": option(
                "compare_server_default", self.compare_server_default, False
            ),
            "include_schemas": option("include_schemas", self.include_schemas, False),
            "include_object": include_object,
            "include_name": include_name,
            "version_table": version_table,
            "version_table_schema": version_schema,
        }

    def __call__(self) -> Outcome:
        migrate = _flask_migrate()
        metadata = _metadata_of(self.models, migrate)
        engine = _engine_of(self.database, migrate)
        options = self._options(migrate)
        doing = "compare the models with the schema"
        with _connection(engine, doing, self.time_left()) as connection:
            context = MigrationContext.configure(connection, opts=options)
            changes = [
                change
                for change in _flatten(compare_metadata(context, metadata))  # type: ignore[arg-type]
                if change[0] not in self.ignore_changes and not self._ignores(change)
            ]
            described = [_describe_change(change, connection.dialect) for change in changes]
        if not described:
            return Outcome(True, "models match the database schema", 0, "differences")
        if migrate is not None:
            generate = f"flask {migrate.command} migrate"
        else:
            generate = "alembic revision --autogenerate"
        return Outcome(
            False,
            f"models differ from the database by {_plural(len(described), 'change')} no applied "
            f"migration makes: {_listed(described)}; generate a migration with '{generate}'",
            len(described),
            "differences",
        )
