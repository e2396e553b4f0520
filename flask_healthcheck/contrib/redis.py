"""Redis: PING, then SET, GET and DEL of a unique, expiring key, on the app's client or a URL.

Needs the ``redis`` extra (``pip install 'flask-healthcheck[redis]'``).
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

from flask_healthcheck.budget import time_left
from flask_healthcheck.contrib._base import BuiltinCheck
from flask_healthcheck.contrib.network import (
    DEFAULT_TIMEOUT,
    describe_connection_error,
    format_seconds,
)
from flask_healthcheck.exceptions import CheckError, MissingDependencyError
from flask_healthcheck.redact import mask_credentials
from flask_healthcheck.results import Outcome

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from flask_healthcheck.registry import CheckOptions

try:
    import redis
    from redis.backoff import NoBackoff
    from redis.connection import parse_url
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


def _checkout(pool: Any) -> Any:
    try:
        return pool.get_connection()
    except TypeError:  # redis-py before 5.3 requires a command name
        return pool.get_connection("PING")


class RedisCheck(BuiltinCheck):
    """Redis answers PING and stores, returns and deletes a key.

    ``health.add_check(RedisCheck(redis_client))`` reuses the app's :class:`redis.Redis` client
    and its connection pool: each run borrows one connection and gives it back.
    ``RedisCheck("redis://:password@redis:6379/0")`` makes one client on the first run and reuses
    it, with connect and socket timeouts and no retries; :meth:`close` disconnects it.
    *client_options* are passed to :meth:`redis.Redis.from_url` for that client.

    Every run sends ``PING``, then ``SET <key> <token> PX <ms>``, ``GET <key>`` and
    ``DEL <key>`` with a key made of *key_prefix* and a random part, so runs never collide
    and a key left by an abandoned run expires by itself a second after the run's timeout.
    Each command's reply is awaited no longer than the run has left
    (:func:`~flask_healthcheck.time_left`). The observed value is the time in ms of taking a
    connection from the pool and the four commands. Failures name the server and what went
    wrong ("connection refused", "timed out", "authentication failed"), never the password.

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
        self._lock = threading.Lock()
        self._client: redis.Redis | None
        self._url: str | None
        if isinstance(client_or_url, str):
            try:
                connection_kwargs = parse_url(client_or_url)  # type: ignore[no-untyped-call]
            except ValueError:
                raise ValueError(
                    "RedisCheck needs a redis://, rediss:// or unix:// URL; got "
                    f"{mask_credentials(client_or_url)!r}"
                ) from None
            self._url, self._client = client_or_url, None
            self._options = dict(client_options or {})
            service_name = None
        elif isinstance(client_or_url, redis.Redis):
            if client_options:
                raise TypeError("client_options apply to a URL; configure the given client instead")
            self._url, self._client = None, client_or_url
            connection_kwargs = client_or_url.connection_pool.connection_kwargs
            service_name = getattr(client_or_url.connection_pool, "service_name", None)
            self._options = {}
        else:
            raise TypeError(
                "RedisCheck takes a redis.Redis client or a redis:// URL; "
                f"got {type(client_or_url).__name__}"
            )
        self._db = int(connection_kwargs.get("db", 0) or 0)
        self.location = _location(connection_kwargs, service_name)
        self.key_prefix = key_prefix

    def __repr__(self) -> str:
        return f"RedisCheck(<redis at {self.location}>, name={self.name!r})"

    @property
    def owns_client(self) -> bool:
        """True when the check made its client from a URL (and :meth:`close` disconnects it)."""
        return self._url is not None

    def _client_for(self, budget: float) -> redis.Redis:
        with self._lock:
            if self._client is None:
                assert self._url is not None
                options: dict[str, Any] = {
                    "socket_connect_timeout": budget,
                    "socket_timeout": budget,
                    "retry": Retry(NoBackoff(), 0),
                    **self._options,
                }
                self._client = redis.Redis.from_url(self._url, **options)
            client = self._client
        if self.owns_client:
            # New connections of the check's own pool get this run's budget.
            kwargs = client.connection_pool.connection_kwargs
            kwargs["socket_connect_timeout"] = kwargs["socket_timeout"] = budget
        return client

    def close(self) -> None:
        """Disconnect the client the check made from a URL; a client given to it is left alone."""
        with self._lock:
            if not self.owns_client:
                return
            client, self._client = self._client, None
        if client is not None:
            client.connection_pool.disconnect()

    def __call__(self) -> Outcome:
        budget = time_left(self.timeout if self.timeout is not None else DEFAULT_TIMEOUT)
        deadline = time.monotonic() + budget
        pool = self._client_for(budget).connection_pool
        started = time.perf_counter()
        step = "connect"
        try:
            connection = _checkout(pool)
        except redis.RedisError as exc:
            raise CheckError(self._describe(exc, step, budget)) from exc
        original = (connection.socket_timeout, connection.socket_connect_timeout)
        try:
            step = "PING"
            pong = self._command(connection, deadline, "PING")
            if _text(pong) != "PONG":
                raise _ProbeMismatchError(f"PING answered {_text(pong)[:40]!r} instead of PONG")
            key = f"{self.key_prefix}{uuid.uuid4().hex}"
            token = uuid.uuid4().hex
            expiry_ms = math.ceil((budget + _KEY_GRACE) * 1000)
            step = "SET"
            self._command(connection, deadline, "SET", key, token, "PX", expiry_ms)
            step = "GET"
            stored = self._command(connection, deadline, "GET", key)
            if stored is None or _text(stored) != token:
                with contextlib.suppress(redis.RedisError):
                    self._command(connection, deadline, "DEL", key)
                if stored is None:
                    raise _ProbeMismatchError("GET found nothing right after SET (evicted?)")
                raise _ProbeMismatchError("GET returned another value than SET stored")
            step = "DEL"
            self._command(connection, deadline, "DEL", key)
        except _ProbeMismatchError as exc:
            raise CheckError(f"redis at {self.location}: {exc}") from exc
        except redis.RedisError as exc:
            raise CheckError(self._describe(exc, step, budget)) from exc
        finally:
            _set_socket_timeout(connection, original[0])
            connection.socket_connect_timeout = original[1]
            pool.release(connection)
        latency_ms = (time.perf_counter() - started) * 1000
        return Outcome(
            True,
            f"redis at {self.location} answered PING and SET/GET in {latency_ms:.1f} ms",
            observed_value=round(latency_ms, 3),
            observed_unit="ms",
        )

    @staticmethod
    def _command(connection: Any, deadline: float, *args: object) -> Any:
        _set_socket_timeout(connection, max(0.01, deadline - time.monotonic()))
        connection.send_command(*args)
        return connection.read_response()

    def _describe(self, exc: redis.RedisError, step: str, budget: float) -> str:
        return f"redis at {self.location}: {_explain(exc, step, budget, self._db)}"


