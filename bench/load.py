"""A small HTTP/1.1 load generator and a timed single-request client.

The load runs in processes of its own (the servers' workers must not share a GIL with it), each
driving its keep-alive connections with a non-blocking selector loop: a connection sends its
next request as soon as its previous answer is complete. Raw sockets and a prepared request keep
the client's cost per request small and the same for every contestant.

:func:`interleaved` measures several servers in short alternating slices, so that a burst of
load elsewhere on the machine falls on every contestant alike; :func:`closed_loop` hammers one.
"""

from __future__ import annotations

import http.client
import multiprocessing
import os
import re
import selectors
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)
_CONNECTION_CLOSE = re.compile(rb"\r\nconnection:\s*close", re.IGNORECASE)
#: Seconds between slices, for the answers in flight at the end of a slice to come back.
SLICE_GAP = 0.1
DRAIN_SECONDS = 2.0

Address = tuple[str, int]


def request_bytes(address: Address, path: str) -> bytes:
    """A GET as a Kubernetes probe sends it, with keep-alive (HTTP/1.1's default)."""
    host, port = address
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n"
    ).encode("ascii")


@dataclass
class LoadResult:
    """Answers completed inside a measured window, by status, and their latencies."""

    duration: float
    connections: int
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    server_cpu: float | None = None  # seconds of the server's workers during the window

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def rps(self) -> float:
        return self.requests / self.duration if self.duration else 0.0

    def percentile(self, fraction: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    def merge(self, other: LoadResult) -> None:
        for status, count in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + count
        self.errors += other.errors
        self.latencies.extend(other.latencies)
        if other.server_cpu is not None:
            self.server_cpu = (self.server_cpu or 0.0) + other.server_cpu

    def summary(self) -> dict[str, object]:
        summary: dict[str, object] = {
            "duration_s": self.duration,
            "connections": self.connections,
            "requests": self.requests,
            "rps": round(self.rps, 1),
            "statuses": {str(status): count for status, count in sorted(self.statuses.items())},
            "errors": self.errors,
            "latency_ms": {
                "p50": round(self.percentile(0.5) * 1000, 3),
                "p99": round(self.percentile(0.99) * 1000, 3),
                "max": round(max(self.latencies, default=float("nan")) * 1000, 3),
            },
        }
        if self.server_cpu is not None and self.requests:
            summary["server_cpu_us_per_request"] = round(self.server_cpu / self.requests * 1e6, 1)
        return summary


def cpu_seconds(pids: tuple[int, ...]) -> float:
    """User plus system CPU time of *pids* so far, from ``/proc/<pid>/stat``."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


class _Connection:
    def __init__(self, address: Address) -> None:
        self.address = address
        self.sock = self._connect()
        self.buffer = bytearray()
        self.sent_at = 0.0
        self.in_flight = False
        self.expected: int | None = None  # total length of the answer, once its head is read

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=5)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        return sock

    def reconnect(self) -> None:
        self.sock.close()
        self.sock = self._connect()
        self.buffer.clear()
        self.expected = None
        self.in_flight = False

    def send(self, payload: bytes) -> None:
        self.sent_at = time.perf_counter()
        self.in_flight = True
        self.sock.sendall(payload)  # a few dozen bytes: the socket buffer takes them

    def complete(self) -> tuple[int, bool] | None:
        """``(status, closes)`` when a whole answer is buffered; it is then dropped from it."""
        if self.expected is None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return None
            match = _CONTENT_LENGTH.search(self.buffer, 0, end)
            self.expected = end + 4 + (int(match.group(1)) if match else 0)
        if len(self.buffer) < self.expected:
            return None
        head_end = self.buffer.find(b"\r\n\r\n")
        status = int(self.buffer[9:12])
        closes = _CONNECTION_CLOSE.search(self.buffer, 0, head_end) is not None
        del self.buffer[: self.expected]
        self.expected = None
        self.in_flight = False
        return status, closes


def _run_slice(connections: list[_Connection], payload: bytes, duration: float) -> LoadResult:
    """Keep every connection busy for *duration*; then wait for the answers still in flight."""
    result = LoadResult(duration=duration, connections=len(connections))
    selector = selectors.DefaultSelector()
    for connection in connections:
        selector.register(connection.sock, selectors.EVENT_READ, connection)
    end = time.perf_counter() + duration
    for connection in connections:
        connection.send(payload)

    def renew(connection: _Connection) -> None:
        selector.unregister(connection.sock)
        connection.reconnect()
        selector.register(connection.sock, selectors.EVENT_READ, connection)

    def receive(connection: _Connection, measuring: bool) -> None:
        try:
            data = connection.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            result.errors += measuring
            renew(connection)
            if measuring:
                connection.send(payload)
            return
        connection.buffer += data
        while (answer := connection.complete()) is not None:
            finished = time.perf_counter()
            status, closes = answer
            if finished <= end:
                result.statuses[status] = result.statuses.get(status, 0) + 1
                result.latencies.append(finished - connection.sent_at)
            if closes:
                renew(connection)
            if finished < end:
                connection.send(payload)

    while (now := time.perf_counter()) < end:
        for key, _ in selector.select(end - now):
            receive(key.data, measuring=True)
    drain_until = time.perf_counter() + DRAIN_SECONDS
    while any(c.in_flight for c in connections) and (now := time.perf_counter()) < drain_until:
        for key, _ in selector.select(drain_until - now):
            receive(key.data, measuring=False)
    for connection in connections:
        if connection.in_flight:  # no answer in time: start the next slice afresh
            renew(connection)
    selector.close()
    return result


@dataclass(frozen=True)
class Target:
    """A server to load: where, which path, and its workers' pids for the CPU figures."""

    address: Address
    path: str
    worker_pids: tuple[int, ...] = ()


def _sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.time()))


