"""The real services on the test machine, and faults made with private servers the tests start.

Under ``CI=true`` a test that needs a missing service fails; elsewhere it skips with a reason.
Faults never touch the shared services: a closed port, a socket that accepts and never answers,
and private redis-server instances are started here and torn down by the tests.
"""

from __future__ import annotations

import contextlib
import os
import shutil
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


@contextlib.contextmanager
def private_redis(*extra_args: str) -> Iterator[int]:
    """Start a private redis-server on a free port (e.g. with ``--requirepass``); yield the port."""
    binary = shutil.which("redis-server")
    if binary is None:
        skip_or_fail("redis-server is not installed")
        raise AssertionError("unreachable")  # pragma: no cover
    port = free_port()
    with tempfile.TemporaryDirectory() as directory:
        process = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                directory,
                *extra_args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 10
            while not reachable("127.0.0.1", port, 0.2):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"private redis-server on port {port} did not start")
                time.sleep(0.05)
            yield port
        finally:
            process.terminate()
            process.wait(10)


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
