"""The probe port: liveness, readiness and startup on a port of their own, next to the app's.

With ``HEALTHCHECK_PROBE_PORT`` set, a small HTTP server runs in daemon threads of one process
of the app's server and answers ``/live``, ``/ready`` and ``/startup`` (and the same under the
base path, ``/healthz/live``, so a probe spec can keep its path) by handing those paths to the
app as ``app.wsgi_app`` would, hooks included, without marking the app's first request (a probe
may arrive while the factory still adds routes): the answers are the main port's, byte for
byte in their bodies. Because it has threads of its own, it answers while every request worker
of the app is busy with slow requests, which is when a liveness probe on the main port would
time out and have a healthy pod restarted. Every other path answers ``404`` without reaching
the app.

**One listener per server.** In a pre-fork server (gunicorn, uWSGI) the worker that holds the
server's probe-port role (:meth:`ServerDirectory.role
<flask_healthcheck.shared.ServerDirectory.role>`, one per port) serves the port. Every other
worker has one thread blocked on the role's lock, which the kernel hands over the moment the
holder dies or is recycled: the next worker then serves within milliseconds. Since the
workers of a server share their checks' results, start-up latch and counters
(:mod:`~flask_healthcheck.shared`), the answer of the holder is the server's. Outside a
pre-fork server (the Flask development server, one process) the process serves the port itself.

**Never a silent share.** The port is bound without ``SO_REUSEPORT``, so a port that anything
else listens on (another server configured with the same probe port, the app's own port) is a
:class:`~flask_healthcheck.ConfigurationError` naming ``HEALTHCHECK_PROBE_PORT``, raised by
``init_app`` in the process that binds: the first worker of a gunicorn server (a worker boot
failure, on which gunicorn stops) or, with ``gunicorn --preload``, the master. The master of a
preloaded server binds the port while it loads the app and hands the listening socket to its
workers through the fork; it never accepts a connection nor holds the role, and a worker that
takes the role over serves the socket it inherited, so the port never stops listening and no
other process can take it between two holders. Without ``--preload`` the holder binds it, and
one that takes the role over binds it again (the old holder's socket closes as it dies).

**Bounded.** The server is :mod:`werkzeug.serving`'s (its HTTP parsing and WSGI gateway) with
the connections scheduled here: a connection waits for its request in a selector, costing no
thread (at most :data:`WAITING_CONNECTIONS`, the oldest closed when more arrive, each closed
after :data:`CONNECTION_TIMEOUT`); a connection whose request has arrived is answered by one of
:data:`ANSWER_THREADS` threads, or waits for one (at most :data:`QUEUED_ANSWERS`), or is
answered ``503`` at once. So half-open connections, however many, hold no thread and cannot
keep a probe from being answered.

When the server starts (from :meth:`~flask_healthcheck.HealthCheck.init_app`, at most once per
process and port, with the app's settings handed down):

- in the process that will serve requests;
- not in the parent process of the Werkzeug reloader (``flask run --reload``), whose child
  serves the app and binds the port;
- not under a ``flask`` command other than ``flask run`` (``flask healthcheck run``,
  ``flask db upgrade``, ``flask shell``), which serve no requests; :func:`serve` starts it
  explicitly where wanted (:meth:`~flask_healthcheck.HealthCheck.serve_probe_port`).

A forked child closes the probe sockets it inherited (the listener and the connections being
answered), so a process forked by the app (a ``multiprocessing`` pool) never holds the port
or a probe's connection, unless it is a worker of the preloaded master that bound it. The
servers stop when the process exits, and the role passes on. Both are registered with
:mod:`~flask_healthcheck.process`, which owns the process's lifecycle.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import queue
import selectors
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import click
from flask import Flask, request_started
from flask.cli import FlaskGroup, run_command
from flask.helpers import get_debug_flag
from werkzeug.exceptions import NotFound
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler

from . import process, shared
from .clock import SYSTEM_CLOCK, Clock
from .endpoints import Endpoint
from .exceptions import ConfigurationError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from .config import Settings

logger = logging.getLogger("flask_healthcheck")

#: The endpoints the probe port serves, each at ``/<value>`` and ``<base path>/<value>``.
ENDPOINTS = (Endpoint.LIVE, Endpoint.READY, Endpoint.STARTUP)

#: Threads that answer requests, in the one process that serves the port.
ANSWER_THREADS = 4
#: Requests that may wait for a thread; a connection beyond them is answered ``503`` at once.
QUEUED_ANSWERS = 16
#: Connections that may wait for their request at once; the oldest is closed to admit another.
WAITING_CONNECTIONS = 64
#: Seconds a connection has to send its request, and for each read or write of its answer.
CONNECTION_TIMEOUT = 5.0

_BACKLOG = 128
#: Connections accepted in a row before the ones already accepted are looked at again.
_ACCEPT_BATCH = 16
#: How long a worker that took the role over tries to bind silently: the old holder's socket
#: closes a moment after its lock is released.
_REBIND_QUIET = 2.0
#: The pause before trying again to bind a port taken over, or to accept when out of
#: descriptors.
_PAUSE = 0.05
_SERVER_SOFTWARE = "flask-healthcheck-probe"
_SETTING_UP = b'{"status": "failure", "error": "the app is starting: init_app has not finished"}'
_BUSY_BODY = b'{"status": "failure", "error": "the probe port has too many connections"}'
_BUSY = (
    b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Cache-Control: no-store\r\nConnection: close\r\n"
    + f"Content-Length: {len(_BUSY_BODY)}\r\n\r\n".encode()
    + _BUSY_BODY
)


class _Target:
    """The app a probe server answers for, and how its paths map to the app's."""

    def __init__(self, app: Flask, base_path: str) -> None:
        self.app = app
        self.paths = {f"/{name.value}": f"{base_path}/{name.value}" for name in ENDPOINTS}
        self.paths.update({path: path for path in list(self.paths.values())})


