"""A test app served by a real server process (gunicorn or Flask's development server)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

from .services import free_port

APPS = Path(__file__).resolve().parent / "apps"


def get(
    url: str, headers: Mapping[str, str] | None = None, timeout: float = 10.0
) -> tuple[int, str, str]:
    """Status, content type and body of a GET, whatever the status."""
    request = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers["Content-Type"], error.read().decode()


def _command(factory: str, server: str, port: int) -> list[str]:
    if server == "gunicorn":
        return [
            sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
            "--graceful-timeout", "1", f"{factory}()",
        ]  # fmt: skip
    if server == "flask":
        return [
            sys.executable, "-m", "flask", "--app", factory, "run", "--host", "127.0.0.1",
            "--port", str(port), "--no-reload", "--no-debugger",
        ]  # fmt: skip
    raise ValueError(f"unknown server {server!r}")


def _wait_until_answering(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    due = time.monotonic() + 30
    while process.poll() is None:
        try:
            get(url, timeout=1)
        except OSError:
            if time.monotonic() > due:
                raise RuntimeError(
                    f"the server did not answer in 30 s:\n{log.read_text()}"
                ) from None
            time.sleep(0.1)
        else:
            return
    raise RuntimeError(f"the server exited with {process.returncode}:\n{log.read_text()}")


@contextlib.contextmanager
def serve(factory: str, *, server: str, environment: Mapping[str, str], log: Path) -> Iterator[str]:
    """Serve ``module:function`` from ``tests/apps`` on a free loopback port; yield its base URL.

    *server* is ``"gunicorn"`` (one sync worker, so counts are the process's) or ``"flask"``
    (``flask run`` without the reloader). The server's output goes to *log*.
    """
    port = free_port()
    path = os.pathsep.join(filter(None, [str(APPS), os.environ.get("PYTHONPATH")]))
    base = f"http://127.0.0.1:{port}"
    with log.open("wb") as output:
        process = subprocess.Popen(
            _command(factory, server, port),
            env={**os.environ, **environment, "PYTHONPATH": path},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_until_answering(process, base + "/healthz/live", log)
            yield base
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(10)
