"""Celery: checks of the broker, the workers and the queues, from the Flask app.

Install with ``pip install 'flask-health-checks[celery]'``::

    health.add_check(CeleryBrokerCheck(celery_app))
    health.add_check(CeleryWorkersCheck(celery_app))
    health.add_check(CeleryQueueCheck(celery_app, queues=("celery",), warn=100, fail=1000))

The workers keep probe files of their own (:mod:`flask_healthcheck.contrib.celery_worker`),
which ``flask-healthcheck worker`` reads in the worker's container
(:mod:`flask_healthcheck.worker_probe`); its ``--ping`` uses :func:`ping_workers` from here.

Each check keeps one broker connection of its own between runs, opened from the app's broker
settings with the run's time left as connect and socket timeouts. It is not taken from the
app's producer pool on purpose: those connections carry the app's timeouts (a Redis broker has
no socket timeout by default, so a broker that stops answering would hold the check's thread
forever), and a probe must neither hold a connection the app needs to publish tasks nor leave
one with its short timeouts behind. A connection that fails is dropped and the next run opens
a new one; :meth:`close` closes it.

The public sees the kind of failure ("connection refused", "login refused", "timed out after
2 s") or of success ("answered in 1.2 ms", "2 workers answered a ping"); the token holder also
sees the broker's URL (its user name included, the password masked) and the workers' names,
which carry their host names.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from flask_healthcheck.budget import time_left
from flask_healthcheck.contrib._base import BuiltinCheck, renew_after_fork
from flask_healthcheck.contrib._outcomes import (
    causes,
    describe_os_error,
    failure,
    located,
    timed_out_after,
)
from flask_healthcheck.exceptions import CheckError, MissingDependencyError
from flask_healthcheck.redact import mask_credentials
from flask_healthcheck.results import Outcome

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from flask_healthcheck.registry import CheckOptions

try:
    import celery  # noqa: F401 - the checks drive it through the app they are given
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError("celery", "celery") from exc

__all__ = [
    "CeleryBrokerCheck",
    "CeleryQueueCheck",
    "CeleryWorkersCheck",
    "broker_where",
    "ping_workers",
]

logger = logging.getLogger("flask_healthcheck")

T = TypeVar("T")

#: Share of the time left that a ping waits for replies; the rest returns the result in time.
_REPLY_SHARE = 0.8


def broker_uri(connection: Any) -> str:
    """The connection's broker URL for messages: with the password masked, never shown."""
    return mask_credentials(str(connection.as_uri(include_password=True)))


def broker_where(connection: Any) -> str:
    """``broker amqp://guest:***@rabbitmq:5672//``: where a failure happened, for the detail."""
    return f"broker {broker_uri(connection)}"


def open_connection(celery_app: Any, seconds: float) -> Any:
    """A new, connected broker connection from *celery_app*'s settings, bounded by *seconds*.

    *seconds* bounds the connect (the AMQP handshake included) and every later socket read and
    write (Redis ``socket_timeout``, AMQP ``read_timeout``/``write_timeout``), or the app's own
    bound where it is shorter. Each URL of a failover list (``amqp://a;amqp://b``) is tried
    once. The connection sends no AMQP heartbeats, so an idle one is not closed by the broker
    between two runs. Raises what kombu raises; the caller closes the connection.
    """
    template = celery_app.connection_for_write()
    configured = dict(template.transport_options or {})
    driver = getattr(template.transport, "driver_type", "")
    if driver == "redis":
        keys: tuple[str, ...] = ("socket_timeout", "socket_connect_timeout")
    elif driver == "amqp":
        keys = ("read_timeout", "write_timeout")
    else:
        keys = ()
    options = {key: _shorter(configured.get(key), seconds) for key in keys}
    connection = celery_app.connection_for_write(
        connect_timeout=_shorter(template.connect_timeout, seconds),
        transport_options=options,
        heartbeat=0,
    )
    # One attempt per broker URL (failover lists are tried in turn), with no pause between.
    attempts = max(1, len(connection.alt or ()))
    try:
        connection.ensure_connection(
            max_retries=attempts - 1, interval_start=0, interval_step=0, timeout=seconds
        )
        # A Redis "connection" is made lazily by its first channel (which sends PING); an
        # AMQP channel is opened with a round trip too. Either way the broker has answered.
        _ = connection.default_channel
    except BaseException:
        _drop(connection)
        raise
    return connection


