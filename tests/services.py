"""The real services on the test machine, and faults made with private servers the tests start.

Under ``CI=true`` a test that needs a missing service fails; elsewhere it skips with a reason.
Faults never touch the shared services: a closed port, a socket that accepts and never answers,
private redis-server instances, TCP proxies in front of the shared services (an outage is the
proxy's) and RabbitMQ virtual hosts of their own are started here and torn down by the tests.
"""

from __future__ import annotations

import contextlib
import os
import random
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


@dataclass(frozen=True)
class Service:
    name: str
    host: str
    port: int
    url: str


POSTGRES = Service(
    "PostgreSQL", "127.0.0.1", 5432, "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MARIADB = Service("MariaDB", "127.0.0.1", 3306, "mysql+pymysql://root@127.0.0.1:3306/test")
REDIS = Service("Redis", "127.0.0.1", 6379, "redis://127.0.0.1:6379/0")
RABBITMQ = Service("RabbitMQ", "127.0.0.1", 5672, "amqp://guest:guest@127.0.0.1:5672//")


def reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require(service: Service) -> str:
    """Return the service's URL; fail under CI=true when it is down, skip otherwise."""
    if reachable(service.host, service.port):
        return service.url
    skip_or_fail(f"{service.name} is not reachable at {service.host}:{service.port}")
    raise AssertionError("unreachable")  # pragma: no cover


def free_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ephemeral_ports() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def stable_port() -> int:
    """A free loopback port below the kernel's ephemeral range, for a server that restarts.

    A port from :func:`free_port` is an ephemeral one: while nothing listens on it, the kernel
    may give it to an outgoing connection, and listening there again then fails. Ports below
    the range are only ever taken by a ``bind``.
    """
    low, _ = _ephemeral_ports()
    candidates = range(max(1024, low - 12000), low)
    for _ in range(200):
        port = random.choice(candidates)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free loopback port from {candidates.start} to {candidates.stop - 1}")


class BlackHole:
    """A TCP server that accepts connections and never sends a byte: a hung dependency."""

    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = int(self._listener.getsockname()[1])
        self._accepted: list[socket.socket] = []
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="black-hole", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self._accepted.append(connection)

    @property
    def connections(self) -> int:
        return len(self._accepted)

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for connection in self._accepted:
            connection.close()


@contextlib.contextmanager
def black_hole() -> Iterator[BlackHole]:
    server = BlackHole()
    try:
        yield server
    finally:
        server.close()


class TcpProxy:
    """A TCP proxy on a loopback port of its own in front of a real service.

    Pointing a client at :attr:`port` instead of the service makes an outage the test's own:
    :meth:`stop` closes the listener (new connections are refused) and drops every relayed
    connection, and :meth:`start` listens again on the same port. The service itself, shared
    with other tests, is never touched. Each relayed connection has one thread, at most
    *max_connections* of them (more are closed on accept); :meth:`close` ends them all.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        max_connections: int = 64,
        connect_timeout: float = 5.0,
    ) -> None:
        self.upstream = (host, port)
        self.max_connections = max_connections
        self.connect_timeout = connect_timeout
        self.port = stable_port()
        self.accepted = 0
        self._lock = threading.Lock()
        self._generation = 0  # counts stop(): a relay accepted before one must not go on
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._relays: dict[threading.Thread, list[socket.socket]] = {}
        self.start()

    @property
    def listening(self) -> bool:
        return self._listener is not None

    @property
    def connections(self) -> int:
        """How many connections are being relayed now."""
        with self._lock:
            return len(self._relays)

    def start(self, timeout: float = 10.0) -> None:
        """Listen on :attr:`port` (again); a no-op while listening."""
        if self._listener is not None:
            return
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        due = time.monotonic() + timeout
        while True:
            try:
                listener.bind(("127.0.0.1", self.port))
                break
            except OSError:
                if time.monotonic() > due:
                    listener.close()
                    raise
                time.sleep(0.1)
        listener.listen(128)
        self._listener = listener
        self._accept_thread = threading.Thread(
            target=self._accept, args=(listener,), name=f"proxy-{self.port}", daemon=True
        )
        self._accept_thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Refuse new connections and drop the relayed ones; returns once their threads end."""
        with self._lock:
            listener, self._listener = self._listener, None
            self._generation += 1
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() below
            listener.close()
        if self._accept_thread is not None:
            self._accept_thread.join(timeout)
            self._accept_thread = None
        with self._lock:
            relays = list(self._relays.items())
        for _, sockets in relays:
            for sock in sockets:
                # Shutting down (not closing) wakes the relay thread, which closes its sockets.
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        due = time.monotonic() + timeout
        for thread, _ in relays:
            thread.join(max(0.0, due - time.monotonic()))

    close = stop

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was closed by stop()
            with self._lock:
                if len(self._relays) >= self.max_connections or self._listener is not listener:
                    client.close()
                    continue
                self.accepted += 1
                thread = threading.Thread(
                    target=self._relay,
                    args=(client, self._generation),
                    name=f"proxy-{self.port}",
                    daemon=True,
                )
                self._relays[thread] = [client]
            thread.start()

    def _relay(self, client: socket.socket, generation: int) -> None:
        me = threading.current_thread()
        upstream: socket.socket | None = None
        try:
            try:
                upstream = socket.create_connection(self.upstream, timeout=self.connect_timeout)
            except OSError:
                return
            with self._lock:
                if self._generation != generation:  # stopped while connecting
                    return
                self._relays[me].append(upstream)
            self._pump(client, upstream)
        finally:
            with self._lock:
                self._relays.pop(me, None)
            for sock in (client, upstream):
                if sock is not None:
                    sock.close()

    @staticmethod
    def _pump(client: socket.socket, upstream: socket.socket) -> None:
        peers = {client: upstream, upstream: client}
        for sock in peers:
            sock.settimeout(10.0)  # bounds sendall() to a peer that stopped reading
        with selectors.DefaultSelector() as selector:
            for sock in peers:
                selector.register(sock, selectors.EVENT_READ)
            while True:
                for key, _ in selector.select(timeout=1.0):
                    source: socket.socket = key.fileobj  # type: ignore[assignment]
                    try:
                        data = source.recv(65536)
                        if not data:
                            return
                        peers[source].sendall(data)
                    except OSError:
                        return


@contextlib.contextmanager
def tcp_proxy(service: Service) -> Iterator[TcpProxy]:
    """A :class:`TcpProxy` in front of *service* (which must be reachable), closed afterwards."""
    require(service)
    proxy = TcpProxy(service.host, service.port)
    try:
        yield proxy
    finally:
        proxy.close()


class PrivateRedis:
    """A redis-server of the test's own, which it may stop, start again on the same port, and
    pause; *extra_args* go on its command line (e.g. ``--requirepass``)."""

    def __init__(self, *extra_args: str) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            skip_or_fail("redis-server is not installed")
            raise AssertionError("unreachable")  # pragma: no cover
        self.binary = binary
        self.extra_args = extra_args
        self.port = stable_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._directory = tempfile.TemporaryDirectory()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 10.0) -> None:
        """Start the server on :attr:`port` and return once it accepts connections."""
        if self.running:
            return
        process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self._directory.name,
                *self.extra_args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._process = process
        deadline = time.monotonic() + timeout
        while not reachable("127.0.0.1", self.port, 0.2):
            if process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"private redis-server on port {self.port} did not start")
            time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server with SIGTERM (SIGKILL when it lingers) and wait for it to exit."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)

    def pause(self, seconds: float) -> None:
        """``CLIENT PAUSE <ms> ALL``: every client's commands wait *seconds*.

        ``CLIENT UNPAUSE`` would wait too, so the pause ends only when *seconds* have passed.
        """
        import redis

        with redis.Redis(port=self.port, socket_timeout=5, socket_connect_timeout=5) as client:
            client.execute_command("CLIENT", "PAUSE", round(seconds * 1000), "ALL")

    def close(self) -> None:
        self.stop()
        self._directory.cleanup()


