"""SQLAlchemy database checks: ``SELECT 1`` on each engine, and a rolled-back model round trip.

Register them in one line each::

    from flask_healthcheck.contrib.sqlalchemy import DatabaseCheck, ModelCheck

    health.add_check(DatabaseCheck(db))             # every engine of Flask-SQLAlchemy's db
    health.add_check(ModelCheck(User, db, values={"email": "probe@example.invalid"}))

Both borrow connections from the engines' own pools and give them back, and both bound every
statement on the server as well as in the runner: PostgreSQL gets a ``statement_timeout`` for the
probe's transaction, MariaDB a ``max_statement_time`` (MySQL a ``max_execution_time``) for the
probe's statements, and PyMySQL connections a read timeout, all derived from the time the check
has left. A slow query is therefore cancelled by the server instead of running on after the
check has been reported timed out. Connect timeouts belong to the engine (``connect_args``) and
stay the application's choice; see the documentation page of this integration.

What went wrong is said in an operator's words, classified from the driver's error code or
message (:mod:`~flask_healthcheck.contrib._driver_errors`): the driver's own text, which may
quote a DSN, is never shown. The public sees the kind of failure ("connection refused",
"authentication failed", "database does not exist") or of success ("answered in 1.2 ms"); the
token holder sees which database as well (backend, name, host and port, or the SQLite file;
never the user or password).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from flask import current_app

from flask_healthcheck.contrib._base import BuiltinCheck
from flask_healthcheck.contrib._driver_errors import (
    LOST,
    MESSAGES,
    MYSQL_CODES,
    POOL_EXHAUSTED,
    REFUSED,
    SQLSTATE_CLASSES,
    SQLSTATES,
    STATEMENT_CANCELLED,
)
from flask_healthcheck.contrib._outcomes import failure, kind_of, located
from flask_healthcheck.exceptions import CheckError, MissingDependencyError
from flask_healthcheck.redact import mask_credentials
from flask_healthcheck.results import Outcome

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from flask_healthcheck.registry import CheckOptions

try:
    import sqlalchemy as sa
    from sqlalchemy import exc as sa_exc
    from sqlalchemy.engine import Connection, Engine, RootTransaction
    from sqlalchemy.orm import Mapper, Session, scoped_session, sessionmaker
    from sqlalchemy.orm.attributes import flag_modified
    from sqlalchemy.sql.expression import Executable
except ImportError as exc:  # pragma: no cover - exercised only without the extra installed
    raise MissingDependencyError("sqlalchemy", "sqlalchemy") from exc

__all__ = [
    "DatabaseCheck",
    "ModelCheck",
    "describe_engine",
    "describe_error",
    "probe_transaction",
    "statement_timeout",
]


class _HasEngines(Protocol):
    """Flask-SQLAlchemy's ``db``: its engines by bind key (``None`` is the default bind)."""

    @property
    def engines(self) -> Mapping[str | None, Engine]: ...


class _HasSession(Protocol):
    """Flask-SQLAlchemy's ``db``, as :class:`ModelCheck` uses it: its scoped session."""

    @property
    def session(self) -> scoped_session[Any]: ...


#: What :class:`DatabaseCheck` accepts: Flask-SQLAlchemy's ``db``, one engine, or several.
EngineSource: TypeAlias = "Engine | Mapping[Any, Engine] | Iterable[Engine] | _HasEngines"
#: Where :class:`ModelCheck` finds the engine of its model.
SessionSource: TypeAlias = (
    "Engine | Session | sessionmaker[Any] | scoped_session[Any] | _HasSession"
)
#: Column values of a probe row, or a callable returning fresh ones on each call.
RowValues: TypeAlias = "Mapping[str, Any] | Callable[[], Mapping[str, Any]]"


def _sqlstate(error: BaseException) -> str | None:
    for attribute in ("sqlstate", "pgcode"):  # psycopg 3, psycopg2
        value = getattr(error, attribute, None)
        if isinstance(value, str) and len(value) == 5:
            return value
    return None