def _shorter(configured: Any, seconds: float) -> float:
    if isinstance(configured, int | float) and not isinstance(configured, bool) and configured > 0:
        return min(float(configured), seconds)
    return seconds


def _drop(connection: Any) -> None:
    """Forget a connection without talking to the broker (which may not be answering)."""
    try:
        connection.collect(socket_timeout=0.1)
    except Exception:  # a broken connection may fail to clean up; it is dropped regardless
        logger.debug("dropping a broker connection failed", exc_info=True)


def _close(connection: Any) -> None:
    try:
        connection.release()
    except Exception:
        _drop(connection)


def describe_failure(exc: BaseException, seconds: float) -> str:
    """Why the broker could not be used, as ``kind (explanation)``: the kind for the public.

    Exception texts are not shown (they may carry more than an operator should see); only the
    broker's own error reply (AMQP's reply text, a Redis error), in the explanation.
    """
    for cause in causes(exc):
        kind = type(cause).__name__
        code = getattr(cause, "reply_code", None)
        if kind in {"AccessRefused", "AuthenticationError"} or code == 403:
            return "login refused (check the user name and password)"
        if kind == "NotAllowed" or code == 530:
            return (
                "access to the virtual host refused (it does not exist or the user may not use "
                f"it: {getattr(cause, 'reply_text', '')})"
            )
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused (is the broker running, on that port?)"
        if isinstance(cause, TimeoutError) or kind == "TimeoutError":
            return f"{timed_out_after(seconds)} (no answer from the broker)"
        if isinstance(cause, socket.gaierror):
            return "cannot resolve the host name"
        if kind == "ResponseError":  # a Redis error reply, such as "DB index is out of range"
            return f"the broker answered with an error ({cause})"
        if code is not None:
            reply = getattr(cause, "reply_text", "") or kind
            return f"the broker closed the connection ({reply})"
    for cause in causes(exc):
        if isinstance(cause, OSError) and cause.errno is not None:
            return describe_os_error(cause)
    return f"cannot use the broker ({type(exc).__name__})"


