"""The state decision matrix of docs/lifecycle.rst, one test per row, against real server processes.

Each row gets its own server (``tests/apps/lifecycle_app.py`` under gunicorn, or Flask's
development server), all started at once by the ``matrix`` fixture so that the rows cost one
start-up between them. A row starts its app (a probe of ``/startup``), then breaks what the row
is about (a stopped heartbeat, a dropped database, a full volume) and asserts the exact
``(alive, ready)`` pair of the matrix from the status codes of ``/healthz/live`` and
``/healthz/ready``. The shutdown tests drain a real gunicorn and a real ``flask run`` on SIGTERM.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from flask import Flask

if TYPE_CHECKING:
    import sqlalchemy as sa

from flask_healthcheck import HealthCheck

from .services import POSTGRES, BlackHole, black_hole, free_port, reachable, require

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
APP = "tests.apps.lifecycle_app:create_app()"
#: Results are never reused, so each probe sees the row's state at once.
NO_CACHE = {"FLASK_HEALTHCHECK_SUCCESS_TTL": "0", "FLASK_HEALTHCHECK_FAILED_TTL": "0"}
GTHREAD = ["--worker-class", "gthread", "--threads", "4"]
SYNC = ["--worker-class", "sync"]
#: Generous bounds for a machine shared with other work.
START_SECONDS = 60.0
SETTLE_SECONDS = 15.0

T = TypeVar("T")

_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def fetch(url: str, timeout: float = 10.0) -> tuple[int, str]:
    """Status and body of a GET, whatever the status; raises OSError when nothing answers."""
    try:
        with _direct.open(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode()


def eventually(probe: Callable[[], T], wanted: Callable[[T], bool], what: str) -> T:
    """Call *probe* until *wanted* holds for its value (within ``SETTLE_SECONDS``)."""
    due = time.monotonic() + SETTLE_SECONDS
    while True:
        value = probe()
        if wanted(value):
            return value
        if time.monotonic() > due:
            raise AssertionError(f"{what}: still {value!r} after {SETTLE_SECONDS:g} s")
        time.sleep(0.1)


_ports_taken: set[int] = set()


def fresh_port() -> int:
    """A free port that no other server of this module has been given."""
    while True:
        port = free_port()
        if port not in _ports_taken:
            _ports_taken.add(port)
            return port


@dataclass
class Server:
    """The lifecycle app in a server process of its own group, on a port of its own.

    ``/name`` answers the server's *name*, so a server that finds its port taken by another
    process (ports are free when chosen, not when bound) is started again on another one.
    """

    name: str
    directory: Path
    environment: Mapping[str, str]
    kind: str = "gunicorn"  # or "flask": the development server
    options: list[str] = field(default_factory=lambda: list(GTHREAD))
    url: str = ""
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.directory / f"{self.name}.log"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def launch(self) -> Server:
        """Start the process on a fresh port without waiting for it (see :meth:`wait_up`)."""
        port = fresh_port()
        if self.kind == "gunicorn":
            command = [
                str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--chdir", str(ROOT),
                "--workers", "1", "--graceful-timeout", "1", "--no-control-socket",
                *self.options, APP,
            ]  # fmt: skip
        else:
            command = [
                str(BIN / "flask"), "--app", APP, "run", "--host", "127.0.0.1",
                "--port", str(port), "--no-reload", "--no-debugger",
            ]  # fmt: skip
        if not Path(command[0]).exists():
            pytest.fail(f"{command[0]} is not installed; it comes with the dev extra")
        environment = {"PYTHONPATH": str(ROOT), **self.environment, "LIFECYCLE_NAME": self.name}
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**os.environ, **environment},
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.url = f"http://127.0.0.1:{port}"
        return self

    def wait_up(self, attempts: int = 3) -> None:
        """Wait until this server answers; start it again elsewhere if its port was taken."""
        for _ in range(attempts):
            if self._answers():
                return
            self.stop()
            self.launch()
        raise AssertionError(f"{self.name} did not start:\n{self.output()}")

    def _answers(self) -> bool:
        assert self.process is not None
        due = time.monotonic() + START_SECONDS
        while self.process.poll() is None and time.monotonic() < due:
            try:
                return self.get("/name") == (200, self.name)
            except OSError:
                time.sleep(0.1)
        return False

    def get(self, path: str) -> tuple[int, str]:
        return fetch(self.url + path)

    def alive_ready(self) -> tuple[bool, bool]:
        """The matrix's pair, from the status codes of ``/healthz/live`` and ``/healthz/ready``."""
        return self._verdict("/healthz/live"), self._verdict("/healthz/ready")

    def _verdict(self, path: str) -> bool:
        status, body = self.get(path)
        assert status in (200, 503), f"{path} answered {status}: {body}"
        return status == 200

    def result(self, path: str, name: str) -> dict[str, Any]:
        """The result named *name* in the JSON answer of *path*."""
        _, body = self.get(path)
        results: list[dict[str, Any]] = json.loads(body)["results"]
        for result in results:
            if result["checker"] == name:
                return result
        raise AssertionError(f"no result {name!r} in {path}: {body}")

    def start_up(self) -> None:
        """Probe ``/startup`` until the app has started, as a Kubernetes startupProbe would."""
        eventually(lambda: self.get("/healthz/startup")[0], lambda code: code == 200, "startup")

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)


