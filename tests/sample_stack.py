"""The sample app deployed as in production, for the end-to-end and soak tests.

gunicorn serves ``sample_app:create_app()`` with two threaded workers, and a real Celery worker
consumes from RabbitMQ. Every dependency sits where the test can take it away without touching
the shared services: PostgreSQL and RabbitMQ behind :class:`~tests.services.TcpProxy`, Redis a
:class:`~tests.services.PrivateRedis`, RabbitMQ in a virtual host of the test's own (a ping
reaches every worker of a virtual host), PostgreSQL in a database of the test's own.

The web processes run with short TTLs and timeouts so that faults show, and clear, in seconds;
the bounds the tests assert are derived from them with generous slack for a busy machine.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import psycopg
from psycopg import sql

from .sample_env import SAMPLE_VARIABLES
from .services import (
    POSTGRES,
    RABBITMQ,
    PrivateRedis,
    TcpProxy,
    free_port,
    rabbitmq_vhost,
    require,
    tcp_proxy,
)

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

#: The web processes' settings: each check may take 2.5 s, a request waits 3.5 s at most, and
#: results are reused for 1 s, passing or failing. The check timeout is generous because the
#: tests assert that an outage names its dependency and no other: on a two-core machine that
#: the benchmark's load generators saturate meanwhile, a Redis PING once took over 1 s, and
#: every healthy dependency then rightly said "timed out" (CI, stop 16).
TIMEOUT = 2.5
DEADLINE = 3.5
SUCCESS_TTL = 1.0
FAILED_TTL = 1.0

#: Seconds added to every bound for a two-core machine shared with other test runs.
SLACK = 3.0
#: A fault shows within one probe period: the last passing result's TTL, one run of the
#: checks to the request's deadline, and the slack.
PROBE_PERIOD = SUCCESS_TTL + DEADLINE + SLACK
#: A recovery shows as fast: the failed result's TTL, one run, the slack. The sample app sets
#: no failure tolerance (``recover_after``), so one passing run is enough.
RECOVERY_WITHIN = FAILED_TTL + DEADLINE + SLACK
#: The longest any probe answer may take: readiness waits for its checks up to the deadline.
PROBE_BUDGET = DEADLINE + 4.0
#: How long a client waits before it calls the answer lost (longer than the budget, so that
#: a slow answer is measured rather than cut off).
CLIENT_TIMEOUT = 3 * PROBE_BUDGET
#: Seconds between two polls of a test waiting for a status.
POLL_INTERVAL = 0.2

WEB_PROCESSES = 2
WEB_THREADS = 4
#: PostgreSQL ``application_name`` of the web processes' and the worker's connections.
WEB_APPLICATION = "e2e-web"
WORKER_APPLICATION = "e2e-worker"

#: gunicorn's access log: which process (``<pid>``) answered which path with which status.
ACCESS_FORMAT = "%(p)s %(U)s %(s)s"

PATHS = {"ready": "/healthz/ready", "live": "/healthz/live", "report": "/healthz"}


# -- answers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """One probe request: when it started (``time.monotonic()``), what came back, how fast."""

    endpoint: str
    started: float
    elapsed: float
    status: int | None = None
    body: str = ""
    error: str | None = None

    @property
    def problem(self) -> str | None:
        """Why this answer is a failed request, or None: an error, a status other than 200 or
        503 (liveness: other than 200), or an answer slower than :data:`PROBE_BUDGET`."""
        if self.error is not None:
            return f"no answer: {self.error}"
        if self.status not in (200, 503):
            return f"status {self.status}: {self.body[:300]}"
        if self.endpoint == "live" and self.status != 200:
            return f"liveness answered {self.status}: {self.body[:300]}"
        if self.elapsed > PROBE_BUDGET:
            return f"answered in {self.elapsed:.1f} s, over the budget of {PROBE_BUDGET:g} s"
        return None

    def json(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.body)
        return body

    def results(self) -> dict[str, dict[str, Any]]:
        return {result["checker"]: result for result in self.json()["results"]}

    def failing(self) -> dict[str, str]:
        """The failing checks of the report, with their output."""
        return {
            name: result["output"]
            for name, result in self.results().items()
            if not result["passed"]
        }

    def __str__(self) -> str:
        outcome = self.error if self.error is not None else self.status
        return f"{self.endpoint} at {self.started:.1f}: {outcome} in {self.elapsed:.2f} s"


def probe(base_url: str, endpoint: str, timeout: float = CLIENT_TIMEOUT) -> Answer:
    """GET one of :data:`PATHS`; errors are part of the answer, not raised."""
    started = time.monotonic()
    request = urllib.request.Request(base_url + PATHS[endpoint])
    try:
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, body = response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            with error:
                status, body = error.code, error.read().decode()
    except (OSError, ValueError) as exc:
        return Answer(endpoint, started, time.monotonic() - started, error=repr(exc))
    return Answer(endpoint, started, time.monotonic() - started, status, body)


class ProbeTraffic:
    """Threads that probe the endpoints without pause and keep every answer, for the test to
    check that none of them failed (:attr:`Answer.problem`)."""

    def __init__(
        self,
        base_url: str,
        endpoints: tuple[str, ...] = tuple(PATHS),
        *,
        threads_per_endpoint: int = 1,
        pause: float = 0.1,
    ) -> None:
        self.base_url = base_url
        self.pause = pause
        self.answers: list[Answer] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._threads = [
            threading.Thread(target=self._probe, args=(endpoint,), name=f"probe-{endpoint}")
            for endpoint in endpoints
            for _ in range(threads_per_endpoint)
        ]

    def __enter__(self) -> ProbeTraffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopped.set()
        for thread in self._threads:
            thread.join(CLIENT_TIMEOUT + 5)

    def _probe(self, endpoint: str) -> None:
        while not self._stopped.is_set():
            answer = probe(self.base_url, endpoint)
            with self._lock:
                self.answers.append(answer)
            self._stopped.wait(self.pause)

    def failures(self) -> list[str]:
        with self._lock:
            answers = list(self.answers)
        return [f"{answer}: {answer.problem}" for answer in answers if answer.problem]

    def summary(self) -> str:
        """Answers per endpoint and status, and the slowest answer of each endpoint."""
        with self._lock:
            answers = list(self.answers)
        counts = Counter((answer.endpoint, answer.status) for answer in answers)
        parts = []
        for endpoint in PATHS:
            mine = [answer for answer in answers if answer.endpoint == endpoint]
            if not mine:
                continue
            statuses = ", ".join(
                f"{count} x {status}"
                for (name, status), count in sorted(counts.items(), key=str)
                if name == endpoint
            )
            slowest = max(answer.elapsed for answer in mine)
            parts.append(f"{endpoint}: {statuses} (slowest {slowest:.2f} s)")
        return "; ".join(parts)


def wait_for(predicate: Callable[[], bool], seconds: float, what: str) -> float:
    """Poll *predicate* until it holds; return the seconds it took, or fail saying *what*."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > seconds:
            raise AssertionError(f"{what}: not within {seconds:g} s")
        time.sleep(POLL_INTERVAL)
    return time.monotonic() - started