def _mysql_code(error: BaseException) -> int | None:
    code = error.args[0] if error.args else None
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def describe_error(exc: BaseException) -> str:
    """What *exc*, raised by SQLAlchemy or a driver, means, without any of its text.

    The reason comes from the driver's error code (MySQL error number, SQLSTATE) or, for errors
    without one, from patterns of its message; the message itself is never returned. An error
    nothing recognises is named by its class and code: ``failed with OperationalError (SQLSTATE
    XX000)``.
    """
    if isinstance(exc, sa_exc.TimeoutError):  # the pool's, not a driver's
        return POOL_EXHAUSTED
    error: BaseException = exc
    if isinstance(exc, sa_exc.StatementError) and exc.orig is not None:
        error = exc.orig
    text = str(error)
    mysql_code = _mysql_code(error)
    sqlstate = _sqlstate(error)
    by_code = MYSQL_CODES.get(mysql_code) if mysql_code is not None else None
    if by_code is None and sqlstate is not None:
        by_code = SQLSTATES.get(sqlstate) or SQLSTATE_CLASSES.get(sqlstate[:2])
    # Network failures share one code across causes (2003: refused, timed out, unreachable), and
    # a lost connection may be a read timeout: the message tells them apart.
    if by_code is not None and by_code not in (REFUSED, LOST):
        return by_code
    for pattern, reason in MESSAGES:
        if pattern.search(text):
            return reason
    if by_code is not None:
        return by_code
    name = type(error).__name__
    if sqlstate is not None:
        return f"failed with {name} (SQLSTATE {sqlstate})"
    if mysql_code is not None:
        return f"failed with {name} (error {mysql_code})"
    return f"failed with {name}"


def _reason(exc: BaseException, statement_seconds: float) -> str:
    reason = describe_error(exc)
    if reason == STATEMENT_CANCELLED:
        return f"statement cancelled by the server after its {statement_seconds:.3g} s timeout"
    return reason


def describe_engine(engine: Engine) -> str:
    """The database of *engine* as an operator knows it, without user name or password.

    ``postgresql database 'app' at db.internal:5432``, ``sqlite database 'app.db'``.
    """
    url = engine.url
    backend = url.get_backend_name()
    if backend == "sqlite":
        return f"sqlite database {url.database or ':memory:'!r}"
    what = f"{backend} database {url.database!r}" if url.database else f"{backend} server"
    if url.host:
        where = f"[{url.host}]" if ":" in url.host else url.host
        what += f" at {where}" + (f":{url.port}" if url.port else "")
    return mask_credentials(what)


# -- timeouts on the server and on the socket -------------------------------------------------


def server_seconds(left: float) -> float:
    """Seconds the server may spend on the probe's statements: most of what the check has left,
    keeping room for the cancellation to come back before the runner gives up on the check
    (0.7 s of 1 s, 1.5 s of 2 s, 9.5 s of 10 s)."""
    return max(0.01, left - min(0.5, left * 0.3))


def _tighten_read_timeout(dbapi_connection: object, seconds: float) -> tuple[bool, Any]:
    """Give a PyMySQL connection a socket read timeout of at most *seconds* for the probe.

    A server that stops answering mid-query (a network partition) cannot cancel anything; this
    frees the probe's thread instead of leaving it blocked until TCP keepalive gives up. PyMySQL
    reads its ``_read_timeout`` before every read, so changing it applies at once.
    """
    if not type(dbapi_connection).__module__.startswith("pymysql"):
        return False, None
    saved = getattr(dbapi_connection, "_read_timeout", False)
    if saved is False:
        return False, None
    tightened = seconds if saved is None else min(float(saved), seconds)
    dbapi_connection._read_timeout = tightened  # type: ignore[attr-defined]
    return True, saved


@contextmanager
def statement_timeout(
    connection: Connection, seconds: float, read_seconds: float
) -> Iterator[None]:
    """Bound the statements run on *connection* inside this block to *seconds* on the server.

    PostgreSQL: ``statement_timeout`` set for the current transaction only (``SET LOCAL``), so it
    ends with the transaction. MariaDB: ``max_statement_time``, and MySQL: ``max_execution_time``
    (which bounds SELECTs only), set for the session and restored on the way out, since the
    connection goes back to the application's pool. PyMySQL connections also get a socket read
    timeout of *read_seconds*. Other databases are bounded by the runner's timeout only.
    The caller must have begun a transaction.
    """
    dialect = connection.dialect
    milliseconds = max(1, round(seconds * 1000))
    if dialect.name == "postgresql":
        connection.execute(
            sa.select(sa.func.set_config("statement_timeout", str(milliseconds), True))
        )
        yield
        return
    if dialect.name not in ("mysql", "mariadb"):
        yield
        return
    value: float
    if getattr(dialect, "is_mariadb", False):
        variable, value = "max_statement_time", round(seconds, 3)
    else:
        variable, value = "max_execution_time", milliseconds
    connection.execute(
        sa.text(
            f"SET @flask_healthcheck_saved = @@SESSION.{variable}, SESSION {variable} = :value"
        ),
        {"value": value},
    )
    dbapi_connection = connection.connection.dbapi_connection
    tightened, saved_read_timeout = _tighten_read_timeout(dbapi_connection, read_seconds)
    try:
        yield
    finally:
        if tightened:
            dbapi_connection._read_timeout = saved_read_timeout  # type: ignore[union-attr]
        if not connection.invalidated:
            try:
                connection.execute(
                    sa.text(
                        f"SET SESSION {variable} = @flask_healthcheck_saved, "
                        "@flask_healthcheck_saved = NULL"
                    )
                )
            except Exception:
                # A connection whose limit could not be restored must not serve the app.
                connection.invalidate()