class _BrokerLink:
    """The broker connection a check keeps between its runs.

    The runner never starts a run of a check while another is in flight; the lock covers a
    check object registered on two apps.
    """

    def __init__(self, celery_app: Any) -> None:
        self.celery_app = celery_app
        self._lock = threading.Lock()
        self._connection: Any = None
        renew_after_fork(self)

    @property
    def uri(self) -> str:
        """The broker in use (after a failover, the one connected to), password masked."""
        connection = self._connection
        if connection is None:
            connection = self.celery_app.connection_for_write()
        return broker_uri(connection)

    @property
    def where(self) -> str:
        """``broker <uri>``, for the token holder's detail."""
        return f"broker {self.uri}"

    def run(self, operation: Callable[[Any], T]) -> T:
        """``operation(connection)`` within the run's time left; CheckError when it fails.

        A reused connection that fails is replaced once, when time is left: the broker may
        have closed an idle connection, which is not a failure of the broker.
        """
        seconds = time_left()
        if not self._lock.acquire(timeout=seconds):
            raise CheckError("a previous run of this check is still waiting for the broker")
        try:
            reused = self._connection is not None
            try:
                return self._attempt(operation, reuse=reused)
            except CheckError:
                raise
            except Exception as exc:
                if not reused or time_left() < 0.25 * seconds:
                    raise failure(describe_failure(exc, seconds), self.where) from exc
                logger.debug("the kept broker connection failed; opening a new one", exc_info=True)
            try:
                return self._attempt(operation, reuse=False)
            except CheckError:
                raise
            except Exception as exc:
                raise failure(describe_failure(exc, seconds), self.where) from exc
        finally:
            self._lock.release()

    def _attempt(self, operation: Callable[[Any], T], *, reuse: bool) -> T:
        if not reuse:
            self._forget()
            self._connection = open_connection(self.celery_app, time_left())
        try:
            return operation(self._connection)
        except BaseException:
            self._forget()
            raise

    def _forget(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            _drop(connection)

    def close(self) -> None:
        with self._lock:
            connection, self._connection = self._connection, None
            if connection is not None:
                _close(connection)

    def _after_fork(self) -> None:
        """In a forked child: a run of the parent may have held the lock, and the connection
        is the parent's. It is forgotten, not dropped: dropping an AMQP connection shuts its
        socket down, which would cut the parent's connection too."""
        self._lock = threading.Lock()
        self._connection = None


def _round_trip(connection: Any) -> None:
    """Make the broker answer on an established connection."""
    driver = getattr(connection.transport, "driver_type", "")
    channel = connection.default_channel
    if driver == "redis":
        channel.client.ping()
    elif driver == "amqp":
        # Opening (and closing) a channel is a request the broker must answer.
        connection.channel().close()


class _CeleryCheck(BuiltinCheck):
    """What the Celery checks share: a kept broker connection.

    The options are those of :meth:`~flask_healthcheck.HealthCheck.add_check`, whose own
    options win; ``None`` keeps the check's default, or the app's ``HEALTHCHECK_*`` setting.
    """

    name = "celery"
    critical: bool | None = True

    def __init__(self, celery_app: Any, **options: Unpack[CheckOptions]) -> None:
        super().__init__(**options)
        self.celery_app = celery_app
        self._link = _BrokerLink(celery_app)

    def close(self) -> None:
        """Close the broker connection the check keeps; the next run opens a new one."""
        self._link.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} broker={self._link.uri}>"


class CeleryBrokerCheck(_CeleryCheck):
    """Passes when the app's broker accepts a connection and answers, within the timeout.

    Redis and RabbitMQ (``amqp://``) brokers, or any kombu transport. The observed value is
    the broker's answer time in milliseconds. Fails with the reason: connection refused, timed
    out, login refused, access to the virtual host refused.
    Defaults: name ``celery_broker``, tag ``ready``, critical (without the broker the app
    cannot enqueue tasks).
    """

    name = "celery_broker"

    def __call__(self) -> Outcome:
        started = time.monotonic()
        self._link.run(_round_trip)
        elapsed_ms = round((time.monotonic() - started) * 1000, 1)
        return located(
            self._link.where,
            Outcome(
                True,
                f"answered in {elapsed_ms:g} ms",
                observed_value=elapsed_ms,
                observed_unit="ms",
            ),
        )


def _ping(
    celery_app: Any, connection: Any, names: Sequence[str], limit: int | None, seconds: float
) -> list[str]:
    """Names of the workers that answer a ping within *seconds* (all of *names*, or *limit*).

    Over Redis, waiting for replies ends only when a BRPOP returns (every second by default),
    so a wait would overrun by up to that; the wait is split into pings shorter than it.
    """
    cycle = getattr(connection.transport, "brpop_timeout", None)
    step = max(0.05, 0.9 * float(cycle)) if cycle else seconds
    deadline = time.monotonic() + seconds
    answered: set[str] = set()
    while (left := deadline - time.monotonic()) > 0.01:
        replies = celery_app.control.ping(
            destination=list(names) or None,
            timeout=min(step, left),
            limit=limit,
            connection=connection,
        )
        for reply in replies or ():
            answered.update(str(name) for name in reply)
        if names and answered.issuperset(names):
            break
        if not names and limit is not None and len(answered) >= limit:
            break
    return sorted(answered)


