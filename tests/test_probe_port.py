"""``HEALTHCHECK_PROBE_PORT`` in-process, then under real gunicorn and Flask development servers."""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import psutil
import pytest
from flask import Flask

from flask_healthcheck import ConfigurationError, HealthCheck
from flask_healthcheck import probe_port as probe_port_module
from flask_healthcheck.clock import ManualClock
from flask_healthcheck.config import Settings
from flask_healthcheck.probe_port import ProbeServer, _WaitingRoom
from flask_healthcheck.shared import Role

from .services import free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PROBE_APP = "tests.apps.probe_app:create_app"


def fetch(
    url: str, *, method: str = "GET", headers: Mapping[str, str] | None = None, timeout: float = 5
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


def without_times(body: bytes) -> object:
    """A JSON report without its clock readings, which differ between any two answers."""
    times = {"timestamp", "expires", "since", "response_time"}

    def strip(value: object) -> object:
        if isinstance(value, dict):
            return {key: strip(item) for key, item in value.items() if key not in times}
        if isinstance(value, list):
            return [strip(item) for item in value]
        return value

    return strip(json.loads(body))


# -- in-process --------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _close_probe_servers() -> Iterator[None]:
    yield
    for server in list(probe_port_module._servers.values()):
        server.close()


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def probed_app(make_app: Callable[..., Flask], port: int) -> Flask:
    return make_app(HEALTHCHECK_PROBE_PORT=port, HEALTHCHECK_PROBE_HOST="127.0.0.1")


def test_no_probe_port_is_served_by_default(app: Flask) -> None:
    assert app.config["HEALTHCHECK_PROBE_PORT"] is None
    assert app.config["HEALTHCHECK_PROBE_HOST"] == "0.0.0.0"
    assert not probe_port_module._servers


@pytest.mark.parametrize(
    "path",
    ["/live", "/ready", "/startup", "/healthz/live", "/healthz/ready", "/healthz/startup"],
)
def test_probe_port_serves_the_three_probes_at_both_paths(
    probed_app: Flask, port: int, path: str
) -> None:
    status, headers, body = fetch(f"http://127.0.0.1:{port}{path}")

    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["status"] == "success"


def test_answers_are_the_main_ports_answers(
    health: HealthCheck, make_app: Callable[..., Flask], port: int
) -> None:
    health.add_check(lambda: (True, "database ok"), name="database")
    health.add_check(lambda: (False, "slow"), name="search", critical=False)
    app = make_app(HEALTHCHECK_PROBE_PORT=port, HEALTHCHECK_PROBE_HOST="127.0.0.1")
    client = app.test_client()
    # Start the app first: start-up completes in the background, so answers given while it is
    # under way could differ between two requests, whichever port they came through.
    assert client.get("/healthz/startup").status_code == 200

    for endpoint in ("live", "ready", "startup"):
        main = client.get(f"/healthz/{endpoint}?format=text")
        status, headers, body = fetch(f"http://127.0.0.1:{port}/{endpoint}?format=text")
        assert (status, body) == (main.status_code, main.data)
        assert headers["Content-Type"] == main.headers["Content-Type"]
        main_json = client.get(f"/healthz/{endpoint}")
        _, _, body = fetch(f"http://127.0.0.1:{port}/{endpoint}")
        assert without_times(body) == without_times(main_json.data)


def test_a_failing_probe_fails_on_the_probe_port(
    health: HealthCheck, probed_app: Flask, port: int
) -> None:
    health.set_ready(False, "maintenance", app=probed_app)

    status, _, body = fetch(f"http://127.0.0.1:{port}/ready")

    assert status == 503
    assert json.loads(body)["results"][0]["output"] == "maintenance"
    assert fetch(f"http://127.0.0.1:{port}/live")[0] == 200


def test_query_and_headers_reach_the_app(
    health: HealthCheck, make_app: Callable[..., Flask], port: int
) -> None:
    def broken() -> tuple[bool, str]:
        raise RuntimeError("disk /srv is read-only")

    health.add_check(broken, name="broken", critical=False)
    make_app(
        HEALTHCHECK_PROBE_PORT=port, HEALTHCHECK_PROBE_HOST="127.0.0.1", HEALTHCHECK_TOKEN="s3cret"
    )
    url = f"http://127.0.0.1:{port}/ready"

    _, headers, _ = fetch(url, headers={"Accept": "text/plain"})
    _, _, public = fetch(url + "?format=text")
    _, _, detailed = fetch(url + "?format=text", headers={"Authorization": "Bearer s3cret"})
    unknown = fetch(url + "?exclude=nope")

    assert headers["Content-Type"].startswith("text/plain")
    assert b"details withheld" in public
    assert b"disk /srv is read-only" in detailed
    assert unknown[0] == 400
    assert b"unknown check 'nope'" in unknown[2]


def test_head_answers_headers_without_a_body(probed_app: Flask, port: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("HEAD", "/ready")
    response = connection.getresponse()

    assert response.status == 200
    assert int(response.headers["Content-Length"]) > 0
    assert response.read() == b""
    connection.close()


def test_other_paths_answer_404_without_reaching_the_app(probed_app: Flask, port: int) -> None:
    reached: list[str] = []
    probed_app.before_request(lambda: reached.append("request") and None)

    for path in ("/", "/healthz", "/healthz/database", "/admin", "/live/"):
        status, _, body = fetch(f"http://127.0.0.1:{port}{path}")
        assert status == 404
        assert "the probe port serves /healthz/live" in json.loads(body)["error"]
    assert fetch(f"http://127.0.0.1:{port}/ready")[0] == 200
    assert reached == ["request"]


def test_a_probe_answered_while_the_factory_runs_leaves_the_app_open_to_setup(
    make_app: Callable[..., Flask], port: int
) -> None:
    # The port serves from init_app on; a probe that arrives before the factory has added
    # its routes must not count as the app's first request, after which Flask refuses them.
    app = make_app(HEALTHCHECK_PROBE_PORT=port, HEALTHCHECK_PROBE_HOST="127.0.0.1")
    assert fetch(f"http://127.0.0.1:{port}/ready")[0] == 200

    app.add_url_rule("/added-later", "added_later", lambda: "added")

    assert app.test_client().get("/added-later").data == b"added"


def test_before_init_app_has_registered_the_endpoints_the_port_answers_503_starting(
    health: HealthCheck, app: Flask, port: int, port_settings: Settings, tmp_path: Path
) -> None:
    bare = Flask("bare")  # an app whose init_app has not registered the endpoints yet
    server = ProbeServer(bare, port_settings, Role(tmp_path / "probe-port.role"))
    server.start()
    try:
        status, _, body = fetch(f"http://127.0.0.1:{port}/ready")
    finally:
        server.close()

    assert status == 503
    assert json.loads(body)["error"] == "the app is starting: init_app has not finished"


def test_the_request_is_marked_as_coming_from_the_probe_port(probed_app: Flask, port: int) -> None:
    seen: list[object] = []

    @probed_app.before_request
    def note() -> None:
        from flask import request

        seen.append(request.environ.get("flask_healthcheck.probe_port"))

    fetch(f"http://127.0.0.1:{port}/ready")
    probed_app.test_client().get("/healthz/ready")

    assert seen == [True, None]


def test_a_taken_port_fails_init_app_naming_the_key(
    make_app: Callable[..., Flask], port: int
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()

        with pytest.raises(ConfigurationError, match=f"HEALTHCHECK_PROBE_PORT {port} is already"):
            make_app(HEALTHCHECK_PROBE_PORT=port, HEALTHCHECK_PROBE_HOST="127.0.0.1")


def test_an_address_not_of_this_machine_fails_naming_the_host_key(
    make_app: Callable[..., Flask], port: int
) -> None:
    with pytest.raises(ConfigurationError, match=r"HEALTHCHECK_PROBE_HOST '192\.0\.2\.1'"):
        make_app(HEALTHCHECK_PROBE_PORT=port, HEALTHCHECK_PROBE_HOST="192.0.2.1")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("HEALTHCHECK_PROBE_PORT", 0),
        ("HEALTHCHECK_PROBE_PORT", 65536),
        ("HEALTHCHECK_PROBE_PORT", "8081"),
        ("HEALTHCHECK_PROBE_PORT", True),
        ("HEALTHCHECK_PROBE_PORT", 8081.0),
        ("HEALTHCHECK_PROBE_HOST", ""),
        ("HEALTHCHECK_PROBE_HOST", "0.0.0.0 "),
        ("HEALTHCHECK_PROBE_HOST", None),
        ("HEALTHCHECK_PROBE_HOST", 127),
    ],
)
def test_bad_values_fail_init_app_naming_the_key(key: str, value: object) -> None:
    app = Flask(__name__)
    app.config[key] = value

    with pytest.raises(ConfigurationError, match=f"{key} must be"):
        HealthCheck(app)


def test_one_server_per_port_answers_for_the_app_initialised_last(
    make_app: Callable[..., Flask], port: int
) -> None:
    first = make_app(HEALTHCHECK_PROBE_PORT=port, HEALTHCHECK_PROBE_HOST="127.0.0.1")
    second = Flask("second")
    second.config.update(HEALTHCHECK_PROBE_PORT=port, HEALTHCHECK_PROBE_HOST="127.0.0.1")
    HealthCheck(second, hostname="second-app")

    _, _, body = fetch(f"http://127.0.0.1:{port}/live")

    assert len(probe_port_module._servers) == 1
    assert probe_port_module._servers[port].app is second is not first
    assert json.loads(body)["hostname"] == "second-app"


def test_another_host_for_a_port_served_in_this_process_is_refused(
    probed_app: Flask, port: int
) -> None:
    other = Flask("other")
    other.config.update(HEALTHCHECK_PROBE_PORT=port, HEALTHCHECK_PROBE_HOST="localhost")

    with pytest.raises(ConfigurationError, match="same HEALTHCHECK_PROBE_HOST"):
        HealthCheck(other)


def test_close_stops_serving_and_frees_the_port(probed_app: Flask, port: int) -> None:
    server = probe_port_module._servers[port]
    server.close()

    with pytest.raises(OSError):
        fetch(f"http://127.0.0.1:{port}/live", timeout=1)
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))
    assert not server.serving