class Leader:
    """An HTTP leader that answers 200 until it is silenced, then accepts and never answers."""

    def __init__(self) -> None:
        silent = self.silent = threading.Event()
        released = self.released = threading.Event()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if silent.is_set():
                    released.wait(60)  # a black hole: the connection stays open, no byte comes
                    return
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Volume:
    """A tiny tmpfs (as root), or a plain directory when nothing can be mounted here."""

    path: Path
    mounted: bool

    @classmethod
    def make(cls, path: Path) -> Volume:
        path.mkdir()
        mounted = (
            os.geteuid() == 0
            and subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(path)],
                capture_output=True,
                check=False,
            ).returncode
            == 0
        )
        return cls(path, mounted)

    def fill(self) -> None:
        with (self.path / "ballast").open("wb") as ballast, contextlib.suppress(OSError):
            while True:
                ballast.write(b"\0" * 65536)
                ballast.flush()

    def remove(self) -> None:
        if self.mounted:
            result = subprocess.run(["umount", str(self.path)], capture_output=True, check=False)
            if result.returncode != 0:
                subprocess.run(["umount", "-l", str(self.path)], check=False)


@dataclass
class Matrix:
    """Every row's server, and what each row's test flips."""

    directory: Path
    servers: dict[str, Server] = field(default_factory=dict)
    service: BlackHole | None = None
    leader: Leader | None = None
    volume: Volume | None = None
    database: str | None = None

    def __getitem__(self, name: str) -> Server:
        return self.servers[name]

    def path(self, name: str) -> Path:
        return self.directory / name


def _postgres_admin() -> sa.Engine:
    import sqlalchemy as sa

    url = sa.make_url(POSTGRES.url).set(database="postgres")
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)


