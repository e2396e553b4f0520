"""gunicorn servers for the contestants, all started with the same settings."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from bench.load import get

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


@dataclass(frozen=True)
class GunicornSettings:
    """The command-line settings every contestant's server gets."""

    workers: int = 2
    worker_class: str = "gthread"
    threads: int = 4
    keepalive: int = 5
    timeout: int = 30
    graceful_timeout: int = 1
    #: Load the app in the master before forking (``--preload``), or in each worker.
    preload: bool = True

    def arguments(self) -> list[str]:
        return [
            "--workers", str(self.workers),
            "--worker-class", self.worker_class,
            "--threads", str(self.threads),
            "--keep-alive", str(self.keepalive),
            "--timeout", str(self.timeout),
            "--graceful-timeout", str(self.graceful_timeout),
            *(["--preload"] if self.preload else []),
            "--log-level", "warning",
        ]  # fmt: skip

    def describe(self) -> str:
        threads = "1 thread" if self.threads == 1 else f"{self.threads} threads"
        return (
            f"{self.workers} workers, worker class {self.worker_class}, {threads}, "
            f"keep-alive {self.keepalive} s, timeout {self.timeout} s, "
            f"{'--preload' if self.preload else 'no --preload'}, no access log"
        )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses; the fields after it do not.
    return int(stat.rsplit(")", 1)[1].split()[1])


def thread_count(pid: int) -> int | None:
    """The ``Threads:`` line of ``/proc/<pid>/status``; None once the process is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return None


class Server:
    """One gunicorn master serving one contestant's app for one scenario."""

    def __init__(
        self,
        module: str,
        scenario: str,
        settings: GunicornSettings,
        log_dir: Path,
        environment: dict[str, str] | None = None,
        *,
        library: Path | None = None,
        label: str | None = None,
    ) -> None:
        """*library*, a directory holding a ``flask_healthcheck`` package, is imported instead
        of the working tree's (see :mod:`bench.libraries`); *label* tells apart the logs of
        servers of one module and scenario."""
        self.module = module
        self.scenario = scenario
        self.settings = settings
        self.port = free_port()
        name = label or f"{module.rsplit('.', 1)[-1]}-{scenario}"
        self.log_path = log_dir / f"{name}.log"
        self._environment = environment or {}
        # gunicorn puts its --chdir first on sys.path, before PYTHONPATH, which finds bench/.
        self._directory = library or ROOT
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> tuple[str, int]:
        return HOST, self.port

    def start(self) -> None:
        environment = {
            **os.environ,
            **self._environment,
            "BENCH_SCENARIO": self.scenario,
            "PYTHONPATH": str(ROOT),
        }
        command = [
            sys.executable, "-m", "gunicorn",
            "--bind", f"{HOST}:{self.port}",
            "--chdir", str(self._directory),
            "--error-logfile", str(self.log_path),
            *self.settings.arguments(),
            f"{self.module}:create_app()",
        ]  # fmt: skip
        self._process = subprocess.Popen(
            command,
            env=environment,
            cwd=self._directory,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until every worker is forked and the server answers HTTP."""
        due = time.monotonic() + timeout
        while time.monotonic() < due:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"gunicorn for {self.module} exited; see {self.log_path}")
            if len(self.worker_pids()) == self.settings.workers:
                answer = get(self.address, "/__bench_up", timeout=1.0)
                if answer.status is not None:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"gunicorn for {self.module} did not start in {timeout} s")

    def worker_pids(self) -> list[int]:
        if self._process is None:
            return []
        master = self._process.pid
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit() and _parent_of(int(entry)) == master:
                pids.append(int(entry))
        return sorted(pids)

    def thread_counts(self) -> dict[int, int]:
        counts = {pid: thread_count(pid) for pid in self.worker_pids()}
        return {pid: count for pid, count in counts.items() if count is not None}

    def interrupt(self) -> None:
        """Ask for a quick shutdown (SIGINT): the workers stop without finishing their requests."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)

    def stop(self) -> None:
        """Quick shutdown; the process group is killed if it lingers."""
        process = self._process
        if process is None:
            return
        self._process = None
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        # Workers stuck in a hung check may outlive their master by a moment.
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


@contextmanager
def serving(servers: list[Server]) -> Iterator[list[Server]]:
    """Start *servers* together, wait for all of them, and stop them all on the way out."""
    try:
        for server in servers:
            server.start()
        for server in servers:
            server.wait_ready()
        time.sleep(0.2)  # one worker answered; let the others reach their accept loops too
        yield servers
    finally:
        for server in servers:
            server.interrupt()
        for server in servers:
            server.stop()