def _roll_back(connection: Connection, transaction: RootTransaction) -> None:
    """Roll *transaction* back; a connection that cannot be rolled back leaves the pool."""
    try:
        if transaction.is_active:
            transaction.rollback()
    except Exception:
        connection.invalidate()


@contextmanager
def probe_transaction(engine: Engine, left: float) -> Iterator[Connection]:
    """A connection of *engine*'s pool in a transaction that is always rolled back, whose
    statements the server cancels after :func:`server_seconds` of *left* (see
    :func:`statement_timeout`). What the SQLAlchemy and Alembic checks run, they run in one."""
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            with statement_timeout(connection, server_seconds(left), left):
                yield connection
        finally:
            _roll_back(connection, transaction)


# -- DatabaseCheck ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Answer:
    """How one engine answered a probe: its latency, or why it did not answer."""

    latency_ms: float | None
    reason: str = ""
    error: BaseException | None = None

    @property
    def passed(self) -> bool:
        return self.latency_ms is not None


def _ping(engine: Engine, statement: Executable, left: float) -> _Answer:
    """Run *statement* on a connection of *engine*'s pool, inside a transaction rolled back."""
    retried = False
    while True:
        started = time.perf_counter()
        try:
            with probe_transaction(engine, left) as connection:
                result = connection.execute(statement)
                if result.returns_rows:
                    result.all()
            return _Answer(latency_ms=(time.perf_counter() - started) * 1000)
        except sa_exc.DBAPIError as exc:
            # A pooled connection the server had closed (say, after a restart) is invalidated
            # by SQLAlchemy: one more try with a fresh connection tells whether it is the
            # database or only that connection that is gone.
            if (
                exc.connection_invalidated
                and not retried
                and time.perf_counter() - started < left / 4
            ):
                retried = True
                continue
            return _Answer(None, _reason(exc, server_seconds(left)), exc)
        except Exception as exc:
            return _Answer(None, _reason(exc, server_seconds(left)), exc)


def _ping_all(engines: list[Engine], statement: Executable, left: float) -> list[_Answer]:
    """Ping *engines* concurrently: the first in this thread, each other in a thread of its own.

    It returns when every engine has answered, however long one takes: the runner reports the
    check timed out meanwhile, and starts no second run of it while this one is in flight, so
    an engine that hangs (a black-holed host without a connect timeout) holds one run's
    threads and no more, instead of each run adding a thread for it.
    """
    answers: list[_Answer | None] = [None] * len(engines)

    def ping(index: int) -> None:
        answers[index] = _ping(engines[index], statement, left)

    others = [
        threading.Thread(target=ping, args=(index,), name="healthcheck:database", daemon=True)
        for index in range(1, len(engines))
    ]
    for thread in others:
        thread.start()
    ping(0)
    for thread in others:
        thread.join()
    return [answer or _Answer(None, "the probe ended without an answer") for answer in answers]


def _as_engine(value: object, where: str) -> Engine:
    if isinstance(value, Engine):
        return value
    if hasattr(value, "sync_engine"):
        raise TypeError(
            f"{where} is an AsyncEngine; DatabaseCheck needs a synchronous Engine "
            "(create one with sqlalchemy.create_engine for the same URL and a sync driver)"
        )
    raise TypeError(f"{where} must be a SQLAlchemy Engine; got {type(value).__name__}")