def _drop_database(name: str) -> None:
    admin = _postgres_admin()
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    """Start one server per row of the matrix, all at once; stop them and clean up at the end."""
    world = Matrix(tmp_path_factory.mktemp("matrix"))
    stack = contextlib.ExitStack()
    try:
        world.service = stack.enter_context(black_hole())
        world.leader = Leader()
        stack.callback(world.leader.close)
        world.volume = Volume.make(world.path("volume"))
        stack.callback(world.volume.remove)
        disk = {"LIFECYCLE_DISK_PATH": str(world.volume.path), "LIFECYCLE_DISK_FAIL": "90"}
        if not world.volume.mounted:
            # Nothing can be mounted here: fail below the current usage instead.
            import psutil

            percent = psutil.disk_usage(str(world.volume.path)).percent
            disk["LIFECYCLE_DISK_FAIL"] = str(percent / 2)
        rows: dict[str, tuple[str, dict[str, str], list[str] | None]] = {
            "startup-gunicorn": (
                "gunicorn",
                {"LIFECYCLE_CHECKS": "marker", "LIFECYCLE_MARKER": str(world.path("started-g"))},
                SYNC,
            ),
            "startup-flask": (  # with liveness behind the start-up gate, as configured
                "flask",
                {
                    "LIFECYCLE_CHECKS": "marker",
                    "LIFECYCLE_MARKER": str(world.path("started-f")),
                    "FLASK_HEALTHCHECK_STARTUP_GATE": '["live", "ready"]',
                },
                None,
            ),
            "ready": ("gunicorn", {"LIFECYCLE_CHECKS": "ok"}, SYNC),
            "heartbeat": (
                "gunicorn",
                {
                    "LIFECYCLE_CHECKS": "ok,heartbeat",
                    "LIFECYCLE_HEARTBEAT_TIMEOUT": "1",
                    "LIFECYCLE_STOP": str(world.path("stop-loop")),
                },
                None,
            ),
            "watchdog": (
                "gunicorn",
                {
                    "LIFECYCLE_CHECKS": "ok",
                    "FLASK_HEALTHCHECK_REQUEST_WATCHDOG": "1",
                    "LIFECYCLE_RELEASE": str(world.path("release")),
                },
                None,
            ),
            "load": (
                "gunicorn",
                {"LIFECYCLE_CHECKS": "ok", "FLASK_HEALTHCHECK_MAX_IN_FLIGHT": "2"},
                ["--worker-class", "gthread", "--threads", "8"],
            ),
            "service": (
                "gunicorn",
                {"LIFECYCLE_CHECKS": "service", "LIFECYCLE_SERVICE_PORT": str(world.service.port)},
                None,
            ),
            "disk": ("gunicorn", {"LIFECYCLE_CHECKS": "disk", **disk}, None),
            "slow": ("gunicorn", {"LIFECYCLE_CHECKS": "slow"}, None),
            "leader": (
                "gunicorn",
                {"LIFECYCLE_CHECKS": "leader", "LIFECYCLE_LEADER_URL": world.leader.url},
                None,
            ),
        }
        if reachable(POSTGRES.host, POSTGRES.port):
            name = f"hc_lifecycle_{uuid.uuid4().hex}"
            admin = _postgres_admin()
            with admin.connect() as connection:
                connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
            admin.dispose()
            world.database = name
            stack.callback(_drop_database, name)
            url = POSTGRES.url.rsplit("/", 1)[0] + "/" + name
            rows["database"] = (
                "gunicorn",
                {"LIFECYCLE_CHECKS": "database", "LIFECYCLE_DATABASE_URL": url},
                None,
            )
        for name, (kind, environment, options) in rows.items():
            server = Server(name, world.directory, {**NO_CACHE, **environment}, kind)
            if options is not None:
                server.options = options
            world.servers[name] = server.launch()
            stack.callback(server.stop)
        for server in world.servers.values():
            server.wait_up()
        yield world
    finally:
        stack.close()


# -- the rows of the matrix --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("server", "alive"),
    [pytest.param("gunicorn", True, id="gunicorn"), pytest.param("flask", False, id="flask-gated")],
)
def test_startup_phase_is_not_ready_and_alive_unless_liveness_is_gated(
    matrix: Matrix, server: str, alive: bool
) -> None:
    app = matrix[f"startup-{server}"]
    marker = matrix.path("started-g" if server == "gunicorn" else "started-f")

    assert app.alive_ready() == (alive, False)
    gate = app.result("/healthz/ready", "startup")
    assert gate["passed"] is False
    assert "waiting for a first pass of marker" in gate["output"]
    assert app.get("/healthz/startup")[0] == 503

    marker.touch()
    eventually(lambda: app.get("/healthz/ready")[0], lambda code: code == 200, "readiness")

    assert app.alive_ready() == (True, True)
    assert app.get("/healthz/startup")[0] == 200