class _ProbeApp:
    """The WSGI callable the probe server serves: the app's own, for the probe paths only.

    The app's answer is collected whole before it is sent, so an error while the app makes
    it becomes a ``503`` that says nothing of the error, never half an answer.
    """

    def __init__(self, target: _Target) -> None:
        self.target = target

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        target = self.target
        app_path = target.paths.get(environ.get("PATH_INFO", ""))
        head = environ.get("REQUEST_METHOD") == "HEAD"
        if app_path is None:
            served = ", ".join(sorted(target.paths))
            error = (
                f"no probe endpoint at {environ.get('PATH_INFO', '')!r}; "
                f"the probe port serves {served}"
            )
            body = json.dumps({"status": "failure", "error": error}).encode()
            return _answer_json(start_response, "404 Not Found", body, head)
        environ = {
            **environ,
            "PATH_INFO": app_path,
            "SCRIPT_NAME": "",
            "flask_healthcheck.probe_port": True,
        }
        try:
            answer = _answer(target.app, environ)
        except Exception:
            logger.exception("the probe port could not answer %s", app_path)
            body = b'{"status": "failure", "error": "the probe port failed internally"}'
            return _answer_json(start_response, "503 Service Unavailable", body, head)
        if answer is None:
            return _answer_json(start_response, "503 Service Unavailable", _SETTING_UP, head)
        status, headers, body = answer
        start_response(status, headers)
        return [body]


def _answer(
    app: Flask, environ: WSGIEnvironment
) -> tuple[str, list[tuple[str, str]], bytes] | None:
    """The app's answer to *environ*: status, headers and the whole body; None while the
    app's health endpoints are not registered yet (``init_app`` has not finished).

    The request goes through what ``Flask.wsgi_app`` does (the request context, the
    ``request_started`` signal, the app's hooks, error handlers and teardown) except that it
    is not marked as the app's first request: the probe port serves from ``init_app`` on,
    while the app's factory may still be adding routes, which Flask refuses once a request
    has been served. WSGI middleware wrapped around ``app.wsgi_app`` is not on its path.
    """
    context = app.request_context(environ)
    error: BaseException | None = None
    try:
        try:
            context.push()
            if isinstance(context.request.routing_exception, NotFound):
                return None
            try:
                request_started.send(app, _async_wrapper=app.ensure_sync)
                value = app.preprocess_request()
                if value is None:
                    value = app.dispatch_request()
            except Exception as exc:
                value = app.handle_user_exception(exc)
            response = app.finalize_request(value)
        except Exception as exc:
            error = exc
            response = app.handle_exception(exc)
        except BaseException as exc:
            error = exc
            raise
        chunks, status, headers = response.get_wsgi_response(environ)
        return status, headers, _collect(chunks)
    finally:
        context.pop(error)


