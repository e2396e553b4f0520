"""The probe port: liveness, readiness and startup on a port of their own, next to the app's.

With ``HEALTHCHECK_PROBE_PORT`` set, a small HTTP server runs in daemon threads inside the app's
process and answers ``/live``, ``/ready`` and ``/startup`` (and the same under the base path,
``/healthz/live``, so a probe spec can keep its path) by calling the app's WSGI callable for
those paths only: the answers are the same as the main port's, byte for byte in their bodies.
Because it has its own threads, it answers while every request worker of the app is busy with
slow requests, which is when a liveness probe on the main port would time out and have a
healthy pod restarted. Every other path answers ``404`` without reaching the app.

Several worker processes (gunicorn): each worker binds the port itself with ``SO_REUSEPORT``
(on Linux), and the kernel hands each new connection to one of them. So there is no
process that must stay up for the port to answer: a worker that dies or is recycled drops out
of the group, a new one joins, and a gunicorn reload overlaps old and new workers without a
gap. The price is in what an answer means: **each answer speaks for the worker that got it**.
A probe samples one worker at a time; a worker whose own state fails (a deadlock watchdog, a
draining flag) fails the probes that land on it, and a Kubernetes ``failureThreshold`` counts
consecutive failures across whichever workers answered. Gunicorn's own worker timeout still
restarts a worker stuck in a request. The alternative, one worker binding the port for all,
would speak for that worker only, leave the others unseen, and go dark whenever it is
recycled until another one took over.

``SO_REUSEPORT`` is used only where it applies: in a process of a pre-fork server (gunicorn,
uWSGI) on Linux. Elsewhere (the Flask development server, one process) a port that is taken
is an error, a :class:`~flask_healthcheck.ConfigurationError` naming ``HEALTHCHECK_PROBE_PORT``,
rather than a silent share with whatever holds it.

When the server starts (from :meth:`~flask_healthcheck.HealthCheck.init_app`, at most once per
process and port, with the app's settings handed down):

- in the process that will serve requests;
- not in the parent process of the Werkzeug reloader (``flask run --reload``), whose child
  serves the app and binds the port;
- not under a ``flask`` command other than ``flask run`` (``flask healthcheck run``,
  ``flask db upgrade``, ``flask shell``), which serve no requests; :func:`serve` starts it
  explicitly where wanted (:meth:`~flask_healthcheck.HealthCheck.serve_probe_port`);
- with ``gunicorn --preload`` the app is loaded in the master, which serves no requests: the
  server starts in each worker right after the fork, never in the master.

A forked child closes the probe sockets it inherited, so a process forked by the app (a
``multiprocessing`` pool) never holds the port. The servers stop when the process exits. Both
are registered with :mod:`~flask_healthcheck.process`, which owns the process's lifecycle.
"""

from __future__ import annotations

import errno
import io
import json
import logging
import os
import socket
import socketserver
import sys
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import click
from flask import Flask
from flask.cli import FlaskGroup, run_command
from flask.helpers import get_debug_flag

from . import process
from .endpoints import Endpoint
from .exceptions import ConfigurationError

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import WSGIEnvironment

    from .config import Settings

logger = logging.getLogger("flask_healthcheck")

#: The endpoints the probe port serves, each at ``/<value>`` and ``<base path>/<value>``.
ENDPOINTS = (Endpoint.LIVE, Endpoint.READY, Endpoint.STARTUP)

_POLL_INTERVAL = 0.1
_CLIENT_TIMEOUT = 10.0


class _Target:
    """The app a probe server answers for, and how its paths map to the app's."""

    def __init__(self, app: Flask, base_path: str) -> None:
        self.app = app
        self.paths = {f"/{name.value}": f"{base_path}/{name.value}" for name in ENDPOINTS}
        self.paths.update({path: path for path in list(self.paths.values())})