def test_a_closed_server_does_not_start_again(probed_app: Flask, port: int) -> None:
    server = probe_port_module._servers[port]
    server.close()

    server.start()

    assert not server.serving
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))


def test_a_forked_child_closes_the_probe_sockets_it_inherited(probed_app: Flask, port: int) -> None:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running pytest's teardown
        state = f"{len(probe_port_module._servers)}"
        os.write(write_end, state.encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        child_state = pipe.read()
    os.waitpid(pid, 0)

    assert child_state == "0"
    assert fetch(f"http://127.0.0.1:{port}/live")[0] == 200


def test_serve_starts_the_port_where_init_app_did_not(
    health: HealthCheck,
    make_app: Callable[..., Flask],
    port: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(probe_port_module, "_why_not_here", lambda: "a flask command")
    app = make_app(HEALTHCHECK_PROBE_PORT=port, HEALTHCHECK_PROBE_HOST="127.0.0.1")
    assert not probe_port_module._servers

    server = health.serve_probe_port(app)

    assert server.port == port
    assert fetch(f"http://127.0.0.1:{port}/live")[0] == 200


# -- bounds: connections that never send, more requests than threads ---------------------------


def probe_threads(port: int) -> list[threading.Thread]:
    """The threads of the probe port *port* in this process."""
    name = f"healthcheck-probe-port:{port}"
    return [thread for thread in threading.enumerate() if thread.name.startswith(name)]


def test_idle_connections_take_no_thread_and_a_probe_still_answers(
    probed_app: Flask, port: int
) -> None:
    before = probe_threads(port)
    idle = [
        socket.create_connection(("127.0.0.1", port))
        for _ in range(3 * probe_port_module.WAITING_CONNECTIONS)
    ]
    try:
        status = fetch(f"http://127.0.0.1:{port}/ready")[0]
        during = probe_threads(port)
        idle[0].settimeout(5)
        oldest_closed = idle[0].recv(1) == b""  # pushed out by the ones after it
    finally:
        for connection in idle:
            connection.close()

    assert status == 200
    assert len(during) == len(before) == 1 + probe_port_module.ANSWER_THREADS
    assert oldest_closed


def test_a_request_beyond_the_threads_and_the_queue_is_answered_503_at_once(
    probed_app: Flask, port: int
) -> None:
    release, entered = threading.Event(), threading.Semaphore(0)

    @probed_app.before_request
    def stuck() -> None:
        entered.release()
        release.wait(30)

    threads, queued = probe_port_module.ANSWER_THREADS, probe_port_module.QUEUED_ANSWERS
    clients = []
    try:
        for _ in range(threads + queued + 1):
            client = socket.create_connection(("127.0.0.1", port), timeout=10)
            client.sendall(b"GET /ready HTTP/1.0\r\n\r\n")
            clients.append(client)
        for _ in range(threads):
            assert entered.acquire(timeout=10)
        refused, _, _ = select.select(clients, [], [], 10)  # answered while all are stuck
        early = [client.makefile("rb").read() for client in refused]
    finally:
        release.set()
    answers = [client.makefile("rb").read() for client in clients if client not in refused]
    for client in clients:
        client.close()

    assert len(early) == 1
    assert early[0].startswith(b"HTTP/1.0 503 ")
    assert b'"the probe port has too many connections"' in early[0]
    assert [answer.split(b" ", 2)[1] for answer in answers] == [b"200"] * (threads + queued)


def test_the_waiting_room_pushes_out_the_oldest_and_expires_connections_that_never_send(
    clock: ManualClock,
) -> None:
    room = _WaitingRoom(capacity=2, patience=5.0, clock=clock)
    first, second, third = (socket.socket() for _ in range(3))
    try:
        assert room.admit(first, "first") == []
        clock.advance(1.0)
        assert room.admit(second, "second") == []
        assert room.admit(third, "third") == [first]
        assert room.seconds_left() == 5.0
        assert room.leave(second) == "second"
        clock.advance(4.9)
        assert room.expired() == []
        clock.advance(0.1)
        assert room.expired() == [third]
        assert room.seconds_left() is None
    finally:
        for each in (first, second, third):
            each.close()


# -- the role: one process of a server serves ---------------------------------------------------


@pytest.fixture
def port_settings(health: HealthCheck, app: Flask, port: int) -> Settings:
    """Settings with the probe port, for servers the test makes itself."""
    settings = health.state(app).settings
    return dataclasses.replace(settings, probe_port=port, probe_host="127.0.0.1")


def wait_until(condition: Callable[[], bool], within: float = 5.0) -> None:
    due = time.monotonic() + within
    while not condition():
        assert time.monotonic() < due, "the condition did not come true in time"
        time.sleep(0.01)


def ticking(clock: ManualClock, condition: Callable[[], bool]) -> Callable[[], bool]:
    """*condition*, with *clock* moved half a second on at each look."""

    def look() -> bool:
        clock.advance(0.5)
        return condition()

    return look


def test_a_process_waiting_for_the_role_serves_as_soon_as_the_holder_lets_it_go(
    app: Flask, port: int, port_settings: Settings, tmp_path: Path
) -> None:
    role_file = tmp_path / "probe-port.role"
    holder = ProbeServer(app, port_settings, Role(role_file))
    holder.start()
    waiting = ProbeServer(app, port_settings, Role(role_file))
    waiting.start()
    try:
        assert holder.serving
        assert not waiting.serving
        assert fetch(f"http://127.0.0.1:{port}/ready")[0] == 200

        holder.close()
        wait_until(lambda: waiting.serving)

        assert fetch(f"http://127.0.0.1:{port}/ready")[0] == 200
        assert Role(role_file).holder() == os.getpid()
    finally:
        holder.close()
        waiting.close()


def test_a_process_taking_the_role_over_says_the_port_is_held_and_binds_once_it_is_free(
    app: Flask,
    port: int,
    port_settings: Settings,
    tmp_path: Path,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    role_file = tmp_path / "probe-port.role"
    other_worker = Role(role_file)
    assert other_worker.try_take()
    waiting = ProbeServer(app, port_settings, Role(role_file), clock)
    waiting.start()
    try:
        with socket.socket() as stranger:
            stranger.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            stranger.bind(("127.0.0.1", port))
            stranger.listen()
            other_worker.release()
            wait_until(lambda: Role(role_file).holder() == os.getpid())
            assert not waiting.serving  # the role, but not the port
            assert "tries again" not in caplog.text  # a holder's socket may linger a moment
            wait_until(ticking(clock, lambda: "tries again" in caplog.text))
        wait_until(ticking(clock, lambda: waiting.serving))

        assert fetch(f"http://127.0.0.1:{port}/ready")[0] == 200
        assert caplog.text.count(f"HEALTHCHECK_PROBE_PORT {port} is already in use") == 1
    finally:
        waiting.close()


def test_a_taken_port_gives_the_role_back(
    app: Flask, port: int, port_settings: Settings, tmp_path: Path
) -> None:
    role_file = tmp_path / "probe-port.role"
    with socket.socket() as stranger:
        stranger.bind(("127.0.0.1", port))
        stranger.listen()
        with pytest.raises(ConfigurationError, match=f"HEALTHCHECK_PROBE_PORT {port} is already"):
            ProbeServer(app, port_settings, Role(role_file)).start()

    assert Role(role_file).holder() is None


# -- real servers ------------------------------------------------------------------------------


class Process:
    """A server started in its own process group, with its output in a log file."""

    def __init__(self, command: list[str], environment: Mapping[str, str], log: Path) -> None:
        env = {**os.environ, **environment}
        env.pop("FLASK_APP", None)
        self.log = log
        with log.open("wb") as output:
            self.popen = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, url: str, timeout: float = 30) -> None:
        due = time.monotonic() + timeout
        while True:
            if self.popen.poll() is not None:
                raise AssertionError(
                    f"the server exited with {self.popen.returncode}:\n{self.output}"
                )
            with contextlib.suppress(OSError):
                if fetch(url, timeout=1)[0] == 200:
                    return
            if time.monotonic() > due:
                raise AssertionError(f"{url} did not answer in {timeout} s:\n{self.output}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGINT)
        try:
            self.popen.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in started:
        process.stop()


@pytest.fixture
def start(processes: list[Process], tmp_path: Path) -> Callable[..., Process]:
    def start(command: list[str], probe_port: int, **environment: str) -> Process:
        process = Process(
            command,
            {"FLASK_HEALTHCHECK_PROBE_PORT": str(probe_port), **environment},
            tmp_path / f"server-{len(processes)}.log",
        )
        processes.append(process)
        return process

    return start


def gunicorn(port: int, *options: str) -> list[str]:
    return [
        str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2",
        "--worker-class", "sync", "--timeout", "60", "--graceful-timeout", "2",
        *options, f"{PROBE_APP}()",
    ]  # fmt: skip


def flask_run(port: int, *options: str) -> list[str]:
    return [
        str(BIN / "flask"), "--app", PROBE_APP, "run", "--host", "127.0.0.1", "--port", str(port),
        "--no-debugger", *options,
    ]  # fmt: skip


def hold_workers(main: str, count: int, seconds: float) -> list[threading.Thread]:
    """Send *count* requests that each keep a request worker busy for *seconds*."""

    def slow() -> None:
        with contextlib.suppress(OSError):
            fetch(f"{main}/slow?seconds={seconds}", timeout=seconds + 20)

    threads = [threading.Thread(target=slow, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads


def assert_does_not_answer(url: str, within: float) -> None:
    with pytest.raises(TimeoutError):
        fetch(url, timeout=within)


def timed_liveness(probe: str, count: int = 7) -> list[float]:
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        status, _, _ = fetch(f"{probe}/live", timeout=5)
        latencies.append(time.perf_counter() - started)
        assert status == 200
    return latencies


def listening_pids(port: int, processes: list[psutil.Process]) -> set[int]:
    pids = set()
    for process in processes:
        for connection in process.net_connections(kind="tcp"):
            if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port:
                pids.add(process.pid)
    return pids


def test_gunicorn_exits_cleanly_on_sigterm_and_frees_the_probe_port(
    start: Callable[..., Process],
) -> None:
    port, probe_port = free_port(), free_port()
    probe = f"http://127.0.0.1:{probe_port}"
    server = start(gunicorn(port), probe_port)
    server.wait_for(f"{probe}/live")

    started = time.monotonic()
    server.popen.send_signal(signal.SIGTERM)
    returncode = server.popen.wait(20)

    assert returncode == 0, server.output
    assert time.monotonic() - started < 10
    assert "Traceback" not in server.output
    # No process of the server is left to hold the port. (Whether a connection is refused
    # says less: the suite runs on two processes, and the other may take the port at once.)
    with pytest.raises(ProcessLookupError):
        os.killpg(server.popen.pid, 0)


def test_development_server_probe_port_answers_while_its_only_thread_is_busy(
    start: Callable[..., Process],
) -> None:
    port, probe_port = free_port(), free_port()
    main, probe = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{probe_port}"
    server = start(flask_run(port, "--no-reload", "--without-threads"), probe_port)
    server.wait_for(f"{main}/healthz/live")
    server.wait_for(f"{probe}/live")

    hold_workers(main, count=1, seconds=15)
    time.sleep(0.5)
    assert_does_not_answer(f"{main}/healthz/live", within=1.0)
    latencies = timed_liveness(probe, count=5)

    assert max(latencies) < 1.0
    started = time.monotonic()
    server.popen.send_signal(signal.SIGTERM)
    server.popen.wait(10)
    assert time.monotonic() - started < 5


def test_development_server_with_reloader_serves_the_port_from_its_child_only(
    start: Callable[..., Process],
) -> None:
    port, probe_port = free_port(), free_port()
    server = start(flask_run(port, "--reload"), probe_port)
    server.wait_for(f"http://127.0.0.1:{probe_port}/live")

    parent = psutil.Process(server.popen.pid)
    children = parent.children()

    assert len(children) == 1
    assert listening_pids(probe_port, [parent]) == set()
    assert listening_pids(probe_port, children) == {children[0].pid}
    assert "HEALTHCHECK_PROBE_PORT" not in server.output


def test_flask_commands_other_than_run_do_not_bind_the_probe_port() -> None:
    probe_port = free_port()
    env = {**os.environ, "FLASK_HEALTHCHECK_PROBE_PORT": str(probe_port)}
    env.pop("FLASK_APP", None)
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", probe_port))
        holder.listen()
        completed = subprocess.run(
            [str(BIN / "flask"), "--app", PROBE_APP, "healthcheck", "run"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    assert completed.returncode == 0, completed.stderr
    assert "[+]worker ok" in completed.stdout


def test_a_celery_worker_building_the_app_does_not_take_the_probe_port(tmp_path: Path) -> None:
    probe_port = free_port()
    environment = {
        **os.environ,
        "PROBE_PORT": str(probe_port),
        "PYTHONPATH": str(ROOT / "tests" / "apps"),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "celery_probe_port_app", "worker",
         "--pool", "solo", "--without-gossip", "--without-mingle", "-l", "info"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
        start_new_session=True,
    )  # fmt: skip
    try:
        assert worker.stdout is not None
        due = time.monotonic() + 60
        seen = []
        while time.monotonic() < due:
            line = worker.stdout.readline().decode(errors="replace")
            seen.append(line)
            if "ready." in line or worker.poll() is not None:
                break
        assert any("ready." in line for line in seen), "".join(seen)
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", probe_port), timeout=1).close()
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)