def _explain(exc: redis.RedisError, step: str, budget: float, db: int) -> str:
    """What went wrong, in an operator's words, without the exception's text (it may hold a URL)."""
    message = str(exc)
    lowered = message.lower()
    if isinstance(exc, redis.exceptions.AuthenticationWrongNumberOfArgsError):
        return "authentication failed: the server takes no user name (Redis before 6)"
    code = getattr(exc, "status_code", None)  # the reply's error code, from redis-py 6 on
    if isinstance(exc, redis.AuthenticationError):
        if code == "NOAUTH" or "authentication required" in lowered:
            return "authentication required: the server has a password and none was given"
        if "no password is set" in lowered or "without any password configured" in lowered:
            return "authentication failed: a password was given but the server has none"
        return "authentication failed: wrong user name or password"
    if isinstance(exc, redis.TimeoutError):
        if "connecting" in lowered:
            return f"timed out connecting after {format_seconds(budget)} s"
        return f"timed out after {format_seconds(budget)} s waiting for a reply"
    if isinstance(exc, redis.exceptions.BusyLoadingError):
        return "the server is loading its dataset into memory"
    if isinstance(exc, redis.exceptions.MaxConnectionsError):
        return "the client's connection pool is exhausted (max_connections reached)"
    if isinstance(exc, redis.ConnectionError):
        described = describe_connection_error(exc)
        if described == "timed out":
            return f"timed out after {format_seconds(budget)} s"
        if described is not None:
            return described
        if "no connection available" in lowered:  # a BlockingConnectionPool waited in vain
            return "the client's connection pool is exhausted (no connection available)"
        if "max number of clients" in lowered:
            return "the server refused the connection: max number of clients reached"
        if "closed" in lowered:
            return "the server closed the connection"
        return f"connection failed ({type(exc).__name__})"
    if isinstance(exc, redis.ResponseError):
        if "db index" in lowered:
            return f"database {db} does not exist on the server (SELECT {db} refused)"
        if isinstance(exc, redis.exceptions.ReadOnlyError):
            return "the server is a read-only replica and refused SET"
        if isinstance(exc, redis.exceptions.OutOfMemoryError):
            return "the server is out of memory (maxmemory reached) and refused SET"
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
