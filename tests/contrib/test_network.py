"""HttpCheck against a real local HTTP server; TcpCheck against real listening and closed ports."""

from __future__ import annotations

import contextlib
import http.server
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_healthcheck import CheckError, HealthCheck
from flask_healthcheck.contrib.network import (
    HttpCheck,
    TcpCheck,
    describe_connection_error,
    same_origin,
)
from tests.services import IN_CI, BlackHole, free_port, skip_or_fail


class _Handler(http.server.BaseHTTPRequestHandler):
    release: threading.Event
    seen_headers: list[dict[str, str]]

    def do_GET(self) -> None:
        type(self).seen_headers.append(dict(self.headers))
        path, _, query = self.path.partition("?")
        if path == "/slow":
            type(self).release.wait(30)
        if path == "/redirect":
            # /redirect goes to /ok here; /redirect?to=URL goes to URL (another server).
            target = urllib.parse.parse_qs(query).get("to", ["/ok"])[0]
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status = {"/ok": 200, "/slow": 200, "/error": 500, "/empty": 204}.get(path, 404)
        body = b"" if status == 204 else f"status {status}: all good".encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def serving(tls: ssl.SSLContext | None = None) -> Iterator[Server]:
    """A real HTTP(S) server on a free loopback port: /ok 200, /error 500, /empty 204, /slow
    hangs, /redirect redirects; it records the headers of every request."""
    handler = type("Handler", (_Handler,), {"release": threading.Event(), "seen_headers": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="test-http", daemon=True
    )
    thread.start()
    try:
        scheme = "https" if tls is not None else "http"
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}", handler
    finally:
        handler.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def http_server() -> Iterator[Server]:
    with serving() as server:
        yield server


@pytest.fixture
def other_origin() -> Iterator[Server]:
    """A second server: another port of the same host is another origin."""
    with serving() as server:
        yield server


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made by openssl(1); (certificate, key)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        skip_or_fail("openssl is not installed: it makes the test's TLS certificate")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    command = (
        f"{openssl} req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
        f"-addext subjectAltName=IP:127.0.0.1 -keyout {key} -out {cert}"
    )
    subprocess.run(command.split(), check=True, capture_output=True, timeout=60)
    return cert, key


