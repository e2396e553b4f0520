"""The probe port under a real gunicorn: one listener for the whole server, taken over when its
holder dies, never shared with another server, and bounded under a flood of idle connections.

Each configuration (sync and gthread workers, with and without ``--preload``, four workers)
runs one server of ``tests/apps/probe_port_app.py`` shared by this module's tests; the test
that kills the probe port's holder comes last.
"""

from __future__ import annotations

import http.client
import os
import resource
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from flask_healthcheck import probe_port
from flask_healthcheck.shared import Role

from .gunicorn_server import CONFIGURATION_PARAMS, Configuration, Gunicorn, gunicorn
from .services import free_port

FLOOD = 1500


@dataclass
class ProbedServer:
    """A gunicorn server of the test app, and its probe port."""

    gunicorn: Gunicorn
    configuration: Configuration
    port: int

    def probe(self, path: str = "/ready", timeout: float = 5.0) -> tuple[int, int | None]:
        """The status of a GET of *path* on the probe port, and the process that answered
        (None when the answer did not go through the app)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            pid = response.getheader("X-Worker-Pid")
            return response.status, int(pid) if pid else None
        finally:
            connection.close()

    def holder(self) -> int | None:
        """The process holding the probe-port role, as the role's file says."""
        (path,) = self.gunicorn.shared_dir.glob(f"*/probe-port-{self.port}.role")
        return Role(path).holder()

    def answering_holder(self, within: float = 10.0, *, other_than: int = 0) -> int:
        """Wait until the probe port answers readiness from the role's holder (one other
        than *other_than*); return the holder."""
        due = time.monotonic() + within
        while True:
            try:
                status, pid = self.probe(timeout=1.0)
                if status == 200 and pid not in (None, other_than) and pid == self.holder():
                    return pid
            except (OSError, ValueError):
                pass
            if time.monotonic() > due:
                raise AssertionError(
                    f"no worker answered the probe port in {within} s:\n{self.gunicorn.output()}"
                )
            time.sleep(0.01)


@pytest.fixture(scope="module", params=CONFIGURATION_PARAMS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProbedServer]:
    configuration: Configuration = request.param
    port = free_port()
    tmp_path = tmp_path_factory.mktemp(configuration.id)
    # A gthread worker takes no more connections than it has threads, so that requests that
    # hold every thread spread over every worker.
    limit = ("--worker-connections", "4", "--keep-alive", "0")
    with gunicorn(
        "probe_port_app:create_app()",
        tmp_path,
        configuration,
        environment={"PROBE_PORT": str(port)},
        arguments=limit if configuration.worker_class == "gthread" else (),
    ) as running:
        running.wait_for_workers(configuration.workers)
        probed = ProbedServer(running, configuration, port)
        probed.answering_holder()
        yield probed


def listening_sockets(port: int) -> list[str]:
    """The inodes of the TCP sockets listening on *port*, from the kernel's tables."""
    inodes = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                    inodes.append(inode)
    return inodes


def processes_with_socket(inode: str, pids: list[int]) -> set[int]:
    """Which of *pids* hold a descriptor of the socket *inode*."""
    holding = set()
    for pid in pids:
        with os.scandir(f"/proc/{pid}/fd") as descriptors:
            for descriptor in descriptors:
                try:
                    if os.readlink(descriptor.path) == f"socket:[{inode}]":
                        holding.add(pid)
                except FileNotFoundError:
                    pass
    return holding