def test_ready_is_alive_and_ready(matrix: Matrix) -> None:
    app = matrix["ready"]
    app.start_up()

    assert app.alive_ready() == (True, True)
    assert app.result("/healthz/ready", "ok")["passed"] is True


def test_deadlock_of_a_loop_that_stops_feeding_its_heartbeat_is_neither_alive_nor_ready(
    matrix: Matrix,
) -> None:
    app = matrix["heartbeat"]
    app.start_up()
    assert app.alive_ready() == (True, True)

    matrix.path("stop-loop").touch()

    eventually(app.alive_ready, lambda pair: pair == (False, False), "alive/ready")
    beat = app.result("/healthz/live", "heartbeat:worker-loop")
    assert beat["passed"] is False
    assert "not fed for" in beat["output"]
    assert app.result("/healthz/ready", "heartbeat:worker-loop")["passed"] is False
    assert app.result("/healthz/ready", "ok")["passed"] is True


def test_deadlock_of_a_request_that_never_finishes_is_neither_alive_nor_ready_until_it_does(
    matrix: Matrix,
) -> None:
    app = matrix["watchdog"]
    app.start_up()
    assert app.alive_ready() == (True, True)

    blocked = threading.Thread(target=app.get, args=("/block",), daemon=True)
    blocked.start()
    try:
        eventually(app.alive_ready, lambda pair: pair == (False, False), "alive/ready")
        watchdog = app.result("/healthz/live", "requests")
        assert "a request has been running for" in watchdog["output"]
    finally:
        matrix.path("release").touch()
        blocked.join(15)

    eventually(app.alive_ready, lambda pair: pair == (True, True), "alive/ready after release")


def test_heavy_load_is_alive_but_not_ready(matrix: Matrix) -> None:
    app = matrix["load"]
    app.start_up()
    assert app.alive_ready() == (True, True)

    slow = [
        threading.Thread(target=app.get, args=("/slow?seconds=4",), daemon=True) for _ in range(4)
    ]
    for thread in slow:
        thread.start()
    pair = eventually(app.alive_ready, lambda pair: pair == (True, False), "alive/ready")
    load = app.result("/healthz/ready", "load")
    assert re.fullmatch(r"overloaded: [34] requests in flight \(limit 2\)", load["output"]), load
    assert pair == (True, False)
    for thread in slow:
        thread.join(15)

    assert app.alive_ready() == (True, True)


def test_database_that_cannot_be_reached_is_alive_but_not_ready(matrix: Matrix) -> None:
    require(POSTGRES)
    assert matrix.database is not None
    app = matrix["database"]
    app.start_up()
    assert app.alive_ready() == (True, True)

    _drop_database(matrix.database)

    eventually(app.alive_ready, lambda pair: pair == (True, False), "alive/ready")
    output = eventually(
        lambda: app.result("/healthz/ready", "database")["output"],
        lambda output: "database does not exist" in output,
        "the database check's output",
    )
    assert matrix.database not in output  # the database's name is for the token holder only


def test_mandatory_service_that_cannot_be_reached_is_alive_but_not_ready(matrix: Matrix) -> None:
    assert matrix.service is not None
    app = matrix["service"]
    app.start_up()
    assert app.alive_ready() == (True, True)

    matrix.service.close()

    eventually(app.alive_ready, lambda pair: pair == (True, False), "alive/ready")
    service = app.result("/healthz/ready", "tcp")
    assert "connection refused" in service["output"]