def ping_workers(celery_app: Any, names: Sequence[str], seconds: float) -> list[str]:
    """Ping the workers *names* (all workers when empty) on a connection of its own.

    Returns the names of the workers that answered within *seconds* (connecting included).
    Raises :class:`~flask_healthcheck.CheckError` saying why when the broker cannot be used
    (its ``detail`` names the broker). The ``flask-healthcheck worker --ping`` command uses it.
    """
    started = time.monotonic()
    try:
        connection = open_connection(celery_app, seconds)
    except Exception as exc:
        where = broker_where(celery_app.connection_for_write())
        raise failure(describe_failure(exc, seconds), where) from exc
    try:
        left = max(0.1, seconds - (time.monotonic() - started))
        return _ping(celery_app, connection, names, len(names) or None, left)
    except Exception as exc:
        raise failure(describe_failure(exc, seconds), broker_where(connection)) from exc
    finally:
        _close(connection)


class CeleryWorkersCheck(_CeleryCheck):
    """Passes when at least *min_workers* workers, or every worker of *names*, answer a ping.

    The ping goes through the broker (Celery's ``control.ping``), so it also proves that the
    workers consume from it; it waits for replies until the run has about a fifth of its
    time left, or until enough workers have answered. The observed value is how many workers
    answered. With *names* every named worker must answer; *min_workers* is then ignored.

    By default any worker counts: the web app's host name says nothing about where the
    workers run, so Celery's ``celery@<hostname>`` default would name no worker. To ping the
    worker of this very host (a sidecar in the worker's pod) pass
    ``names=[default_worker_name()]``
    (:func:`flask_healthcheck.worker_probe.default_worker_name`), which is
    ``$CELERY_WORKER_NAME`` or ``celery@<hostname>``.

    Worker names carry host names: the public sees how many workers answered, the token
    holder which ones.

    Defaults: name ``celery_workers``, tag ``ready``, **not critical**: without workers the
    app still serves requests and tasks wait in the queue; failing every web pod's
    readiness for it would turn a background outage into a full one. The report shows it as
    degraded. Pass ``critical=True`` to :meth:`~flask_healthcheck.HealthCheck.add_check` to
    change that.
    """

    name = "celery_workers"
    critical = False

    def __init__(
        self,
        celery_app: Any,
        min_workers: int = 1,
        names: Iterable[str] | None = None,
        **options: Unpack[CheckOptions],
    ) -> None:
        super().__init__(celery_app, **options)
        if isinstance(names, str):
            names = (names,)
        self.names = tuple(dict.fromkeys(names)) if names is not None else ()
        if names is not None and not self.names:
            raise ValueError("'names' must name at least one worker, or be None for any worker")
        if not isinstance(min_workers, int) or isinstance(min_workers, bool) or min_workers < 1:
            raise ValueError(f"'min_workers' must be an integer of 1 or more; got {min_workers!r}")
        self.min_workers = min_workers

    def __call__(self) -> Outcome:
        waited = 0.0

        def ping(connection: Any) -> list[str]:
            nonlocal waited
            # The broker answers first, so a broker fault is reported as one (and a kept
            # connection the broker has dropped is replaced) rather than as silent workers.
            _round_trip(connection)
            waited = max(0.05, time_left() * _REPLY_SHARE)
            limit = len(self.names) or self.min_workers
            return _ping(self.celery_app, connection, self.names, limit, waited)

        answered = self._link.run(ping)
        count = len(answered)
        within = f"within {waited:.1f} s"
        if self.names:
            missing = [name for name in self.names if name not in answered]
            if missing:
                raise CheckError(
                    f"{len(missing)} of {_counted(len(self.names), 'named worker')} did not "
                    f"answer a ping {within}",
                    detail=f"{_listing(missing)} did not answer a ping {within}",
                )
        elif count < self.min_workers:
            if count == 0:
                raise CheckError(f"no worker answered a ping {within}")
            raise CheckError(
                f"{count} of at least {self.min_workers} workers answered a ping {within}",
                detail=f"{count} of at least {self.min_workers} workers answered a ping "
                f"{within}: {', '.join(answered)}",
            )
        return Outcome(
            True,
            f"{_counted(count, 'worker')} answered a ping",
            count,
            "workers",
            detail=f"{_listing(answered)} answered a ping",
        )


