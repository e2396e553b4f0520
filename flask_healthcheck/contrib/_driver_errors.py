"""What database drivers' errors mean, in an operator's words: the tables the SQLAlchemy checks
classify errors by.

Each reason reads ``kind (explanation)``: the public sees the kind ("connection refused"), the
token holder the whole reason (see :mod:`flask_healthcheck.contrib._outcomes`). Errors are
classified by their code (MySQL and MariaDB error numbers, SQLSTATEs) and, for errors without
one (most connection failures), by patterns of their message, which is matched and never shown:
a driver's message may quote a DSN.
"""

from __future__ import annotations

import re

#: The reasons, shared by the tables below.
REFUSED = "connection refused (is the server running and listening on that host and port?)"
CONNECT_TIMED_OUT = "timed out connecting"
ANSWER_TIMED_OUT = "timed out waiting for the server to answer"
STATEMENT_CANCELLED = "statement cancelled by the server (statement timeout)"
AUTH_FAILED = "authentication failed (wrong user name or password)"
UNKNOWN_USER = "authentication failed (the user does not exist)"
CREDENTIALS_MISSING = "authentication failed (the server wants a password and none was given)"
NO_DATABASE = "database does not exist"
DATABASE_DENIED = "permission denied for the database"
UNRESOLVED = "host name does not resolve"
UNREACHABLE = "host unreachable"
TOO_MANY = "too many connections"
STARTING_UP = "server is starting up"
SHUTTING_DOWN = "server is shutting down"
LOST = "connection lost"
POOL_EXHAUSTED = "no free connection in the pool (every connection is in use)"
PERMISSION_DENIED = "permission denied"
READ_ONLY = "database is read-only"
NO_TABLE = "table does not exist (are the migrations applied?)"
NO_COLUMN = "column does not exist (are the migrations applied?)"
NOT_NULL = "a NOT NULL constraint was violated"
UNIQUE = "a UNIQUE constraint was violated"
FOREIGN_KEY = "a FOREIGN KEY constraint was violated"
CHECK = "a CHECK constraint was violated"
INTEGRITY = "an integrity constraint was violated"
LOCK_TIMEOUT = "timed out waiting for a lock"
DEADLOCK = "deadlock detected"
SERIALIZATION = "could not serialize access due to a concurrent update"
CANNOT_OPEN = "cannot open the database file"
LOCKED = "database is locked"
NOT_A_DATABASE = "the file is not a database"
DISK_FULL = "disk is full"
DISK_ERROR = "disk I/O error"

# Codes of MySQL and MariaDB, the first argument of every PyMySQL and mysqlclient error.
MYSQL_CODES: dict[int, str] = {
    1040: TOO_MANY,
    1044: DATABASE_DENIED,
    1045: AUTH_FAILED,
    1048: NOT_NULL,
    1049: NO_DATABASE,
    1053: SHUTTING_DOWN,
    1054: NO_COLUMN,
    1062: UNIQUE,
    1142: PERMISSION_DENIED,
    1143: PERMISSION_DENIED,
    1146: NO_TABLE,
    1203: TOO_MANY,
    1205: LOCK_TIMEOUT,
    1213: DEADLOCK,
    1290: READ_ONLY,
    1364: NOT_NULL,
    1451: FOREIGN_KEY,
    1452: FOREIGN_KEY,
    1792: READ_ONLY,
    1836: READ_ONLY,
    1927: LOST,
    1969: STATEMENT_CANCELLED,  # MariaDB: max_statement_time exceeded
    2002: REFUSED,
    2003: REFUSED,
    2005: UNRESOLVED,
    2006: LOST,
    2013: LOST,
    3024: STATEMENT_CANCELLED,  # MySQL: max_execution_time exceeded
    3819: CHECK,
    4025: CHECK,
}

# SQLSTATEs (PostgreSQL, and the standard ones other drivers report).
SQLSTATES: dict[str, str] = {
    "57014": STATEMENT_CANCELLED,
    "28P01": AUTH_FAILED,
    "28000": AUTH_FAILED,
    "3D000": NO_DATABASE,
    "53300": TOO_MANY,
    "57P01": SHUTTING_DOWN,
    "57P02": SHUTTING_DOWN,
    "57P03": STARTING_UP,
    "42P01": NO_TABLE,
    "42S02": NO_TABLE,
    "42703": NO_COLUMN,
    "42S22": NO_COLUMN,
    "42501": PERMISSION_DENIED,
    "25006": READ_ONLY,
    "23502": NOT_NULL,
    "23505": UNIQUE,
    "23503": FOREIGN_KEY,
    "23514": CHECK,
    "40001": SERIALIZATION,
    "40P01": DEADLOCK,
    "55P03": LOCK_TIMEOUT,
    "HYT00": ANSWER_TIMED_OUT,
    "HYT01": CONNECT_TIMED_OUT,
}
SQLSTATE_CLASSES: dict[str, str] = {"08": LOST, "23": INTEGRITY, "28": AUTH_FAILED}

# Patterns of drivers' messages, for errors without a code (most connection failures): they are
# only matched, never shown, since a driver's message may quote a DSN.
MESSAGES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(pattern, re.IGNORECASE), reason)
    for pattern, reason in [
        (r"connection refused", REFUSED),
        (r"connection timeout expired|timeout expired|connect(ion)? timed out", CONNECT_TIMED_OUT),
        (r"timed out|timeout", ANSWER_TIMED_OUT),
        (r"role \".*\" does not exist|unknown user", UNKNOWN_USER),
        (r"no password supplied|password is required", CREDENTIALS_MISSING),
        (r"authentication failed|access denied|password", AUTH_FAILED),
        (r"database \".*\" does not exist|unknown database", NO_DATABASE),
        (
            r"could not translate host name|failed to resolve host|name or service not known"
            r"|nodename nor servname|name resolution|getaddrinfo failed"
            r"|unknown (mysql )?server host",
            UNRESOLVED,
        ),
        (r"no route to host|network is unreachable|host is unreachable", UNREACHABLE),
        (r"too many (clients|connections)|remaining connection slots", TOO_MANY),
        (r"starting up|not yet accepting connections", STARTING_UP),
        (r"shutting down|administrator command", SHUTTING_DOWN),
        (r"unable to open database file", CANNOT_OPEN),
        (r"database( table)? is locked", LOCKED),
        (r"file is not a database", NOT_A_DATABASE),
        (r"disk is full", DISK_FULL),
        (r"disk i/o error", DISK_ERROR),
        (r"no such table", NO_TABLE),
        (r"no such column|has no column named", NO_COLUMN),
        (r"readonly database|read-only", READ_ONLY),
        (r"not null constraint", NOT_NULL),
        (r"unique constraint", UNIQUE),
        (r"foreign key constraint", FOREIGN_KEY),
        (r"check constraint", CHECK),
        (
            r"server closed the connection|lost connection|gone away|connection reset"
            r"|broken pipe|connection (is|was|already) closed|eof detected|consuming input failed",
            LOST,
        ),
    ]
]
