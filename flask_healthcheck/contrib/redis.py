"""Redis: PING, then SET, GET and DEL of a unique, expiring key, on the app's client or a URL.

Needs the ``redis`` extra (``pip install 'flask-health-checks[redis]'``).
"""

from __future__ import annotations

import contextlib
import math
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flask_healthcheck.contrib._base import BuiltinCheck, renew_after_fork
from flask_healthcheck.contrib._outcomes import (
    answered,
    describe_connection_error,
    failure,
    format_seconds,
    timed_out_after,
)
from flask_healthcheck.exceptions import MissingDependencyError
from flask_healthcheck.redact import mask_credentials
from flask_healthcheck.results import Outcome

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from flask_healthcheck.registry import CheckOptions

try:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry
except ImportError as exc:
    raise MissingDependencyError("redis", "redis") from exc

#: Prefix of the probe keys; each run writes ``<prefix><random hex>`` and deletes it.
KEY_PREFIX = "flask_healthcheck:probe:"

#: Seconds a probe key outlives the run's budget, should the run be abandoned before DEL.
_KEY_GRACE = 1.0


class _ProbeMismatchError(Exception):
    """The server answered, but not what a working Redis answers."""


def _text(reply: object) -> str:
    if isinstance(reply, bytes):
        return reply.decode("utf-8", "replace")
    return str(reply)


def _location(connection_kwargs: Mapping[str, Any], service_name: object = None) -> str:
    """``127.0.0.1:6379``, ``/run/redis.sock`` or ``127.0.0.1:6379 (db 3)``, as operators say it."""
    if service_name:  # a Sentinel pool: the address changes with failovers
        where = f"sentinel service {service_name}"
    elif connection_kwargs.get("path"):
        where = str(connection_kwargs["path"])
    else:
        host = connection_kwargs.get("host", "localhost")
        where = f"{host}:{connection_kwargs.get('port', 6379)}"
    db = int(connection_kwargs.get("db", 0) or 0)
    return f"{where} (db {db})" if db else where


def _set_socket_timeout(connection: Any, seconds: float | None) -> None:
    """Bound the connection's next reads and writes, and any reconnect it makes, by *seconds*."""
    connection.socket_timeout = seconds
    connection.socket_connect_timeout = seconds
    # redis-py applies socket_timeout only when it connects; an open socket needs it set.
    sock = getattr(connection, "_sock", None)
    if isinstance(sock, socket.socket):
        sock.settimeout(seconds)