def _counted(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _listing(names: Sequence[str], shown: int = 5) -> str:
    noun = "worker" if len(names) == 1 else "workers"
    listed = ", ".join(names[:shown])
    if len(names) > shown:
        listed += f" and {len(names) - shown} more"
    return f"{noun} {listed}"


def _is_not_found(exc: BaseException) -> bool:
    return str(getattr(exc, "reply_code", "")) == "404" or type(exc).__name__ == "NotFound"


def _queue_sizes(connection: Any, queues: Sequence[str]) -> dict[str, int | None]:
    """Messages ready in each queue (None: no such queue), by a passive declare of each.

    Virtual transports (Redis: LLEN of the queue's lists, priorities included) answer on the
    kept channel, and a missing queue does not close it. On AMQP the broker closes a channel
    whose passive declare names a missing queue, so the declares get a channel of their own,
    and a new one after each missing queue.
    """
    amqp = getattr(connection.transport, "driver_type", "") == "amqp"
    channel = connection.channel() if amqp else connection.default_channel
    sizes: dict[str, int | None] = {}
    try:
        for queue in queues:
            try:
                sizes[queue] = int(channel.queue_declare(queue=queue, passive=True).message_count)
            except Exception as exc:
                if not _is_not_found(exc):
                    raise
                sizes[queue] = None
                if amqp:
                    channel = connection.channel()
    finally:
        if amqp:
            connection.maybe_close_channel(channel)
    return sizes


class CeleryQueueCheck(_CeleryCheck):
    """Reports the tasks waiting in *queues* (summed) as its observed value.

    Warns when they reach *warn* and fails when they reach *fail* (both optional). On
    RabbitMQ the count is the queue's ready messages (a passive declare), on Redis the
    length of the queue's lists. A queue that does not exist counts as empty, and the output
    says so. To give queues limits of their own, register one check per queue with its own
    ``name=``.

    Defaults: name ``celery_queues``, tag ``ready``, **not critical**: a backlog is not a
    fault of the web pod, and taking web pods out of service would not drain it.
    """

    name = "celery_queues"
    critical = False

    def __init__(
        self,
        celery_app: Any,
        queues: Iterable[str] | str = ("celery",),
        warn: int | None = None,
        fail: int | None = None,
        **options: Unpack[CheckOptions],
    ) -> None:
        super().__init__(celery_app, **options)
        self.queues = (queues,) if isinstance(queues, str) else tuple(dict.fromkeys(queues))
        if not self.queues:
            raise ValueError("'queues' must name at least one queue")
        for option, limit in (("warn", warn), ("fail", fail)):
            if limit is not None and (
                not isinstance(limit, int) or isinstance(limit, bool) or limit < 0
            ):
                raise ValueError(
                    f"{option!r} must be a number of tasks (0 or more) or None; got {limit!r}"
                )
        self.warn = warn
        self.fail = fail

    def __call__(self) -> Outcome:
        sizes = self._link.run(lambda connection: _queue_sizes(connection, self.queues))
        pending = sum(size or 0 for size in sizes.values())
        parts = [
            f"{queue}: {size}" if size is not None else f"{queue}: no such queue"
            for queue, size in sizes.items()
        ]
        summary = f"{pending} pending {'task' if pending == 1 else 'tasks'} ({', '.join(parts)})"
        if self.fail is not None and pending >= self.fail:
            return Outcome(
                False, f"{summary}, at or above the limit of {self.fail}", pending, "tasks"
            )
        if self.warn is not None and pending >= self.warn:
            return Outcome(
                True,
                f"{summary}, at or above the warning level of {self.warn}",
                pending,
                "tasks",
                warning=True,
            )
        return Outcome(True, summary, pending, "tasks")