class _ProbeRequestHandler(BaseHTTPRequestHandler):
    """Answers one connection: maps the path, calls the app's WSGI callable, writes its answer."""

    server: _ProbeHTTPServer
    protocol_version = "HTTP/1.0"
    server_version = "flask-healthcheck-probe"
    sys_version = ""
    timeout = _CLIENT_TIMEOUT

    def do_GET(self) -> None:
        self._answer()

    def do_HEAD(self) -> None:
        self._answer()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("probe port %s: " + format, self.server.server_address[1], *args)

    def _answer(self) -> None:
        target = self.server.target
        split = urlsplit(self.path)
        app_path = target.paths.get(unquote(split.path, "latin-1"))
        if app_path is None:
            served = ", ".join(sorted(target.paths))
            error = f"no probe endpoint at {split.path!r}; the probe port serves {served}"
            self._send(
                404,
                [("Content-Type", "application/json"), ("Cache-Control", "no-store")],
                json.dumps({"status": "failure", "error": error}).encode(),
            )
            return
        environ = self._environ(app_path, split.query)
        captured: list[tuple[str, list[tuple[str, str]]]] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None, /
        ) -> Callable[[bytes], object]:
            if exc_info is not None and exc_info[1] is not None and captured:
                raise exc_info[1].with_traceback(exc_info[2])
            captured[:] = [(status, headers)]
            return _no_write

        try:
            body = _collect(target.app.wsgi_app(environ, start_response))
            status, headers = captured[0]
        except Exception:
            logger.exception("the probe port could not answer %s", app_path)
            self._send(
                503,
                [("Content-Type", "application/json"), ("Cache-Control", "no-store")],
                b'{"status": "failure", "error": "the probe port failed internally"}',
            )
            return
        code, _, reason = status.partition(" ")
        self._send(int(code), headers, body, reason)

    def _send(
        self, code: int, headers: list[tuple[str, str]], body: bytes, reason: str = ""
    ) -> None:
        self.send_response(code, reason or None)
        names = {name.lower() for name, _ in headers}
        for name, value in headers:
            self.send_header(name, value)
        if "content-length" not in names:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _environ(self, path_info: str, query: str) -> WSGIEnvironment:
        host, port = self.server.server_address[:2]
        client = self.client_address
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": path_info,
            "QUERY_STRING": query,
            "SERVER_NAME": str(host),
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": str(client[0]) if client else "",
            "REMOTE_PORT": str(client[1]) if client else "",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": self.server.reuse_port,
            "wsgi.run_once": False,
            "flask_healthcheck.probe_port": True,
        }
        for name, value in self.headers.items():
            if "_" in name:  # "X_Auth" would pass for "X-Auth": drop it, as servers do
                continue
            key = name.upper().replace("-", "_")
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                key = "HTTP_" + key
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ


def _no_write(data: bytes) -> None:
    raise RuntimeError("the probe port does not support the WSGI write() callable")


def _collect(chunks: Iterable[bytes]) -> bytes:
    try:
        return b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


class _ProbeHTTPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 64

    def __init__(
        self,
        address: tuple[str, int],
        family: socket.AddressFamily,
        target: _Target,
        *,
        reuse_port: bool,
    ) -> None:
        self.address_family = family
        self.reuse_port = reuse_port
        self.target = target
        super().__init__(address, _ProbeRequestHandler, bind_and_activate=False)

    def server_bind(self) -> None:
        if os.name == "posix":
            # Lets a restarted process bind while old connections linger in TIME_WAIT; on
            # POSIX it never lets two processes listen on the same port.
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if self.reuse_port:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        self.socket.bind(self.server_address)
        self.server_address = self.socket.getsockname()