def _named_engines(source: object) -> list[tuple[str, Engine]]:
    """The engines of *source*, each with its label ('' when there is only one)."""
    pairs: list[tuple[str, Engine]]
    if isinstance(source, Engine):
        return [("", source)]
    if hasattr(source, "sync_engine"):
        _as_engine(source, "the engine")
    if isinstance(source, Mapping):
        pairs = [
            ("default" if key is None else str(key), _as_engine(engine, f"engine {key!r}"))
            for key, engine in source.items()
        ]
    elif hasattr(type(source), "engines"):  # Flask-SQLAlchemy's db, or the like
        return _named_engines(source.engines)  # type: ignore[attr-defined]
    elif isinstance(source, Iterable) and not isinstance(source, str | bytes):
        pairs = [
            ("", _as_engine(engine, f"engine #{index}")) for index, engine in enumerate(source)
        ]
    else:
        raise TypeError(
            "DatabaseCheck checks Flask-SQLAlchemy's db, an Engine, or a mapping or list of "
            f"engines; got {type(source).__name__}"
        )
    if len(pairs) == 1:
        return [("", pairs[0][1])]
    return pairs


class DatabaseCheck(BuiltinCheck):
    """Run ``SELECT 1`` (or *query*) on each engine, and report how fast each answered.

    *target* is Flask-SQLAlchemy's ``db`` (all its engines, binds included, found in the app
    context each time the check runs), one :class:`~sqlalchemy.engine.Engine`, or a mapping
    (bind name -> engine) or list of engines; *engines* is the same as a keyword. With neither,
    the check uses the Flask-SQLAlchemy extension of the current app.

    Engines are probed concurrently, each through its own pool, in a transaction that is rolled
    back; the statement is bounded on the server (see :func:`statement_timeout`). The check
    passes when every engine answers; its observed value is the slowest latency in ms. A run
    ends when every engine has answered: an engine that hangs (no connect timeout set,
    black-holed host) is reported by the runner as the check timing out, and, since the runner
    never starts a second run of a check while one is in flight, costs one thread per engine.

    The public sees ``answered in 1.2 ms`` or the kind of failure (``connection refused``),
    prefixed by the bind's name when there are several engines; the token holder also sees
    which database (``postgresql database 'app' at db.internal:5432``).

    *query* replaces ``SELECT 1``: a SQL string or a SQLAlchemy statement. It should be cheap
    and read-only; it runs in a transaction that is always rolled back.

    The other options are those of :meth:`~flask_healthcheck.HealthCheck.add_check`, whose
    own arguments win over them. Readiness (``("ready",)``) is where a database belongs: an
    outage should take pods out of the load balancer, not restart them all.
    """

    name = "database"

    def __init__(
        self,
        target: EngineSource | None = None,
        *,
        engines: Mapping[Any, Engine] | Iterable[Engine] | None = None,
        query: str | Executable | None = None,
        **options: Unpack[CheckOptions],
    ) -> None:
        super().__init__(**options)
        if target is not None and engines is not None:
            raise TypeError(
                "give the engines either as the first argument or as engines=, not both"
            )
        source = target if target is not None else engines
        # Engines given directly are validated now, so a mistake fails at start-up; a db's
        # engines exist only in an app context and are looked up when the check runs.
        self._engines: list[tuple[str, Engine]] | None = None
        if source is not None and not hasattr(type(source), "engines"):
            self._engines = _named_engines(source)
            if not self._engines:
                raise ValueError("DatabaseCheck needs at least one engine; got none")
        self._source = source
        if query is None:
            self.query: Executable = sa.select(sa.literal_column("1"))
        elif isinstance(query, str):
            self.query = sa.text(query)
        else:
            self.query = query

    def __repr__(self) -> str:
        return f"<DatabaseCheck {self.name!r}>"

    def engines(self) -> list[tuple[str, Engine]]:
        """The engines this check probes, with their labels; needs an app context for a db."""
        if self._engines is not None:
            return self._engines
        source: object = self._source
        if source is None:
            source = current_app.extensions.get("sqlalchemy")
            if source is None:
                raise CheckError(
                    "no Flask-SQLAlchemy extension on this app; give the check its engines: "
                    "DatabaseCheck(engine) or DatabaseCheck(db)"
                )
        return _named_engines(source)

    def __call__(self) -> Outcome:
        named = self.engines()
        if not named:
            raise CheckError("no database engine to check")
        answers = _ping_all([engine for _, engine in named], self.query, self.time_left())
        public: list[tuple[bool, str]] = []
        detailed: list[tuple[bool, str]] = []
        first_error: BaseException | None = None
        for (label, engine), answer in zip(named, answers, strict=True):
            prefix = f"{label}: " if label else ""
            if answer.latency_ms is None:
                said = answer.reason
                first_error = first_error or answer.error
            else:
                said = f"answered in {answer.latency_ms:.1f} ms"
            public.append((answer.passed, f"{prefix}{kind_of(said)}"))
            detailed.append((answer.passed, f"{prefix}{describe_engine(engine)}: {said}"))
        # Failures first: they are what a reader of a failing check looks for.
        output = "; ".join(text for passed, text in sorted(public, key=lambda pair: pair[0]))
        detail = "; ".join(text for passed, text in sorted(detailed, key=lambda pair: pair[0]))
        if first_error is not None or not all(answer.passed for answer in answers):
            raise CheckError(output, detail=detail) from first_error
        slowest = max(answer.latency_ms or 0.0 for answer in answers)
        return Outcome(
            True, output, observed_value=round(slowest, 3), observed_unit="ms", detail=detail
        )