def _answer_json(
    start_response: StartResponse, status: str, body: bytes, head: bool
) -> list[bytes]:
    start_response(
        status,
        [
            ("Content-Type", "application/json"),
            ("Cache-Control", "no-store"),
            ("Content-Length", str(len(body))),
        ],
    )
    return [] if head else [body]


def _collect(chunks: Iterable[bytes]) -> bytes:
    try:
        return b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


class _ProbeRequestHandler(WSGIRequestHandler):
    """Werkzeug's WSGI gateway for one connection: one request (HTTP/1.0, no keep-alive, so
    a thread is free again as soon as the answer is written), reads and writes bounded by
    :data:`CONNECTION_TIMEOUT`, and its log lines on the library's logger at debug level."""

    server: _ProbeWSGIServer
    protocol_version = "HTTP/1.0"
    sys_version = ""
    timeout = CONNECTION_TIMEOUT

    @property
    def server_version(self) -> str:  # type: ignore[override]
        return _SERVER_SOFTWARE

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self.log("info", '"%s" %s %s', self.requestline, code, size)

    def log(self, type: str, message: str, *args: Any) -> None:
        logger.debug(
            "probe port %s: %s %s " + message,
            self.server.server_address[1],
            self.address_string(),
            type,
            *args,
        )


class _WaitingRoom:
    """Connections accepted whose request has not arrived yet, oldest first.

    A connection stays at most *patience* seconds; beyond *capacity*, admitting one closes
    the oldest, so a flood of connections that never send anything cannot keep a probe out
    nor run the process out of descriptors.
    """

    def __init__(self, capacity: int, patience: float, clock: Clock = SYSTEM_CLOCK) -> None:
        self.capacity = capacity
        self.patience = patience
        self._clock = clock
        # Admitted with the same patience, so insertion order is the order of the deadlines.
        self._deadlines: dict[socket.socket, tuple[float, Any]] = {}

    def __len__(self) -> int:
        return len(self._deadlines)

    def __contains__(self, connection: object) -> bool:
        return connection in self._deadlines

    def admit(self, connection: socket.socket, address: Any) -> list[socket.socket]:
        """Let *connection* wait; returns the connections it pushed out, to close."""
        self._deadlines[connection] = (self._clock.monotonic() + self.patience, address)
        pushed_out = []
        while len(self._deadlines) > self.capacity:
            oldest = next(iter(self._deadlines))
            del self._deadlines[oldest]
            pushed_out.append(oldest)
        return pushed_out

    def leave(self, connection: socket.socket) -> Any:
        """Take *connection* out (its request has arrived); returns its client's address."""
        return self._deadlines.pop(connection)[1]

    def expired(self) -> list[socket.socket]:
        """Take out the connections that have waited too long; returns them, to close."""
        now = self._clock.monotonic()
        expired = []
        for connection, (deadline, _) in list(self._deadlines.items()):
            if deadline > now:
                break
            del self._deadlines[connection]
            expired.append(connection)
        return expired

    def seconds_left(self) -> float | None:
        """Seconds until the oldest connection expires, or None when none waits."""
        for deadline, _ in self._deadlines.values():
            return max(0.0, deadline - self._clock.monotonic())
        return None

    def empty(self) -> list[socket.socket]:
        """Take every connection out; returns them, to close."""
        connections = list(self._deadlines)
        self._deadlines.clear()
        return connections


class _Pool:
    """:data:`ANSWER_THREADS` daemon threads and a bounded queue of jobs for them.

    Not a :class:`concurrent.futures.ThreadPoolExecutor`: its queue has no bound and the
    interpreter waits for its threads at exit, where a probe must never delay the exit.
    """

    def __init__(self, threads: int, queued: int, name: str) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._slots = threading.Semaphore(threads + queued)
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-answer-{number}", daemon=True)
            for number in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, job: Callable[[], None]) -> bool:
        """Queue *job*; False (and nothing queued) when every thread and queue slot is taken."""
        if not self._slots.acquire(blocking=False):
            return False
        self._jobs.put(job)
        return True

    def stop(self) -> None:
        """Let each thread end after the jobs queued before this call."""
        for _ in self._threads:
            self._jobs.put(None)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                job()
            finally:
                self._slots.release()