class RedisCheck(BuiltinCheck):
    """Redis answers PING and stores, returns and deletes a key.

    ``health.add_check(RedisCheck(redis_client))`` probes the server of the app's
    :class:`redis.Redis` client, with its connection settings: host or socket, credentials,
    TLS, database, Sentinel discovery. ``RedisCheck("redis://:password@redis:6379/0")`` does
    the same for a URL; *client_options* are keyword arguments of :meth:`redis.Redis.from_url`
    for it.

    The check keeps one connection of its own, made with the client's connection class and
    settings, but never the client's retries: a client configured to retry with backoff would
    turn "connection refused" into "timed out" and hold the check's thread for seconds, while
    the probe's job is to say at once what is wrong. Borrowing a connection from the client's
    pool cannot avoid them, since the pool connects with the connection's own retry policy.
    So the app's pool is never touched (no connection of the app's is taken or left with the
    probe's timeouts), and the server sees one more client per process. :meth:`close`
    disconnects it; a connection that fails is dropped and the next run connects again.

    Every run sends ``PING``, then ``SET <key> <token> PX <ms>``, ``GET <key>`` and
    ``DEL <key>`` with a key made of *key_prefix* and a random part, so runs never collide
    and a key left by an abandoned run expires by itself a second after the run's timeout.
    Connecting and each command's reply are awaited no longer than the run has left
    (:func:`~flask_healthcheck.time_left`). The observed value is the time in ms of the four
    commands (connecting included when the connection is new).

    The public sees what happened ("answered PING and SET/GET in 0.8 ms", "connection
    refused", "timed out after 1 s", "authentication failed"); the token holder sees the
    server's address and database as well, never the password.

    The name defaults to ``redis`` and the tags to ``("ready",)``; the other options are those
    of :meth:`~flask_healthcheck.HealthCheck.add_check`.
    """

    name = "redis"

    def __init__(
        self,
        client_or_url: redis.Redis | str,
        *,
        key_prefix: str = KEY_PREFIX,
        client_options: Mapping[str, Any] | None = None,
        **options: Unpack[CheckOptions],
    ) -> None:
        super().__init__(**options)
        if isinstance(client_or_url, str):
            try:
                pool = redis.ConnectionPool.from_url(client_or_url, **dict(client_options or {}))
            except ValueError:
                raise ValueError(
                    "RedisCheck needs a redis://, rediss:// or unix:// URL; got "
                    f"{mask_credentials(client_or_url)!r}"
                ) from None
        elif isinstance(client_or_url, redis.Redis):
            if client_options:
                raise TypeError("client_options apply to a URL; configure the given client instead")
            pool = client_or_url.connection_pool
        else:
            raise TypeError(
                "RedisCheck takes a redis.Redis client or a redis:// URL; "
                f"got {type(client_or_url).__name__}"
            )
        self._connection_class: type[Any] = pool.connection_class
        self._connection_kwargs: dict[str, Any] = {
            **pool.connection_kwargs,
            "retry": Retry(NoBackoff(), 0),
        }
        self._db = int(self._connection_kwargs.get("db", 0) or 0)
        self.location = _location(self._connection_kwargs, getattr(pool, "service_name", None))
        self.key_prefix = key_prefix
        self._lock = threading.Lock()
        self._connection: Any = None
        renew_after_fork(self)

    def __repr__(self) -> str:
        return f"RedisCheck(<redis at {self.location}>, name={self.name!r})"

    @property
    def where(self) -> str:
        """``redis at 127.0.0.1:6379 (db 3)``: what the token holder's messages start with."""
        return f"redis at {self.location}"

    def close(self) -> None:
        """Disconnect the check's connection; the app's client is never touched."""
        with self._lock:
            self._forget()

    def _forget(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.disconnect()

    def _after_fork(self) -> None:
        """In a forked child: a run of the parent may have held the lock, and the connection
        is the parent's (redis-py leaves a socket it did not open in this process alone)."""
        self._lock = threading.Lock()
        self._connection = None

    def _connected(self, budget: float) -> Any:
        """The check's connection, connected within *budget*."""
        if self._connection is None:
            self._connection = self._connection_class(
                **{
                    **self._connection_kwargs,
                    "socket_connect_timeout": budget,
                    "socket_timeout": budget,
                }
            )
        connection = self._connection
        connection.socket_connect_timeout = budget
        if getattr(connection, "_sock", None) is not None:
            # A kept connection the server has closed since (a restart, an idle timeout) reads
            # as readable: connect again, as redis-py's pool does, rather than fail the run.
            try:
                stale = connection.can_read()
            except (redis.ConnectionError, redis.TimeoutError, OSError):
                stale = True
            if stale:
                connection.disconnect()
        connection.connect()
        return connection

    def __call__(self) -> Outcome:
        budget = self.time_left()
        deadline = time.monotonic() + budget
        if not self._lock.acquire(timeout=budget):
            raise failure("a previous run is still waiting for the server", self.where)
        try:
            started = time.perf_counter()
            step = "connect"
            try:
                connection = self._connected(budget)
                step = "PING"
                pong = _command(connection, deadline, "PING")
                if _text(pong) != "PONG":
                    raise _ProbeMismatchError(
                        f"PING answered another reply than PONG ({_text(pong)[:40]!r})"
                    )
                key = f"{self.key_prefix}{uuid.uuid4().hex}"
                token = uuid.uuid4().hex
                expiry_ms = math.ceil((budget + _KEY_GRACE) * 1000)
                step = "SET"
                _command(connection, deadline, "SET", key, token, "PX", expiry_ms)
                step = "GET"
                stored = _command(connection, deadline, "GET", key)
                if stored is None or _text(stored) != token:
                    with contextlib.suppress(redis.RedisError):
                        _command(connection, deadline, "DEL", key)
                    if stored is None:
                        raise _ProbeMismatchError("GET found nothing right after SET (evicted?)")
                    raise _ProbeMismatchError("GET returned another value than SET stored")
                step = "DEL"
                _command(connection, deadline, "DEL", key)
            except _ProbeMismatchError as exc:
                raise failure(str(exc), self.where) from exc
            except redis.RedisError as exc:
                self._forget()
                raise failure(_explain(exc, step, budget, self._db), self.where) from exc
            except BaseException:
                self._forget()
                raise
        finally:
            self._lock.release()
        return answered(self.where, "answered PING and SET/GET", started)


def _command(connection: Any, deadline: float, *args: object) -> Any:
    _set_socket_timeout(connection, max(0.01, deadline - time.monotonic()))
    connection.send_command(*args)
    return connection.read_response()


def _explain(exc: redis.RedisError, step: str, budget: float, db: int) -> str:
    """What went wrong, as ``kind (explanation)``, without the exception's text (it may hold a
    URL): the kind is what the public sees."""
    message = str(exc)
    lowered = message.lower()
    if isinstance(exc, redis.exceptions.AuthenticationWrongNumberOfArgsError):
        return "authentication failed (the server takes no user name: Redis before 6)"
    code = getattr(exc, "status_code", None)  # the reply's error code, from redis-py 6 on
    if isinstance(exc, redis.AuthenticationError):
        if code == "NOAUTH" or "authentication required" in lowered:
            return "authentication required (the server has a password and none was given)"
        if "no password is set" in lowered or "without any password configured" in lowered:
            return "authentication failed (a password was given but the server has none)"
        return "authentication failed (wrong user name or password)"
    if isinstance(exc, redis.TimeoutError):
        if "connecting" in lowered:
            return f"timed out connecting after {format_seconds(budget)} s"
        return f"{timed_out_after(budget)} waiting for a reply"
    if isinstance(exc, redis.exceptions.BusyLoadingError):
        return "the server is loading its dataset into memory"
    if isinstance(exc, redis.exceptions.MaxConnectionsError):
        return "no connection available (max_connections reached)"
    if isinstance(exc, redis.ConnectionError):
        described = describe_connection_error(exc, budget)
        if described is not None:
            return described
        if "max number of clients" in lowered:
            return "the server refused the connection (max number of clients reached)"
        if "closed" in lowered:
            return "the server closed the connection"
        return f"connection failed ({type(exc).__name__})"
    if isinstance(exc, redis.ResponseError):
        if "db index" in lowered:
            return f"database {db} does not exist on the server (SELECT {db} refused)"
        if isinstance(exc, redis.exceptions.ReadOnlyError):
            return "the server is a read-only replica and refused SET"
        if isinstance(exc, redis.exceptions.OutOfMemoryError):
            return "the server is out of memory and refused SET (maxmemory reached)"
        if isinstance(exc, redis.exceptions.NoPermissionError):
            return f"the Redis user may not run {step} (NOPERM)"
        if lowered.startswith("misconf"):
            return "the server refuses writes: it cannot save to disk (MISCONF)"
        if lowered.startswith("busy"):
            return "the server is busy running a script (BUSY)"
        if not code:
            first_word = message.split(" ", 1)[0]
            code = first_word if first_word.isupper() and first_word.isalpha() else "ERR"
        return f"{step} failed with an error reply ({code})"
    return f"{step} failed ({type(exc).__name__})"