@contextlib.contextmanager
def private_redis(*extra_args: str) -> Iterator[int]:
    """Start a private redis-server on a free port (e.g. with ``--requirepass``); yield the port."""
    server = PrivateRedis(*extra_args)
    try:
        server.start()
        yield server.port
    finally:
        server.close()


@contextlib.contextmanager
def rabbitmq_vhost(prefix: str = "test") -> Iterator[str]:
    """A RabbitMQ virtual host of its own on the shared broker, deleted afterwards.

    Its queues and its workers' control messages (a ping reaches every worker of a virtual
    host) are apart from every other user of the broker. Made with ``rabbitmqctl``, which
    needs root or the broker's Erlang cookie; yields the virtual host's name.
    """
    require(RABBITMQ)
    rabbitmqctl = shutil.which("rabbitmqctl")
    if rabbitmqctl is None:
        skip_or_fail("rabbitmqctl is not installed: it makes the test's own RabbitMQ vhost")
        raise AssertionError("unreachable")  # pragma: no cover
    name = f"{prefix}-{os.getpid()}-{random.getrandbits(32):08x}"

    def control(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [rabbitmqctl, "-q", *args], capture_output=True, text=True, timeout=60, check=False
        )

    made = control("add_vhost", name)
    if made.returncode != 0:
        skip_or_fail(f"rabbitmqctl cannot add a vhost here: {made.stderr.strip()}")
    try:
        allowed = control("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        if allowed.returncode != 0:
            raise RuntimeError(f"rabbitmqctl set_permissions failed: {allowed.stderr.strip()}")
        yield name
    finally:
        control("delete_vhost", name)


def skip_or_fail(reason: str) -> None:
    """Skip locally; under CI=true a test may not skip, so fail with the reason."""
    if IN_CI:
        pytest.fail(f"{reason}, and under CI=true tests may not skip")
    pytest.skip(reason)


@contextlib.contextmanager
def small_volume(mountpoint: Path, options: str = "size=1m") -> Iterator[Path]:
    """A real tmpfs mounted at *mountpoint* (``mount -o options``); needs root, as CI has."""
    mountpoint.mkdir(exist_ok=True)
    mount = shutil.which("mount")
    if os.geteuid() != 0 or mount is None:
        skip_or_fail("mounting a small tmpfs needs root and mount(8)")
    result = subprocess.run(
        [mount, "-t", "tmpfs", "-o", options, "tmpfs", str(mountpoint)],  # type: ignore[list-item]
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        skip_or_fail(f"cannot mount a tmpfs here ({result.stderr.strip()})")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=True)