_LISTENER, _WAKE = "listener", "wake"


class _ProbeWSGIServer(BaseWSGIServer):
    """Werkzeug's server on a socket already listening, its connections scheduled as the
    module's docs say: waiting for their request without a thread, answered by a pool."""

    multithread = True

    def __init__(
        self,
        listener: socket.socket,
        app: _ProbeApp,
        *,
        multiprocess: bool,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.multiprocess = multiprocess
        host, port = listener.getsockname()[:2]
        # Werkzeug uses a duplicate of the descriptor; it never binds nor exits on an error.
        super().__init__(host, port, app, handler=_ProbeRequestHandler, fd=listener.fileno())
        self.socket.setblocking(False)
        self._name = f"healthcheck-probe-port:{port}"
        self._waiting = _WaitingRoom(WAITING_CONNECTIONS, CONNECTION_TIMEOUT, clock)
        self._answering: set[socket.socket] = set()
        self._answering_lock = threading.Lock()
        self._stopping = threading.Event()
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._pool = _Pool(ANSWER_THREADS, QUEUED_ANSWERS, self._name)
        self._accept_failing = False

    def serve_until_stopped(self) -> None:
        """Accept and schedule connections until :meth:`stop`; then close them all."""
        selector = selectors.DefaultSelector()
        selector.register(self.socket, selectors.EVENT_READ, _LISTENER)
        selector.register(self._wake_reader, selectors.EVENT_READ, _WAKE)
        try:
            while not self._stopping.is_set():
                ready = selector.select(self._waiting.seconds_left())
                for key, _ in ready:
                    connection: socket.socket = key.fileobj  # type: ignore[assignment]
                    if key.data is None and connection in self._waiting:
                        selector.unregister(connection)
                        self._dispatch(connection, self._waiting.leave(connection))
                if any(key.data == _LISTENER for key, _ in ready):
                    self._accept(selector)
                for connection in self._waiting.expired():
                    selector.unregister(connection)
                    connection.close()
        finally:
            for connection in self._waiting.empty():
                connection.close()
            selector.close()
            self._pool.stop()
            self.server_close()
            self._wake_reader.close()

    def stop(self) -> None:
        """Make :meth:`serve_until_stopped` return; connections being answered are not
        waited for."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._wake_writer.send(b"x")
        with contextlib.suppress(OSError):
            self._wake_writer.close()

    def abandon(self) -> None:
        """In a forked child, where no thread serves: close the copies of every socket, so
        that no connection stays open for its client when the parent closes it."""
        sockets = [self.socket, self._wake_reader, self._wake_writer, *self._waiting.empty()]
        sockets += self._answering
        for each in sockets:
            with contextlib.suppress(OSError):
                each.close()

    def _accept(self, selector: selectors.BaseSelector) -> None:
        for _ in range(_ACCEPT_BATCH):
            try:
                connection, address = self.socket.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:  # out of descriptors: make room, and let the kernel queue
                if not self._accept_failing:
                    logger.warning("the probe port could not accept a connection: %s", exc)
                self._accept_failing = True
                for oldest in self._waiting.empty():
                    selector.unregister(oldest)
                    oldest.close()
                self._stopping.wait(_PAUSE)
                return
            self._accept_failing = False
            connection.setblocking(False)
            selector.register(connection, selectors.EVENT_READ)
            for pushed_out in self._waiting.admit(connection, address):
                selector.unregister(pushed_out)
                pushed_out.close()

    def _dispatch(self, connection: socket.socket, address: Any) -> None:
        with self._answering_lock:
            self._answering.add(connection)
        if not self._pool.submit(lambda: self._answer(connection, address)):
            with self._answering_lock:
                self._answering.discard(connection)
            _refuse(connection)

    def _answer(self, connection: socket.socket, address: Any) -> None:
        try:
            connection.setblocking(True)  # the handler gives it its timeout
            self.finish_request(connection, address)
        except Exception:
            self.handle_error(connection, address)
        finally:
            with self._answering_lock:
                self._answering.discard(connection)
            self.shutdown_request(connection)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("probe port: the connection from %s failed", client_address, exc_info=True)

    def log(self, type: str, message: str, *args: Any) -> None:
        logger.log(logging.ERROR if type == "error" else logging.DEBUG, message, *args)


def _refuse(connection: socket.socket) -> None:
    """Answer ``503`` without a thread (the answer fits in the socket's buffer) and close."""
    with contextlib.suppress(OSError):
        connection.recv(65536)  # unread data would turn the close into a reset
        connection.send(_BUSY)
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_WR)
    connection.close()


class ProbeServer:
    """The probe port of one port in one process: serving it, waiting to, or (in a
    preloading master) holding the listening socket for the workers.

    Answers for the app it was started for, or the app last given to :func:`serve` for the
    same port in this process.
    """

    def __init__(
        self,
        app: Flask,
        settings: Settings,
        role: shared.Role | None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        port = settings.probe_port
        if port is None:
            raise ValueError("HEALTHCHECK_PROBE_PORT is not set for this app")
        self.host = settings.probe_host
        #: The port, as configured.
        self.port: int = port
        self._app = _ProbeApp(_Target(app, settings.path))
        self._role = role
        self._clock = clock
        self._listener: socket.socket | None = None
        self._http: _ProbeWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = threading.Event()
        #: True in a preloading master that bound the port for the workers it forks.
        self._for_workers = False

    @property
    def app(self) -> Flask:
        """The app this server answers for."""
        return self._app.target.app

    def retarget(self, app: Flask, base_path: str) -> None:
        """Answer for *app* from now on."""
        self._app.target = _Target(app, base_path)

    @property
    def serving(self) -> bool:
        """True while this process answers the port."""
        thread = self._thread
        return self._http is not None and thread is not None and thread.is_alive()

    def bind(self) -> None:
        """Bind and listen now; :class:`~flask_healthcheck.ConfigurationError` if the port
        is taken."""
        if self._listener is None:
            self._listener = _bind(self.host, self.port)

    def start(self) -> None:
        """Serve now if this process may (no role, or the role is free; raises
        :class:`~flask_healthcheck.ConfigurationError` if the port is taken), else wait in a
        daemon thread for the role and serve from then on. A closed server stays closed (an
        app whose ``init_app`` failed in a preloading master may still be handed down)."""
        if self._closed.is_set():
            return
        role = self._role
        if role is not None and not role.try_take():
            self._start_thread(self._take_over)
            return
        try:
            self.bind()
        except BaseException:
            if role is not None:
                role.release()
            raise
        # Made here, so that the server is serving (to :attr:`serving`) once this returns.
        http = self._make_http()
        self._start_thread(lambda: self._serve(http))

    def hand_to_workers(self) -> None:
        """In a preloading master: bind now (an error at start, where the server's owner
        sees it), serve nothing, and have each worker forked from here serve or wait."""
        for address in process.prefork_master_addresses():
            if isinstance(address, tuple) and _same_port(address, (self.host, self.port)):
                raise ConfigurationError(
                    f"HEALTHCHECK_PROBE_PORT {self.port} is the port the server listens on for "
                    f"the app ({address[0]}:{address[1]}); the probe port needs a port of its "
                    "own: set HEALTHCHECK_PROBE_PORT to another free port"
                )
        self.bind()
        self._for_workers = True
        process.hand_to_workers(self._start_in_worker)

    def _start_in_worker(self) -> None:
        self._for_workers = False
        try:
            self.start()
        except Exception:
            logger.critical("process %s could not start its probe port", os.getpid(), exc_info=True)

    def _start_thread(self, target: Callable[[], None]) -> None:
        self._thread = threading.Thread(
            target=target, name=f"healthcheck-probe-port:{self.port}", daemon=True
        )
        self._thread.start()

    def _make_http(self) -> _ProbeWSGIServer | None:
        with self._lock:
            if self._closed.is_set() or self._listener is None:
                return None
            self._http = _ProbeWSGIServer(
                self._listener, self._app, multiprocess=self._role is not None, clock=self._clock
            )
            return self._http

    def _take_over(self) -> None:
        """The thread of a process waiting for the role: take it when it is free, then bind
        (unless the listener was inherited) and serve."""
        role = self._role
        assert role is not None
        try:
            role.wait_and_take()
        except OSError:
            logger.exception("the probe-port role cannot be waited for; this worker never serves")
            return
        failing_since: float | None = None
        reported = False
        while True:
            with self._lock:
                if self._closed.is_set():
                    role.release()
                    return
                try:
                    self.bind()
                    break
                except ConfigurationError as error:
                    now = self._clock.monotonic()
                    failing_since = now if failing_since is None else failing_since
                    if not reported and now - failing_since >= _REBIND_QUIET:
                        logger.error("%s; this worker holds the role and tries again", error)
                        reported = True
            self._clock.wait(self._closed, 1.0 if reported else _PAUSE)
        logger.info("process %s took the probe port %s over", os.getpid(), self.port)
        self._serve(self._make_http())

    def _serve(self, http: _ProbeWSGIServer | None) -> None:
        if http is None:
            return
        logger.info(
            "probe port serving %s on %s:%s (process %s)",
            ", ".join(f"/{name.value}" for name in ENDPOINTS),
            self.host,
            self.port,
            os.getpid(),
        )
        try:
            http.serve_until_stopped()
        except Exception:
            logger.critical("the probe port %s stopped serving", self.port, exc_info=True)

    def close(self) -> None:
        """Stop serving, close the socket and give the role up; connections being answered
        are not waited for."""
        with _lock:
            if _servers.get(self.port) is self:
                del _servers[self.port]
        with self._lock:
            self._closed.set()
            http, listener, self._listener = self._http, self._listener, None
            if http is not None:
                http.stop()
        thread = self._thread
        if http is not None and thread is not None and thread is not threading.current_thread():
            thread.join(1.0)
        if listener is not None:
            listener.close()
        with self._lock:
            if self._role is not None and self._role.held:
                self._role.release()

    def _abandon(self) -> None:
        """In a forked child, where no thread serves: close the sockets inherited."""
        if self._http is not None:
            self._http.abandon()
        if self._listener is not None:
            self._listener.close()


def _same_port(server: tuple[Any, ...], probe: tuple[str, int]) -> bool:
    """True when the server's address and the probe port's would clash (one port, and the
    same host or either on every interface)."""
    wildcard = {"", "0.0.0.0", "::"}  # noqa: S104 (compared, never bound)
    host, port = str(server[0]), server[1]
    return port == probe[1] and (host == probe[0] or bool({host, probe[0]} & wildcard))


def _bind(host: str, port: int) -> socket.socket:
    family = _address_family(host, port)
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        if os.name == "posix":
            # Lets a restarted process bind while old connections linger in TIME_WAIT; on
            # Linux it never lets two sockets listen on one port (SO_REUSEPORT would).
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(_BACKLOG)
    except OSError as exc:
        listener.close()
        raise _bind_error(host, port, exc) from exc
    return listener


def _address_family(host: str, port: int) -> socket.AddressFamily:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigurationError(
            f"HEALTHCHECK_PROBE_HOST {host!r} is not an address of this machine: {exc.strerror}; "
            "use '0.0.0.0' (all IPv4 interfaces), '::' or a local address"
        ) from exc
    return infos[0][0]


def _bind_error(host: str, port: int, exc: OSError) -> ConfigurationError:
    if exc.errno == errno.EADDRINUSE:
        return ConfigurationError(
            f"HEALTHCHECK_PROBE_PORT {port} is already in use on {host}: another process "
            "listens on it (another server configured with the same probe port, or the app's "
            "own port); set HEALTHCHECK_PROBE_PORT to a free port, different from the app's "
            "own port and from other servers' probe ports, or stop the process that holds it"
        )
    if exc.errno == errno.EACCES:
        return ConfigurationError(
            f"HEALTHCHECK_PROBE_PORT {port} cannot be bound on {host}: permission denied; "
            "ports below 1024 need privileges, so use a higher port"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return ConfigurationError(
            f"HEALTHCHECK_PROBE_HOST {host!r} is not an address of this machine; use "
            "'0.0.0.0' (all IPv4 interfaces), '::' or a local address"
        )
    return ConfigurationError(
        f"HEALTHCHECK_PROBE_PORT {port} cannot be bound on {host}: {exc.strerror or exc}"
    )


def _role(settings: Settings) -> shared.Role | None:
    """The probe-port role of this port in this process's server; None outside a pre-fork
    server, where the process serves the port itself."""
    if not process.in_prefork_server():
        return None
    try:
        directory = shared.locate(settings.shared_dir)
    except OSError as exc:
        raise ConfigurationError(
            f"HEALTHCHECK_SHARED_DIR: the workers cannot agree on who serves "
            f"HEALTHCHECK_PROBE_PORT without their shared directory: {exc.strerror or exc}"
        ) from exc
    if directory is None:
        return None
    return directory.role(f"probe-port-{settings.probe_port}")


_lock = threading.Lock()
_servers: dict[int, ProbeServer] = {}


def serve(app: Flask, settings: Settings) -> ProbeServer:
    """Serve *app*'s probe endpoints on its ``HEALTHCHECK_PROBE_PORT`` from this process's
    server, starting now.

    *settings* are the app's (``health.state(app).settings``).
    :meth:`~flask_healthcheck.HealthCheck.init_app` calls it where the app serves requests;
    :meth:`~flask_healthcheck.HealthCheck.serve_probe_port` calls it to serve probes from a
    process ``init_app`` skips (a custom ``flask`` command that runs a long-lived worker).

    In a worker of a pre-fork server, this process serves if it takes the server's
    probe-port role, and otherwise waits to take it over; in a preloading master it binds the
    port for the workers and serves nothing. A second call for the same port in the same
    process makes the server answer for *app*. Raises
    :class:`~flask_healthcheck.ConfigurationError` when this process binds the port and
    cannot.
    """
    port = settings.probe_port
    if port is None:
        raise ValueError("HEALTHCHECK_PROBE_PORT is not set for this app; set it to a port")
    with _lock:
        server = _servers.get(port)
        if server is not None:
            if server.host != settings.probe_host:
                raise ConfigurationError(
                    f"HEALTHCHECK_PROBE_PORT {port} is served on {server.host} in this process "
                    f"already; another app cannot have it on {settings.probe_host}: give both "
                    "apps the same HEALTHCHECK_PROBE_HOST or different ports"
                )
            if server.app is not app:
                logger.info(
                    "probe port %s now answers for app %r instead of %r",
                    port,
                    app.name,
                    server.app.name,
                )
                server.retarget(app, settings.path)
            return server
        server = ProbeServer(app, settings, _role(settings))
        if process.in_prefork_master():
            server.hand_to_workers()
            logger.debug("probe port %s bound in the master for its workers", port)
        else:
            server.start()
        _servers[port] = server
        return server


def start_at_init(app: Flask, settings: Settings) -> ProbeServer | None:
    """Start the probe port of *app* from ``init_app``, where its process serves requests.

    Returns the server, or None where this process must not serve (see the module's notes).
    """
    skipped = _why_not_here()
    if skipped is not None:
        logger.debug("probe port not started in process %s: %s", os.getpid(), skipped)
        return None
    return serve(app, settings)


def _why_not_here() -> str | None:
    """Why the current command must not serve probes, or None when it may.

    ``flask run`` serves (in the reloader's child); any other ``flask`` command, and any
    ``celery`` command (a worker that builds the Flask app for its tasks), does not.
    """
    context = click.get_current_context(silent=True)
    if context is None:
        return None
    chain = []
    while context is not None:
        chain.append(context)
        context = context.parent
    for running in chain:
        if running.command is run_command:
            reload = running.params.get("reload")
            if reload is None:
                reload = get_debug_flag()
            if reload and os.environ.get("WERKZEUG_RUN_MAIN") != "true":
                return "the reloader's parent process (its child serves the app)"
            return None
    root = chain[-1].command
    celery_cli = sys.modules.get("celery.bin.celery")
    if isinstance(root, FlaskGroup) or root is getattr(celery_cli, "celery", None):
        command = " ".join(str(each.info_name) for each in reversed(chain))
        return f"the command {command!r} serves no requests"
    return None


def _forget_the_parents_servers() -> None:
    """In a forked child: close the probe sockets inherited from the parent, whose threads
    served them there, so a process the app forks never holds the port; keep those a
    preloading master bound for its workers, which the workers start after the fork."""
    global _lock  # noqa: PLW0603 (process-wide state, reset in each child)
    _lock = threading.Lock()  # another thread may have held it at the fork
    for port, server in list(_servers.items()):
        server._lock = threading.Lock()
        if not server._for_workers:
            server._abandon()
            del _servers[port]


def _close_all() -> None:
    for server in list(_servers.values()):
        server.close()


process.after_fork_in_child(process.Stage.FORGET, _forget_the_parents_servers)
process.at_exit(_close_all)