def _interleaved_process(
    targets: list[Target],
    connections: int,
    slice_seconds: float,
    cycles: int,
    start_at: float,
    reads_cpu: bool,
) -> list[list[LoadResult]]:
    """One load process: ``results[cycle][target]``, in slices rotating through *targets*.

    Each slice opens its connections and closes them when it ends: an idle connection left
    open would hold a gunicorn sync worker, which waits on it for a request that never comes.
    """
    payloads = [request_bytes(target.address, target.path) for target in targets]
    results = [[LoadResult(slice_seconds, connections) for _ in targets] for _ in range(cycles)]
    slot = slice_seconds + SLICE_GAP
    for cycle in range(cycles):
        shift = cycle % len(targets)
        order = list(range(len(targets)))[shift:] + list(range(len(targets)))[:shift]
        for position, index in enumerate(order):
            _sleep_until(start_at + (cycle * len(targets) + position) * slot)
            pool = [_Connection(targets[index].address) for _ in range(connections)]
            cpu_before = cpu_seconds(targets[index].worker_pids) if reads_cpu else 0.0
            result = _run_slice(pool, payloads[index], slice_seconds)
            if reads_cpu:
                result.server_cpu = cpu_seconds(targets[index].worker_pids) - cpu_before
            results[cycle][index] = result
            for connection in pool:
                connection.sock.close()
    return results


def _interleaved_star(
    arguments: tuple[list[Target], int, float, int, float, bool],
) -> list[list[LoadResult]]:
    return _interleaved_process(*arguments)


def _shares(total: int, processes: int) -> list[int]:
    return [total // processes + (index < total % processes) for index in range(processes)]


def interleaved(
    targets: list[Target],
    *,
    connections: int,
    slice_seconds: float,
    cycles: int,
    processes: int = 2,
) -> list[list[LoadResult]]:
    """``results[cycle][target]``: each cycle loads every target in turn for *slice_seconds*.

    The order rotates from one cycle to the next. Each slice opens *connections* keep-alive
    connections afresh; *processes* share them and stay in step by the wall clock.
    """
    shares = [share for share in _shares(connections, processes) if share]
    start_at = time.time() + 0.2
    jobs = [
        (targets, share, slice_seconds, cycles, start_at, index == 0)
        for index, share in enumerate(shares)
    ]
    with multiprocessing.get_context("fork").Pool(len(jobs)) as pool:
        parts = pool.map(_interleaved_star, jobs)
    merged = [[LoadResult(slice_seconds, connections) for _ in targets] for _ in range(cycles)]
    for part in parts:
        for cycle, row in enumerate(part):
            for index, result in enumerate(row):
                merged[cycle][index].merge(result)
    return merged


def _closed_loop_process(
    arguments: tuple[Address, str, int, float, float],
) -> LoadResult:
    address, path, connections, start_at, duration = arguments
    pool = [_Connection(address) for _ in range(connections)]
    _sleep_until(start_at)
    result = _run_slice(pool, request_bytes(address, path), duration)
    for connection in pool:
        connection.sock.close()
    return result


def closed_loop(
    address: Address,
    path: str,
    *,
    connections: int,
    duration: float,
    processes: int = 2,
) -> LoadResult:
    """Keep *connections* requests in flight on *path* for *duration* seconds, from *processes*."""
    start_at = time.time() + 0.15 + 0.005 * connections / processes
    jobs = [
        (address, path, share, start_at, duration)
        for share in _shares(connections, processes)
        if share
    ]
    with multiprocessing.get_context("fork").Pool(len(jobs)) as pool:
        parts = pool.map(_closed_loop_process, jobs)
    total = LoadResult(duration=duration, connections=connections)
    for part in parts:
        total.merge(part)
    return total


@dataclass
class Answer:
    """One request's outcome: its status (None when the client gave up) and latency."""

    status: int | None
    seconds: float
    body: bytes = b""


def get(address: Address, path: str, *, timeout: float) -> Answer:
    """One timed GET on a new connection; *timeout* bounds each wait on the socket."""
    connection = http.client.HTTPConnection(*address, timeout=timeout)
    started = time.perf_counter()
    try:
        connection.request("GET", path, headers={"Accept": "*/*", "User-Agent": "bench"})
        response = connection.getresponse()
        body = response.read()
        return Answer(response.status, time.perf_counter() - started, body)
    except (TimeoutError, OSError, http.client.HTTPException):
        return Answer(None, time.perf_counter() - started)
    finally:
        connection.close()