# -- PostgreSQL ---------------------------------------------------------------------------


def _server() -> str:
    return f"postgresql://postgres@{POSTGRES.host}:{POSTGRES.port}"


@contextlib.contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """A database of its own on the real PostgreSQL, dropped afterwards; yields its name."""
    require(POSTGRES)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{_server()}/postgres", autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with psycopg.connect(f"{_server()}/postgres", autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def backends(database: str, application: str | None = None) -> list[int]:
    """Process ids of the connections to *database* (of *application* only, when given)."""
    query = (
        "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
        " AND (%s::text IS NULL OR application_name = %s) ORDER BY pid"
    )
    with psycopg.connect(f"{_server()}/postgres", autocommit=True) as connection:
        rows = connection.execute(query, (database, application, application)).fetchall()
    return [int(pid) for (pid,) in rows]


def terminate_backends(database: str, application: str) -> list[int]:
    """``pg_terminate_backend`` every connection of *application* to *database*; their pids."""
    # In the select list, not the WHERE clause: there the planner may call it on any row first.
    query = (
        "SELECT pid FROM (SELECT pid, pg_terminate_backend(pid) AS terminated"
        " FROM pg_stat_activity WHERE datname = %s AND application_name = %s) AS killed"
        " WHERE terminated"
    )
    with psycopg.connect(f"{_server()}/postgres", autocommit=True) as connection:
        rows = connection.execute(query, (database, application)).fetchall()
    return [int(pid) for (pid,) in rows]


# -- processes ----------------------------------------------------------------------------