@contextlib.contextmanager
def full_backlog() -> Iterator[int]:
    """A port whose listen queue is full: the kernel drops new SYNs, so connecting hangs."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = int(listener.getsockname()[1])
    held: list[socket.socket] = []
    try:
        for _ in range(16):
            probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            probe.settimeout(0.3)
            try:
                probe.connect(("127.0.0.1", port))
            except TimeoutError:
                probe.close()
                break
            held.append(probe)
        else:
            message = "could not fill a listen queue (the kernel never dropped a SYN)"
            if IN_CI:
                pytest.fail(message)
            pytest.skip(message)
        yield port
    finally:
        for probe in held:
            probe.close()
        listener.close()


Server = tuple[str, type[_Handler]]


def _client_with(
    make_app: Callable[..., Flask], health: HealthCheck, check: Callable[[], object]
) -> FlaskClient:
    app = make_app()
    health.add_check(check)
    return app.test_client()


# -- HttpCheck -------------------------------------------------------------------------------


def test_http_check_passes_on_expected_status_and_reports_latency(http_server: Server) -> None:
    base, _ = http_server
    outcome = HttpCheck(f"{base}/ok")()
    assert outcome.passed
    assert outcome.output.startswith("answered 200 in ")
    assert outcome.output.endswith(" ms")
    assert outcome.detail == f"GET {base}/ok: {outcome.output}"
    assert outcome.observed_unit == "ms"
    assert isinstance(outcome.observed_value, float)
    assert outcome.observed_value > 0


def test_http_check_fails_on_server_error_naming_status(http_server: Server) -> None:
    base, _ = http_server
    outcome = HttpCheck(f"{base}/error")()
    assert not outcome.passed
    assert outcome.output == "answered 500, expected 200"
    assert outcome.detail == f"GET {base}/error: answered 500, expected 200"


def test_http_check_accepts_a_set_or_range_of_statuses(http_server: Server) -> None:
    base, _ = http_server
    assert HttpCheck(f"{base}/empty", expected_status={200, 204})().passed
    assert HttpCheck(f"{base}/empty", expected_status=range(200, 300))().passed
    outcome = HttpCheck(f"{base}/error", expected_status=range(200, 300))()
    assert not outcome.passed
    assert outcome.output.endswith("answered 500, expected 200-299")
    assert HttpCheck(f"{base}/error", expected_status=500)().passed


def test_http_check_follows_redirects_unless_told_not_to(http_server: Server) -> None:
    base, _ = http_server
    assert HttpCheck(f"{base}/redirect")().passed
    outcome = HttpCheck(f"{base}/redirect", follow_redirects=False)()
    assert not outcome.passed
    assert outcome.output.endswith("answered 302, expected 200")
    assert HttpCheck(f"{base}/redirect", follow_redirects=False, expected_status=302)().passed


def test_http_check_looks_for_text_in_the_body(http_server: Server) -> None:
    base, _ = http_server
    assert HttpCheck(f"{base}/ok", contains="all good")().passed
    outcome = HttpCheck(f"{base}/ok", contains="PONG")()
    assert not outcome.passed
    assert "does not contain 'PONG'" in outcome.output


def test_http_check_fails_with_connection_refused_on_closed_port() -> None:
    url = f"http://127.0.0.1:{free_port()}/healthcheck"
    with pytest.raises(CheckError) as caught:
        HttpCheck(url)()
    assert str(caught.value) == "connection refused"
    assert caught.value.detail == f"GET {url}: connection refused"


def test_http_check_on_slow_server_times_out_on_time(http_server: Server) -> None:
    base, _ = http_server
    started = time.monotonic()
    with pytest.raises(CheckError, match=r"timed out after 0\.5 s"):
        HttpCheck(f"{base}/slow", timeout=0.5)()
    assert time.monotonic() - started < 5  # the server sleeps 30 s


def test_http_check_on_hung_server_times_out_on_time(hung_server: BlackHole) -> None:
    started = time.monotonic()
    with pytest.raises(CheckError, match=r"timed out after 0\.5 s"):
        HttpCheck(f"http://127.0.0.1:{hung_server.port}/", timeout=0.5)()
    assert time.monotonic() - started < 5
    assert hung_server.connections == 1


def test_readiness_answers_on_time_and_frees_the_thread_when_http_hangs(
    make_app: Callable[..., Flask], health: HealthCheck, hung_server: BlackHole
) -> None:
    check = HttpCheck(f"http://127.0.0.1:{hung_server.port}/", name="flower", timeout=1)
    client = _client_with(make_app, health, check)
    started = time.monotonic()
    response = client.get("/healthz/ready")
    assert time.monotonic() - started < 3.5  # the server never answers
    assert response.status_code == 503
    result = next(r for r in response.get_json()["results"] if r["checker"] == "flower")
    assert result["output"] == "timed out after 1 s"
    runner = health.state(client.application).runner
    deadline = time.monotonic() + 10
    while runner.in_flight_count() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert runner.in_flight_count() == 0, "the check's thread is still blocked on the socket"


def test_http_check_sends_url_credentials_as_basic_auth_and_never_shows_them(
    http_server: Server,
) -> None:
    base, handler = http_server
    host = base.removeprefix("http://")
    check = HttpCheck(f"http://flower:s3cret@{host}/ok?token=abc123")
    outcome = check()
    assert outcome.passed
    assert outcome.detail is not None
    assert "s3cret" not in outcome.output + outcome.detail
    assert "abc123" not in outcome.output + outcome.detail
    assert "s3cret" not in repr(check)
    assert handler.seen_headers[-1]["Authorization"] == "Basic Zmxvd2VyOnMzY3JldA=="
    closed = f"http://flower:s3cret@127.0.0.1:{free_port()}/"
    with pytest.raises(CheckError) as caught:
        HttpCheck(closed)()
    assert "s3cret" not in f"{caught.value} {caught.value.detail}"


def test_http_check_keeps_credentials_on_a_redirect_within_the_origin(
    http_server: Server,
) -> None:
    base, handler = http_server
    host = base.removeprefix("http://")
    check = HttpCheck(f"http://flower:s3cret@{host}/redirect", headers={"Cookie": "session=1"})

    assert check().passed

    redirect, target = handler.seen_headers[-2:]
    assert redirect["Authorization"] == target["Authorization"] == "Basic Zmxvd2VyOnMzY3JldA=="
    assert target["Cookie"] == "session=1"


@pytest.mark.parametrize("given_as", ["url", "headers"])
def test_http_check_drops_credentials_on_a_redirect_to_another_origin(
    http_server: Server, other_origin: Server, given_as: str
) -> None:
    base, handler = http_server
    elsewhere, elsewhere_handler = other_origin
    target = urllib.parse.quote(f"{elsewhere}/ok", safe="")
    if given_as == "url":
        host = base.removeprefix("http://")
        check = HttpCheck(f"http://flower:s3cret@{host}/redirect?to={target}")
    else:
        bearer = {"Authorization": "Bearer t0ken", "Cookie": "session=1"}
        check = HttpCheck(f"{base}/redirect?to={target}", headers=bearer)

    assert check().passed

    assert "Authorization" in handler.seen_headers[-1]  # the origin the check was given
    (followed,) = elsewhere_handler.seen_headers
    assert "Authorization" not in followed
    assert "Cookie" not in followed


def test_http_check_drops_credentials_on_a_downgrade_from_https_to_http(
    certificate: tuple[Path, Path], other_origin: Server
) -> None:
    cert, key = certificate
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(cert, key)
    trusting = ssl.create_default_context(cafile=str(cert))
    plain, plain_handler = other_origin
    target = urllib.parse.quote(f"{plain}/ok", safe="")
    with serving(tls=server_side) as (secure, secure_handler):
        host = secure.removeprefix("https://")
        check = HttpCheck(
            f"https://flower:s3cret@{host}/redirect?to={target}", ssl_context=trusting
        )

        assert check().passed

        assert "Authorization" in secure_handler.seen_headers[-1]
    (followed,) = plain_handler.seen_headers
    assert "Authorization" not in followed


def test_origins_differ_by_scheme_host_or_port() -> None:
    assert same_origin("http://api.internal/a", "http://API.internal:80/b?c")
    assert same_origin("https://api.internal/a", "https://api.internal:443/")
    assert not same_origin("https://api.internal/", "http://api.internal/")  # a downgrade
    assert not same_origin("https://api.internal:443/", "http://api.internal:443/")
    assert not same_origin("http://api.internal/", "http://api.internal:8080/")
    assert not same_origin("http://api.internal/", "http://evil.example/")


def test_http_check_reports_status_and_observed_value_through_the_endpoint(
    make_app: Callable[..., Flask], health: HealthCheck, http_server: Server
) -> None:
    base, _ = http_server
    client = _client_with(make_app, health, HttpCheck(f"{base}/ok"))
    response = client.get("/healthz/ready", headers={"Accept": "application/health+json"})
    assert response.status_code == 200
    (entry,) = json.loads(response.data)["checks"]["http"]
    assert entry["status"] == "pass"
    assert entry["observedUnit"] == "ms"
    assert base.rsplit(":", 1)[1] not in response.get_data(as_text=True)


def test_http_check_defaults_name_and_tags_and_takes_overrides(health: HealthCheck) -> None:
    spec = health.add_check(HttpCheck("http://flower:5555/healthcheck"))
    assert spec.name == "http"  # never the host or port: names are public
    assert spec.tags == frozenset({"ready"})
    with pytest.raises(ValueError, match="'http' is already registered; use 'name='"):
        health.add_check(HttpCheck("http://api.internal/healthz"))
    spec = health.add_check(
        HttpCheck("https://[::1]/", name="api", tags=("live",), critical=False, timeout=4)
    )
    assert (spec.name, spec.tags, spec.critical, spec.timeout) == ("api", {"live"}, False, 4.0)
    assert health.add_check(HttpCheck("https://[::1]/"), name="other").name == "other"
    assert HttpCheck("https://[::1]/").name == "http"


@pytest.mark.parametrize(
    ("url", "options"),
    [
        ("ftp://files/x", {}),
        ("localhost:5555", {}),
        ("http://host:notaport/", {}),
        ("http://host/", {"expected_status": 42}),
        ("http://host/", {"expected_status": ()}),
    ],
)
def test_http_check_rejects_bad_options_at_construction(
    url: str, options: dict[str, object]
) -> None:
    with pytest.raises(ValueError):
        HttpCheck(url, **options)


# -- TcpCheck --------------------------------------------------------------------------------


def test_tcp_check_passes_when_the_port_accepts(http_server: Server) -> None:
    base, _ = http_server
    port = int(base.rsplit(":", 1)[1])
    outcome = TcpCheck("127.0.0.1", port)()
    assert outcome.passed
    assert outcome.output.startswith("accepted a connection in ")
    assert outcome.detail == f"tcp 127.0.0.1:{port}: {outcome.output}"
    assert outcome.observed_unit == "ms"


def test_tcp_check_fails_with_connection_refused_on_closed_port() -> None:
    port = free_port()
    with pytest.raises(CheckError) as caught:
        TcpCheck("127.0.0.1", port)()
    assert str(caught.value) == "connection refused"
    assert caught.value.detail == f"tcp 127.0.0.1:{port}: connection refused"


def test_tcp_check_times_out_on_time_when_connecting_hangs() -> None:
    with full_backlog() as port:
        started = time.monotonic()
        with pytest.raises(CheckError) as caught:
            TcpCheck("127.0.0.1", port, timeout=0.5)()
        assert time.monotonic() - started < 5
    assert str(caught.value) == "timed out after 0.5 s"
    assert caught.value.detail == f"tcp 127.0.0.1:{port}: timed out after 0.5 s"


def test_tcp_check_fails_on_unresolvable_host() -> None:
    with pytest.raises(CheckError, match="cannot resolve the host name"):
        TcpCheck("no-such-host.invalid", 80, timeout=1)()


def test_tcp_check_defaults_name_and_validates_port(health: HealthCheck) -> None:
    assert health.add_check(TcpCheck("rabbitmq", 5672)).name == "tcp"
    with pytest.raises(ValueError, match="'tcp' is already registered; use 'name='"):
        health.add_check(TcpCheck("smtp.internal", 25))
    assert health.add_check(TcpCheck("smtp.internal", 25), name="smtp").name == "smtp"
    for port in (0, 70000, True, "80"):
        with pytest.raises(ValueError):
            TcpCheck("host", port)  # type: ignore[arg-type]


def test_describe_connection_error_looks_through_wrapping() -> None:
    def connect_through_a_library() -> None:
        try:
            socket.create_connection(("127.0.0.1", free_port()), timeout=1)
        except OSError as inner:
            raise RuntimeError("postgresql://user:secret@db/app is down") from inner

    with pytest.raises(RuntimeError) as caught:
        connect_through_a_library()
    assert describe_connection_error(caught.value) == "connection refused"
    assert describe_connection_error(ValueError("no socket here")) is None