# -- ModelCheck -------------------------------------------------------------------------------


class _RoundTripError(Exception):
    """A step of the round trip found the database in a state it did not expect."""


#: A table's storage engine on MySQL and MariaDB, and whether that engine has transactions.
_STORAGE_ENGINE = sa.text(
    "SELECT t.ENGINE AS engine, e.TRANSACTIONS AS transactions "
    "FROM information_schema.TABLES AS t "
    "LEFT JOIN information_schema.ENGINES AS e ON e.ENGINE = t.ENGINE "
    "WHERE t.TABLE_SCHEMA = COALESCE(:schema, DATABASE()) AND t.TABLE_NAME = :name"
)


def _row_values(values: RowValues | None) -> dict[str, Any]:
    if values is None:
        return {}
    return dict(values() if callable(values) else values)


class ModelCheck(BuiltinCheck):
    """Insert, read back, update and delete one row of *model*, and roll it all back.

    It proves that the application can write as well as read, through its own mapping (column
    types, defaults, constraints, triggers). Every step runs on a connection of its own, taken
    from the engine's pool, in one transaction that is rolled back whatever happens, so nothing
    persists, not when a step fails, not when the check times out; the application's scoped
    session is never touched. The statements are
    bounded on the server like :class:`DatabaseCheck`'s.

    *session_or_db* says where the model's engine is: Flask-SQLAlchemy's ``db`` (the model's
    bind key is honoured), a ``sessionmaker``, a ``scoped_session``, a ``Session`` (only its
    ``get_bind`` is used), or an ``Engine``.

    *values* gives the inserted row's columns, for those with no default: a mapping, or a
    callable returning one (called for each run, so it can make unique values). The update
    sets *changes* (same forms), or by default the values of a second call of *values*, and
    always writes every column it names, so an UPDATE reaches the database even when nothing
    changes. With neither, a non-key column is rewritten with its own value.

    On MySQL and MariaDB the table's storage engine must be transactional (InnoDB, not
    MyISAM), or rows would stay: the check looks before writing, and fails saying so.

    The public sees ``inserted, read, updated and deleted a User row in 4.2 ms, rolled back``
    or which step failed and how (``User round trip failed at insert: a UNIQUE constraint was
    violated``); the token holder also sees which database.
    """

    def __init__(
        self,
        model: type[Any],
        session_or_db: SessionSource,
        *,
        values: RowValues | None = None,
        changes: RowValues | None = None,
        **options: Unpack[CheckOptions],
    ) -> None:
        mapper = sa.inspect(model, raiseerr=False)
        if not isinstance(mapper, Mapper):
            raise TypeError(f"ModelCheck needs a mapped model class; got {model!r}")
        if not isinstance(session_or_db, Engine | Session | sessionmaker | scoped_session) and not (
            isinstance(getattr(session_or_db, "session", None), scoped_session)
        ):
            raise TypeError(
                "ModelCheck finds the model's database through Flask-SQLAlchemy's db, a "
                f"sessionmaker, a scoped_session, a Session or an Engine; got "
                f"{type(session_or_db).__name__}"
            )
        self.model = model
        self._mapper: Mapper[Any] = mapper
        self._source = session_or_db
        for given in (values, changes):
            problem = None if given is None or callable(given) else self._unknown_keys(given)
            if problem is not None:
                raise ValueError(problem)
        self._values = values
        self._changes = changes
        table = getattr(mapper.local_table, "name", None) or model.__name__
        default_name = "model:" + re.sub(r"[^A-Za-z0-9_.\-]", "_", table)[:122]
        self.name = default_name
        super().__init__(**options)

    def __repr__(self) -> str:
        return f"<ModelCheck {self.name!r} of {self.model.__name__}>"

    def _unknown_keys(self, values: Mapping[str, Any]) -> str | None:
        """What is wrong with *values*, or None when the model maps every key."""
        unknown = sorted(set(values) - set(self._mapper.attrs.keys()))
        if not unknown:
            return None
        return (
            f"{self.model.__name__} has no attribute(s) {', '.join(map(repr, unknown))}; "
            f"give values for its columns: {', '.join(self._mapper.columns.keys())}"
        )

    def _checked(self, values: RowValues | None) -> dict[str, Any]:
        row_values = _row_values(values)
        problem = self._unknown_keys(row_values)
        if problem is not None:
            raise _RoundTripError(problem)
        return row_values

    def engine(self) -> Engine:
        """The engine the model's table is on; needs an app context for Flask-SQLAlchemy."""
        source = self._source
        if isinstance(source, Engine):
            return source
        if isinstance(source, Session):
            bind = source.get_bind(mapper=self._mapper)
        else:
            if isinstance(source, scoped_session):
                factory: sessionmaker[Any] = source.session_factory
            elif isinstance(source, sessionmaker):
                factory = source
            else:
                factory = source.session.session_factory
            with factory() as session:
                bind = session.get_bind(mapper=self._mapper)
        return bind if isinstance(bind, Engine) else bind.engine

    def _write_values(self, row: object, values: Mapping[str, Any]) -> None:
        columns = self._mapper.column_attrs.keys()
        for key, value in values.items():
            setattr(row, key, value)
            if key in columns:
                flag_modified(row, key)
        if values:
            return
        for prop in self._mapper.column_attrs:
            if not any(getattr(column, "primary_key", False) for column in prop.columns):
                flag_modified(row, prop.key)
                return

    def _round_trip(self, session: Session, steps: list[str]) -> None:
        steps.append("insert")
        row = self.model(**self._checked(self._values))
        session.add(row)
        session.flush()
        identity = sa.inspect(row).identity
        session.expunge_all()

        steps.append("read back")
        loaded = session.get(self.model, identity)
        if loaded is None:
            raise _RoundTripError("the inserted row was not found")

        steps.append("update")
        changes = self._changes if self._changes is not None else self._values
        self._write_values(loaded, self._checked(changes))
        session.flush()
        identity = sa.inspect(loaded).identity

        steps.append("delete")
        session.delete(loaded)
        session.flush()

        steps.append("read after delete")
        session.expunge_all()
        if session.get(self.model, identity) is not None:
            raise _RoundTripError("the deleted row is still there")

    def _refuse_non_transactional_tables(self, connection: Connection) -> None:
        """Stop before writing to a table whose storage engine cannot roll back (MyISAM, MEMORY,
        ARCHIVE on MySQL and MariaDB): the round trip would leave its rows behind."""
        if connection.dialect.name not in ("mysql", "mariadb"):
            return
        for table in self._mapper.tables:
            name = getattr(table, "name", None)
            if not isinstance(name, str):
                continue
            found = connection.execute(
                _STORAGE_ENGINE, {"schema": getattr(table, "schema", None), "name": name}
            ).first()
            if found is not None and found.engine is not None and found.transactions != "YES":
                raise _RoundTripError(
                    f"table {name} uses the {found.engine} storage engine, which cannot roll "
                    f"back, so the round trip would leave rows behind (convert it with "
                    f"'ALTER TABLE {name} ENGINE=InnoDB', or do not check this model)"
                )

    def __call__(self) -> Outcome:
        engine = self.engine()
        database = describe_engine(engine)
        what = f"{self.model.__name__} round trip"
        left = self.time_left()
        steps = ["connect"]
        started = time.perf_counter()
        try:
            with (
                probe_transaction(engine, left) as connection,
                Session(
                    bind=connection,
                    join_transaction_mode="rollback_only",
                    autoflush=False,
                    expire_on_commit=False,
                ) as session,
            ):
                steps.append("check the storage engine")
                self._refuse_non_transactional_tables(connection)
                self._round_trip(session, steps)
        except _RoundTripError as exc:
            raise failure(f"{what} failed at {steps[-1]}: {exc}", database) from None
        except Exception as exc:
            reason = _reason(exc, server_seconds(left))
            raise failure(f"{what} failed at {steps[-1]}: {reason}", database) from exc
        elapsed_ms = (time.perf_counter() - started) * 1000
        return located(
            database,
            Outcome(
                True,
                f"inserted, read, updated and deleted a {self.model.__name__} row "
                f"in {elapsed_ms:.1f} ms, rolled back",
                observed_value=round(elapsed_ms, 3),
                observed_unit="ms",
            ),
        )