def test_volume_with_insufficient_space_is_alive_but_not_ready(matrix: Matrix) -> None:
    assert matrix.volume is not None
    app = matrix["disk"]
    if matrix.volume.mounted:
        app.start_up()
        assert app.alive_ready() == (True, True)
        matrix.volume.fill()
    # Otherwise the check has failed from the start, below the volume's current usage.

    eventually(app.alive_ready, lambda pair: pair == (True, False), "alive/ready")
    disk = app.result("/healthz/ready", "disk")
    assert "fail limit" in disk["output"]


def test_slow_response_from_a_dependency_is_alive_and_ready(matrix: Matrix) -> None:
    app = matrix["slow"]
    app.start_up()

    started = time.monotonic()
    assert app.alive_ready() == (True, True)
    took = time.monotonic() - started

    slow = app.result("/healthz/ready", "slow")
    assert slow["passed"] is True
    assert slow["response_time"] >= 0.45
    assert took >= 0.45  # the check really ran on the request (no cache), and still passed


def test_leader_that_cannot_be_reached_is_alive_but_not_ready(matrix: Matrix) -> None:
    assert matrix.leader is not None
    app = matrix["leader"]
    app.start_up()
    assert app.alive_ready() == (True, True)

    matrix.leader.silent.set()

    eventually(app.alive_ready, lambda pair: pair == (True, False), "alive/ready")
    leader = app.result("/healthz/ready", "leader")
    assert "timed out" in leader["output"]


# -- shutdown ------------------------------------------------------------------------------------


@dataclass
class Poll:
    at: float  # seconds after SIGTERM
    ready: tuple[int, str] | None
    live: int | None


def _poll_drain(server: Server, sent: float, until: float) -> list[Poll]:
    """Probe readiness and liveness every 0.2 s until *until* seconds after SIGTERM."""
    polls = []
    assert server.process is not None
    while time.monotonic() - sent < until and server.process.poll() is None:
        try:
            ready = server.get("/healthz/ready")
            live = server.get("/healthz/live")[0]
        except OSError:
            ready, live = None, None
        polls.append(Poll(time.monotonic() - sent, ready, live))
        time.sleep(0.2)
    return polls


def _drain(name: str, directory: Path, server_kind: str, seconds: int, options: list[str]) -> None:
    environment = {"LIFECYCLE_CHECKS": "ok", "FLASK_HEALTHCHECK_DRAIN_SECONDS": str(seconds)}
    server = Server(name, directory, environment, server_kind, options).launch()
    try:
        server.wait_up()
        server.start_up()
        assert server.alive_ready() == (True, True)

        assert server.process is not None
        os.kill(server.pid, signal.SIGTERM)
        sent = time.monotonic()
        # Probe for most of the drain, then stop, as a load balancer would: the process must
        # leave without a request to wake it.
        polls = _poll_drain(server, sent, seconds - 1.0)
        try:
            server.process.wait(seconds + 5.0)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{name} still runs {seconds + 5} s after SIGTERM:\n{server.output()}"
            ) from None
        exited = time.monotonic() - sent
    finally:
        server.stop()

    answered = [poll for poll in polls if poll.ready is not None]
    assert answered, f"nothing answered during the drain: {polls}"
    # gunicorn's master passes SIGTERM on to its worker: readiness may pass for a moment.
    draining = [poll for poll in answered if poll.ready is not None and poll.ready[0] == 503]
    assert draining, f"readiness never said draining: {answered}"
    assert draining[0].at < 1.5, draining[0]
    assert answered[answered.index(draining[0]) :] == draining, "readiness came back"
    for poll in draining:
        assert poll.ready is not None
        assert json.loads(poll.ready[1])["results"][0]["output"] == "draining"
    assert all(poll.live == 200 for poll in answered), answered
    assert draining[-1].at >= seconds - 1.5, "the server stopped answering early"
    assert seconds - 0.5 <= exited <= seconds + 5.0
    print(f"{name}: drained {seconds} s, exited {exited:.2f} s after SIGTERM")