class ProbeServer:
    """The probe port of one process: a listening socket and the daemon thread that serves it.

    Answers for the app it was started for, or the app last given to :func:`serve` for the
    same port in this process.
    """

    def __init__(self, app: Flask, settings: Settings, *, reuse_port: bool) -> None:
        port = settings.probe_port
        if port is None:
            raise ValueError("HEALTHCHECK_PROBE_PORT is not set for this app")
        host = settings.probe_host
        self.host = host
        self.reuse_port = reuse_port
        target = _Target(app, settings.path)
        family = _address_family(host, port)
        try:
            self._server = _ProbeHTTPServer((host, port), family, target, reuse_port=reuse_port)
            try:
                self._server.server_bind()
                self._server.server_activate()
            except BaseException:
                self._server.server_close()
                raise
        except OSError as exc:
            raise _bind_error(host, port, exc, reuse_port=reuse_port) from exc
        self.port: int = self._server.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def app(self) -> Flask:
        """The app this server answers for."""
        return self._server.target.app

    def retarget(self, app: Flask, base_path: str) -> None:
        """Answer for *app* from now on."""
        self._server.target = _Target(app, base_path)

    def start(self) -> None:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            args=(_POLL_INTERVAL,),
            name=f"healthcheck-probe-port:{self.port}",
            daemon=True,
        )
        self._thread.start()
        logger.info(
            "probe port serving %s on %s:%s (process %s%s)",
            ", ".join(f"/{name.value}" for name in ENDPOINTS),
            self.host,
            self.port,
            os.getpid(),
            ", SO_REUSEPORT" if self.reuse_port else "",
        )

    @property
    def serving(self) -> bool:
        """True while the server's thread runs in this process."""
        return self._thread is not None and self._thread.is_alive()

    def close(self) -> None:
        """Stop serving and close the socket; connections being answered are not waited for."""
        with _lock:
            if _servers.get(self.port) is self:
                del _servers[self.port]
        if self.serving:
            self._server.shutdown()
        self._server.server_close()

    def _abandon(self) -> None:
        """Close the socket in a forked child, where no thread serves it."""
        self._server.server_close()


def _address_family(host: str, port: int) -> socket.AddressFamily:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigurationError(
            f"HEALTHCHECK_PROBE_HOST {host!r} is not an address of this machine: {exc.strerror}; "
            "use '0.0.0.0' (all IPv4 interfaces), '::' or a local address"
        ) from exc
    return infos[0][0]


def _bind_error(host: str, port: int, exc: OSError, *, reuse_port: bool) -> ConfigurationError:
    if exc.errno == errno.EADDRINUSE:
        shared = (
            " (this process offered to share it with SO_REUSEPORT; the holder did not)"
            if reuse_port
            else ""
        )
        return ConfigurationError(
            f"HEALTHCHECK_PROBE_PORT {port} is already in use on {host}{shared}: another "
            "process listens on it; set HEALTHCHECK_PROBE_PORT to a free port, different from "
            "the app's own port, or stop the process that holds it"
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


_lock = threading.Lock()
_servers: dict[int, ProbeServer] = {}


def serve(app: Flask, settings: Settings) -> ProbeServer:
    """Serve *app*'s probe endpoints on its ``HEALTHCHECK_PROBE_PORT`` now, in this process.

    *settings* are the app's (``health.state(app).settings``).
    :meth:`~flask_healthcheck.HealthCheck.init_app` calls it where the app serves requests;
    :meth:`~flask_healthcheck.HealthCheck.serve_probe_port` calls it to serve probes from a
    process ``init_app`` skips (a custom ``flask`` command that runs a long-lived worker). A
    second call for the same port in the same process makes the running server answer for
    *app*. Raises :class:`~flask_healthcheck.ConfigurationError` when the port cannot be
    bound.
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
        reuse_port = process.in_prefork_server() and sys.platform.startswith("linux")
        server = ProbeServer(app, settings, reuse_port=reuse_port)
        server.start()
        _servers[port] = server
        return server


def start_at_init(app: Flask, settings: Settings) -> ProbeServer | None:
    """Start the probe port of *app* from ``init_app``, where its process serves requests.

    Returns the server, or None where this process must not serve (see the module's notes):
    a pre-fork master hands the start to each worker it forks.
    """
    skipped = _why_not_here()
    if skipped is not None:
        logger.debug("probe port not started in process %s: %s", os.getpid(), skipped)
        return None
    if process.in_prefork_master():
        process.hand_to_workers(lambda: _serve_in_worker(app, settings))
        logger.debug("probe port deferred to the workers forked from process %s", os.getpid())
        return None
    return serve(app, settings)


def _serve_in_worker(app: Flask, settings: Settings) -> None:
    try:
        serve(app, settings)
    except Exception:
        logger.critical("process %s could not start its probe port", os.getpid(), exc_info=True)


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
    served them there, so a process the app forks never holds the port."""
    global _lock  # noqa: PLW0603 (process-wide state, reset in each child)
    _lock = threading.Lock()  # another thread may have held it at the fork
    for server in list(_servers.values()):
        server._abandon()
    _servers.clear()


def _close_all() -> None:
    for server in list(_servers.values()):
        server.close()


process.after_fork_in_child(process.Stage.FORGET, _forget_the_parents_servers)
process.at_exit(_close_all)