def _stop_group(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM to the process group of *process*; SIGKILL to what is left of it after
    *timeout* seconds, or once *process* has exited."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)


def _no_control_socket() -> list[str]:
    """gunicorn 27's control socket is one path per user (``~/.gunicorn/gunicorn.ctl``), which
    every gunicorn of concurrent test runs would take from the others; no test uses it."""
    major = int(importlib.metadata.version("gunicorn").split(".")[0])
    return ["--no-control-socket"] if major >= 27 else []


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class Stack:
    """The deployed sample app and the dependencies the test controls."""

    directory: Path
    database: str
    queue: str
    postgres: TcpProxy
    redis: PrivateRedis
    broker: TcpProxy
    web_environment: dict[str, str]
    worker_environment: dict[str, str]
    base_url: str = ""
    gunicorn: subprocess.Popen[bytes] | None = None
    worker: subprocess.Popen[bytes] | None = None
    workers_started: int = 0

    @property
    def gunicorn_log(self) -> Path:
        return self.directory / "gunicorn.log"

    @property
    def access_log(self) -> Path:
        return self.directory / "access.log"

    @property
    def readiness_file(self) -> Path:
        return self.directory / "worker.ready"

    def logs(self) -> str:
        """The end of the server's and the worker's logs, for failure messages."""
        worker_log = self.directory / f"worker-{self.workers_started}.log"
        return f"--- gunicorn ---\n{_tail(self.gunicorn_log)}\n--- worker ---\n{_tail(worker_log)}"

    # -- gunicorn

    def start_web(self) -> None:
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        with self.gunicorn_log.open("ab") as log:
            self.gunicorn = subprocess.Popen(
                [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--chdir", str(ROOT),
                 "--workers", str(WEB_PROCESSES), "--worker-class", "gthread",
                 "--threads", str(WEB_THREADS), "--graceful-timeout", "2",
                 "--access-logfile", str(self.access_log), "--access-logformat", ACCESS_FORMAT,
                 *_no_control_socket(), "sample_app:create_app()"],
                cwd=ROOT,
                env=self.web_environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def web_processes(self) -> list[psutil.Process]:
        """gunicorn's worker processes (not its master)."""
        assert self.gunicorn is not None
        return psutil.Process(self.gunicorn.pid).children()

    def access_mark(self) -> int:
        """A mark in gunicorn's access log: :meth:`answered_since` reads the lines after it."""
        return len(self._access_lines())

    def _access_lines(self) -> list[str]:
        try:
            return self.access_log.read_text().splitlines()
        except FileNotFoundError:
            return []

    def answered_since(self, mark: int) -> list[tuple[int, str, int]]:
        """``(pid, path, status)`` of each answer logged after *mark*, in order."""
        answered = []
        for line in self._access_lines()[mark:]:
            pid, path, status = line.split()
            answered.append((int(pid.strip("<>")), path, int(status)))
        return answered

    def every_process_answered(self, mark: int, endpoint: str, status: int) -> bool:
        """True when each web process has answered *endpoint* with *status* since *mark*."""
        assert self.gunicorn is not None
        if self.gunicorn.poll() is not None:
            raise AssertionError(f"gunicorn exited with {self.gunicorn.returncode}\n{self.logs()}")
        pids = {process.pid for process in self.web_processes()}
        answered = set(self.answered_since(mark))
        return len(pids) == WEB_PROCESSES and all(
            (pid, PATHS[endpoint], status) in answered for pid in pids
        )

    def wait_until_ready(self, seconds: float = 60.0) -> None:
        """Wait until each web process has answered readiness and liveness with 200.

        Each process passes its start-up gate by itself, once it has been asked: a process that
        no request reached yet would rightly answer liveness 503 "starting" in the middle of a
        test. gunicorn's access log tells which process answered.
        """

        def ready() -> bool:
            for endpoint in ("ready", "live"):
                probe(self.base_url, endpoint, timeout=PROBE_BUDGET)
            return self.every_process_answered(0, "ready", 200) and self.every_process_answered(
                0, "live", 200
            )

        try:
            wait_for(ready, seconds, "the app did not get ready")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.logs()}") from None

    # -- the Celery worker

    def start_worker(self, seconds: float = 60.0) -> None:
        """Start a Celery worker and return once it consumes (its readiness file exists)."""
        assert self.worker is None or self.worker.poll() is not None, "a worker is running"
        self.readiness_file.unlink(missing_ok=True)
        self.workers_started += 1
        name = f"e2e-{uuid.uuid4().hex[:8]}@%h"
        log_path = self.directory / f"worker-{self.workers_started}.log"
        with log_path.open("wb") as log:
            self.worker = subprocess.Popen(
                [str(BIN / "celery"), "-A", "sample_app.worker", "worker", "--pool", "solo",
                 "-n", name, "-Q", self.queue, "--without-gossip", "--without-mingle",
                 "--without-heartbeat", "--loglevel", "INFO"],
                cwd=ROOT,
                env=self.worker_environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        worker = self.worker

        def consuming() -> bool:
            if worker.poll() is not None:
                raise AssertionError(f"the worker exited with {worker.returncode}\n{self.logs()}")
            return self.readiness_file.exists()

        wait_for(consuming, seconds, "the Celery worker did not start consuming")

    def stop_worker(self) -> None:
        """SIGTERM to the worker (a warm shutdown); returns once it has exited."""
        if self.worker is not None:
            _stop_group(self.worker, timeout=30)

    def close(self) -> None:
        if self.gunicorn is not None:
            _stop_group(self.gunicorn, timeout=15)
        if self.worker is not None:
            # An idle worker notices SIGTERM only when its event loop wakes up, up to 10 s later
            # (kombu's longest poll); nothing here needs its warm shutdown.
            _stop_group(self.worker, timeout=2)


@contextlib.contextmanager
def sample_stack(directory: Path, database: str, vhost: str) -> Iterator[Stack]:
    """Deploy the sample app on *database* and *vhost*, with its worker; torn down afterwards.

    The web processes reach PostgreSQL and RabbitMQ through proxies and use a private Redis;
    the worker reaches PostgreSQL and RabbitMQ directly, so that taking the broker away from
    the app leaves the worker consuming.
    """
    require(RABBITMQ)
    queue = f"e2e-{uuid.uuid4().hex[:12]}"
    base = {
        key: value
        for key, value in os.environ.items()
        if key not in SAMPLE_VARIABLES and not key.startswith("HEALTHCHECK_")
    }
    settings = {
        "CELERY_QUEUE": queue,
        "CELERY_WORKERS_REQUIRED": "1",
        "SAMPLE_INSTANCE_PATH": str(directory / "instance"),
        "HEALTHCHECK_TIMEOUT": json.dumps(TIMEOUT),
        "HEALTHCHECK_DEADLINE": json.dumps(DEADLINE),
        "HEALTHCHECK_SUCCESS_TTL": json.dumps(SUCCESS_TTL),
        "HEALTHCHECK_FAILED_TTL": json.dumps(FAILED_TTL),
        # The tests tell which process answered what from gunicorn's access log.
        "HEALTHCHECK_LOG_PROBES": "true",
    }
    pg = f"postgresql://postgres@{POSTGRES.host}"
    with contextlib.ExitStack() as resources:
        postgres = resources.enter_context(tcp_proxy(POSTGRES))
        broker = resources.enter_context(tcp_proxy(RABBITMQ))
        redis = PrivateRedis()
        resources.callback(redis.close)
        redis.start()
        stack = Stack(
            directory=directory,
            database=database,
            queue=queue,
            postgres=postgres,
            redis=redis,
            broker=broker,
            web_environment={
                **base,
                **settings,
                "DATABASE_URL": f"{pg}:{postgres.port}/{database}"
                f"?application_name={WEB_APPLICATION}",
                "REDIS_URL": redis.url,
                "CELERY_BROKER_URL": f"amqp://guest:guest@127.0.0.1:{broker.port}/{vhost}",
            },
            worker_environment={
                **base,
                **settings,
                "DATABASE_URL": f"{pg}:{POSTGRES.port}/{database}"
                f"?application_name={WORKER_APPLICATION}",
                "REDIS_URL": redis.url,
                "CELERY_BROKER_URL": f"amqp://guest:guest@127.0.0.1:{RABBITMQ.port}/{vhost}",
                "HEALTHCHECK_CELERY_READINESS_FILE": str(directory / "worker.ready"),
                "HEALTHCHECK_CELERY_LIVENESS_FILE": str(directory / "worker.live"),
            },
        )
        resources.callback(stack.close)
        # The worker first: it applies the migrations, and the app's readiness needs it.
        stack.start_worker()
        stack.start_web()
        stack.wait_until_ready()
        yield stack


@contextlib.contextmanager
def sample_services(prefix: str) -> Iterator[tuple[str, str]]:
    """A database and a RabbitMQ virtual host of their own: ``(database, vhost)``."""
    with postgres_database(prefix) as database, rabbitmq_vhost(prefix) as vhost:
        yield database, vhost