def test_sigterm_drains_gunicorn_then_the_worker_and_master_exit(
    tmp_path: Path,
) -> None:
    # graceful_timeout is well above the drain; the worker timeout is gunicorn's default (30 s),
    # so an idle sync worker waits 15 s in select() unless a signal wakes it.
    options = [*SYNC, "--graceful-timeout", "20"]
    _drain("drain-gunicorn", tmp_path, "gunicorn", 3, options)
    log = (tmp_path / "drain-gunicorn.log").read_text()
    assert "SIGKILL" not in log
    assert "Worker exiting" in log
    assert "Shutting down: Master" in log


def test_sigterm_drains_the_development_server_then_it_exits(tmp_path: Path) -> None:
    _drain("drain-flask", tmp_path, "flask", 2, [])


@pytest.fixture
def sigterm_handler() -> Iterator[list[int]]:
    """A SIGTERM handler installed before the app's, recording the signals it gets."""
    received: list[int] = []
    original = signal.getsignal(signal.SIGTERM)

    def record(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    signal.signal(signal.SIGTERM, record)
    try:
        yield received
    finally:
        # A drain still under way would end with a SIGTERM: let it come to a harmless handler
        # rather than to pytest's own (the default action, which ends the test run).
        signal.signal(signal.SIGTERM, record)
        due = time.monotonic() + 5
        while time.monotonic() < due and any(
            isinstance(thread, threading.Timer) and thread.is_alive()
            for thread in threading.enumerate()
        ):
            time.sleep(0.02)
        time.sleep(0.05)
        signal.signal(signal.SIGTERM, original)


def _wait_for_signals(received: list[int], count: int, seconds: float = 10.0) -> None:
    due = time.monotonic() + seconds
    while len(received) < count and time.monotonic() < due:
        time.sleep(0.02)  # the main thread runs Python handlers between these sleeps


def test_drain_handler_chains_the_handler_installed_before_it(
    sigterm_handler: list[int], make_app: Callable[..., Flask], health: HealthCheck
) -> None:
    before = signal.getsignal(signal.SIGTERM)
    app = make_app(HEALTHCHECK_DRAIN_SECONDS=0.5)
    client = app.test_client()
    installed = signal.getsignal(signal.SIGTERM)
    assert installed is not before

    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.05)
    assert client.get("/healthz/ready").status_code == 503
    assert json.loads(client.get("/healthz/ready").text)["results"][0]["output"] == "draining"
    assert client.get("/healthz/live").status_code == 200
    assert sigterm_handler == []
    os.kill(os.getpid(), signal.SIGTERM)  # a second SIGTERM while draining changes nothing

    _wait_for_signals(sigterm_handler, 1)
    time.sleep(0.3)
    assert sigterm_handler == [signal.SIGTERM]
    assert signal.getsignal(signal.SIGTERM) is before, "the previous handler is back in place"


def test_drain_handler_installed_twice_chains_once(
    sigterm_handler: list[int], make_app: Callable[..., Flask], health: HealthCheck
) -> None:
    app = make_app(HEALTHCHECK_DRAIN_SECONDS=0.2)
    health.install_drain_handler(app)

    os.kill(os.getpid(), signal.SIGTERM)
    _wait_for_signals(sigterm_handler, 1)
    time.sleep(0.3)

    assert sigterm_handler == [signal.SIGTERM]


def test_sigterm_drains_even_when_the_app_had_said_draining_itself(
    sigterm_handler: list[int], make_app: Callable[..., Flask], health: HealthCheck
) -> None:
    make_app(HEALTHCHECK_DRAIN_SECONDS=0.2)
    health.set_ready(False, "draining")

    os.kill(os.getpid(), signal.SIGTERM)
    _wait_for_signals(sigterm_handler, 1)

    assert sigterm_handler == [signal.SIGTERM]


def test_without_drain_seconds_no_sigterm_handler_is_installed(
    make_app: Callable[..., Flask],
) -> None:
    before = signal.getsignal(signal.SIGTERM)

    make_app()

    assert signal.getsignal(signal.SIGTERM) is before