def status_of(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def descriptors_of(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_one_worker_listens_on_the_probe_port_and_answers_every_probe(
    server: ProbedServer,
) -> None:
    master = server.gunicorn.process.pid
    workers = server.gunicorn.workers()
    holder = server.holder()
    answered_by = {server.probe()[1] for _ in range(20)}
    inodes = listening_sockets(server.port)

    assert len(inodes) == 1, "one listening socket, no SO_REUSEPORT group"
    assert holder in workers
    assert answered_by == {holder}
    owners = processes_with_socket(inodes[0], [master, *workers])
    if server.configuration.preload:
        # The master bound it while loading the app and handed it to the workers it forked.
        assert owners == {master, *workers}
    else:
        assert owners == {holder}


def test_the_probe_port_answers_while_every_request_worker_is_busy(
    server: ProbedServer,
) -> None:
    main = server.gunicorn
    threads_per_worker = 4 if server.configuration.worker_class == "gthread" else 1
    workers = main.workers()
    entered_before = len(main.calls("hold"))
    release = main.calls_dir / "release"
    clients: list[threading.Thread] = []

    def hold() -> None:
        main.get("/hold", timeout=60)

    def held() -> dict[int, int]:
        entered = [int(pid) for pid in main.calls("hold")[entered_before:]]
        return {worker: entered.count(worker) for worker in workers}

    slots = len(workers) * threads_per_worker
    try:
        # One request per thread of every worker, and more (one every 0.1 s) if one worker
        # took more than its share before its connection limit stopped it.
        due, more_at = time.monotonic() + 20, 0.0
        while min(held().values()) < threads_per_worker:
            assert time.monotonic() < due, f"workers not all held: {held()}"
            if len(clients) < slots or (time.monotonic() > more_at and len(clients) < 2 * slots):
                clients.append(threading.Thread(target=hold, daemon=True))
                clients[-1].start()
                more_at = time.monotonic() + 0.1
            time.sleep(0.01)

        answers = [server.probe(path, timeout=2.0)[0] for path in ("/live", "/ready", "/startup")]
    finally:
        release.touch()
        for client in clients:
            client.join(30)
        release.unlink()

    assert answers == [200, 200, 200]


def test_half_open_connections_hold_no_thread_and_a_probe_still_answers(
    server: ProbedServer,
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < FLOOD + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, FLOOD + 500), hard))
    holder = server.answering_holder()
    threads_before, descriptors_before = status_of(holder, "Threads"), descriptors_of(holder)
    connections = []
    try:
        for _ in range(FLOOD):
            connection = socket.socket()
            connection.setblocking(False)
            connection.connect_ex(("127.0.0.1", server.port))  # and never sends a byte
            connections.append(connection)
        time.sleep(0.5)  # the holder accepts what the kernel queued
        threads_during, descriptors_during = status_of(holder, "Threads"), descriptors_of(holder)
        status, answered_by = server.probe(timeout=10.0)
    finally:
        for connection in connections:
            connection.close()

    assert (status, answered_by) == (200, holder)
    assert threads_during <= threads_before
    bound = probe_port.WAITING_CONNECTIONS + probe_port.QUEUED_ANSWERS + probe_port.ANSWER_THREADS
    assert descriptors_during <= descriptors_before + bound


def test_a_second_server_with_the_same_probe_port_fails_to_start_naming_the_key(
    server: ProbedServer, tmp_path: Path
) -> None:
    holder = server.holder()
    with gunicorn(
        "probe_port_app:create_app()",
        tmp_path,
        server.configuration,
        environment={"PROBE_PORT": str(server.port)},
        wait=False,
    ) as second:
        returncode = second.process.wait(30)

    assert returncode != 0
    assert f"HEALTHCHECK_PROBE_PORT {server.port} is already in use" in second.output()
    assert [server.probe(path)[0] for path in ("/live", "/ready", "/startup")] == [200] * 3
    assert server.probe()[1] == holder
    assert len(listening_sockets(server.port)) == 1


def test_the_apps_own_port_as_probe_port_fails_to_start_naming_the_key(
    server: ProbedServer, tmp_path: Path
) -> None:
    port = free_port()
    with gunicorn(
        "probe_port_app:create_app()",
        tmp_path,
        server.configuration,
        environment={"PROBE_PORT": str(port)},
        arguments=("--bind", f"127.0.0.1:{port}", "--reuse-port"),
        wait=False,
    ) as second:
        returncode = second.process.wait(30)

    assert returncode != 0
    assert f"HEALTHCHECK_PROBE_PORT {port}" in second.output()


def test_killing_the_holder_moves_the_probe_port_to_another_worker(
    server: ProbedServer, record_property: Callable[[str, object], None]
) -> None:
    holder = server.answering_holder()

    os.kill(holder, signal.SIGKILL)
    killed = time.monotonic()
    successor = server.answering_holder(other_than=holder)
    took = time.monotonic() - killed

    record_property("probe_port_takeover_ms", round(took * 1000))
    print(f"probe port taken over {took * 1000:.0f} ms after its holder was killed")
    assert successor != holder
    assert took < 5.0
    assert len(listening_sockets(server.port)) == 1
