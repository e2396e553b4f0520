"""A test app served by a real gunicorn with several workers: the way users run it.

:func:`gunicorn` starts ``gunicorn`` on a free loopback port with the worker class, the number
of workers and ``--preload`` given, and with the app's shared state in a directory of the test
(``HEALTHCHECK_SHARED_DIR``), so a test can look at it and nothing leaks between tests.
:data:`CONFIGURATIONS` are the four ways the acceptance tests run a server: ``sync`` and
``gthread`` workers, each with and without ``--preload``.

A check of a test app counts its calls with :func:`count_call`, which appends one line to a
file named by the ``CALLS_DIR`` environment variable: the lines of all the workers add up to
the calls of the whole server.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .app_server import get
from .services import free_port

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
UWSGI = Path(sys.executable).parent / "uwsgi"


@dataclass(frozen=True)
class Configuration:
    """How a gunicorn server runs its workers."""

    worker_class: str
    preload: bool
    workers: int = 4

    @property
    def id(self) -> str:
        return f"{self.worker_class}{'-preload' if self.preload else ''}"

    def arguments(self) -> list[str]:
        arguments = ["--worker-class", self.worker_class, "--workers", str(self.workers)]
        if self.worker_class == "gthread":
            arguments += ["--threads", "4"]
        if self.preload:
            arguments.append("--preload")
        return arguments


#: sync and gthread workers, with and without ``--preload``: four workers each.
CONFIGURATIONS = [
    Configuration(worker_class, preload)
    for worker_class in ("sync", "gthread")
    for preload in (False, True)
]
CONFIGURATION_PARAMS = [pytest.param(config, id=config.id) for config in CONFIGURATIONS]


@dataclass
class Gunicorn:
    """A running gunicorn server."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path
    shared_dir: Path
    calls_dir: Path
    port: int
    environment: dict[str, str] = field(default_factory=dict)

    def get(self, path: str, timeout: float = 10.0) -> tuple[int, str, str]:
        """Status, content type and body of a GET of *path*, whatever the status."""
        return get(self.url + path, timeout=timeout)

    def calls(self, check: str) -> list[str]:
        """The lines :func:`count_call` wrote for *check*, from every worker (the process id
        of the worker that made each call)."""
        path = self.calls_dir / check
        return path.read_text().split() if path.exists() else []

    def workers(self) -> list[int]:
        """The process ids of the master's live children (its workers)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except OSError:
            return []

    def wait_for_workers(
        self, count: int, *, exclude: Sequence[int] = (), within: float = 30
    ) -> list[int]:
        """Wait until the master has *count* workers, none of them in *exclude*."""
        due = time.monotonic() + within
        while time.monotonic() < due:
            workers = [pid for pid in self.workers() if pid not in exclude]
            if len(workers) >= count:
                return workers
            time.sleep(0.05)
        raise AssertionError(
            f"gunicorn did not have {count} workers in {within} s:\n{self.output()}"
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def count_call(check: str) -> None:
    """Record one call of *check* from this process (see the module's docs)."""
    directory = os.environ.get("CALLS_DIR")
    if directory:
        with open(os.path.join(directory, check), "a") as calls:
            calls.write(f"{os.getpid()}\n")


@contextlib.contextmanager
def gunicorn(
    factory: str,
    tmp_path: Path,
    configuration: Configuration,
    *,
    environment: Mapping[str, str] | None = None,
    arguments: Sequence[str] = (),
    ready_path: str = "/healthz/live",
    wait: bool = True,
) -> Iterator[Gunicorn]:
    """Serve ``module:factory()`` from ``tests/apps`` under gunicorn; yield the server.

    The server is up once *ready_path* answers (any status). With *wait* false, the server is
    yielded as soon as it is started (a test of a server that must fail to start).
    """
    if not GUNICORN.exists():
        pytest.fail(f"gunicorn is not installed at {GUNICORN}; it is in the dev extra")
    port = free_port()
    shared_dir = tmp_path / "shared"
    calls_dir = tmp_path / "calls"
    calls_dir.mkdir(exist_ok=True)
    log = tmp_path / f"gunicorn-{port}.log"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT),
        "HEALTHCHECK_SHARED_DIR": str(shared_dir),
        "CALLS_DIR": str(calls_dir),
        **(environment or {}),
    }
    command = [
        str(GUNICORN), "--bind", f"127.0.0.1:{port}", "--chdir", str(ROOT),
        "--graceful-timeout", "1", "--log-level", "info", *configuration.arguments(),
        *arguments, f"tests.apps.{factory}",
    ]  # fmt: skip
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Gunicorn(f"http://127.0.0.1:{port}", process, log, shared_dir, calls_dir, port, env)
    try:
        if wait:
            due = time.monotonic() + 30
            while True:
                try:
                    server.get(ready_path, timeout=2)
                    break
                except OSError:
                    pass
                if process.poll() is not None or time.monotonic() > due:
                    pytest.fail(f"gunicorn did not start:\n{server.output()}")
                time.sleep(0.05)
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


@contextlib.contextmanager
def uwsgi(
    module: str,
    tmp_path: Path,
    *,
    lazy_apps: bool,
    processes: int = 4,
    environment: Mapping[str, str] | None = None,
    ready_path: str = "/healthz/live",
) -> Iterator[Gunicorn]:
    """Serve the WSGI module ``tests.apps.<module>`` under uWSGI with a master and
    *processes* workers, the app loaded in the master unless *lazy_apps*; yield the server
    (a :class:`Gunicorn` in all but name: its methods work the same)."""
    if not UWSGI.exists():
        pytest.fail(f"uWSGI is not installed at {UWSGI}; it is in the dev extra")
    port = free_port()
    shared_dir, calls_dir = tmp_path / "shared", tmp_path / "calls"
    calls_dir.mkdir(exist_ok=True)
    log = tmp_path / f"uwsgi-{port}.log"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT),
        "HEALTHCHECK_SHARED_DIR": str(shared_dir),
        "CALLS_DIR": str(calls_dir),
        **(environment or {}),
    }
    command = [
        str(UWSGI), "--http-socket", f"127.0.0.1:{port}", "--master", "--processes",
        str(processes), "--die-on-term", "--need-app", "--disable-logging", "--chdir",
        str(ROOT), "--module", f"tests.apps.{module}", *(["--lazy-apps"] if lazy_apps else []),
    ]  # fmt: skip
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Gunicorn(f"http://127.0.0.1:{port}", process, log, shared_dir, calls_dir, port, env)
    try:
        due = time.monotonic() + 30
        while True:
            try:
                server.get(ready_path, timeout=2)
                break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > due:
                pytest.fail(f"uWSGI did not start:\n{server.output()}")
            time.sleep(0.05)
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)  # uWSGI: stop now
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
