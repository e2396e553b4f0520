"""Under a real gunicorn, threaded and multi-process, a hung check cannot hang readiness."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .services import free_port

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
TIMEOUT, DEADLINE = 0.5, 1.0


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]


def get(url: str) -> tuple[int, bytes, float]:
    """Status, body and seconds taken of a GET, whatever the status."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    return status, body, time.monotonic() - started


@pytest.fixture(
    params=[
        pytest.param(["--worker-class", "gthread", "--threads", "4"], id="gthread"),
        pytest.param(["--worker-class", "sync", "--workers", "2"], id="sync-2-workers"),
    ]
)
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    if not GUNICORN.exists():
        pytest.fail(f"gunicorn is not installed at {GUNICORN}; it is in the dev extra")
    port = free_port()
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [str(GUNICORN), "--bind", f"127.0.0.1:{port}", "--chdir", str(ROOT),
             "--graceful-timeout", "1", "--log-level", "warning", *request.param,
             "tests.apps.hung:create_app()"],
            env={"PATH": "/usr/bin:/bin", "HUNG_TIMEOUT": str(TIMEOUT),
                 "HUNG_DEADLINE": str(DEADLINE)},
            stdout=log,
            stderr=log,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if get(f"{url}/healthz/live")[0] == 200:
                        break
                except OSError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"gunicorn did not start:\n{log.read().decode(errors='replace')}")
                time.sleep(0.1)
            yield Server(url, process)
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def stats(server: Server, samples: int = 6) -> dict[int, dict[str, Any]]:
    """The /stats of the workers that answered, by pid (with several workers, any may)."""
    seen: dict[int, dict[str, Any]] = {}
    for _ in range(samples):
        status, body, _ = get(f"{server.url}/stats")
        assert status == 200
        worker = json.loads(body)
        seen[worker["pid"]] = worker
    return seen


def test_readiness_with_a_hung_check_answers_503_timed_out_on_time_repeatedly(
    server: Server,
) -> None:
    for _ in range(12):
        status, body, seconds = get(f"{server.url}/healthz/ready")
        assert status == 503
        [database] = [r for r in json.loads(body)["results"] if r["checker"] == "database"]
        assert database["passed"] is False
        assert database["output"].startswith(f"timed out after {TIMEOUT:g} s")
        assert seconds < DEADLINE + 1.5  # on a busy machine; the check never returns at all

    assert get(f"{server.url}/healthz/live")[0] == 200


def test_hung_check_runs_at_most_twice_per_worker_threads_stay_bounded_and_no_sigalrm(
    server: Server,
) -> None:
    for _ in range(10):
        assert get(f"{server.url}/healthz/ready")[0] == 503
    before = stats(server)

    for _ in range(40):
        assert get(f"{server.url}/healthz/ready")[0] == 503
    after = stats(server)

    for pid, worker in after.items():
        # Its first run was abandoned at the timeout for a second one, which hangs too: while
        # the abandoned one has not returned, no third run starts.
        assert worker["check_calls"] <= 2, worker
        # A worker that had not served readiness before may have started its two runs, and
        # the thread that gets it through start-up (readiness is gated by default).
        assert worker["threads"] <= before.get(pid, worker)["threads"] + 3, (before, after)
        assert worker["alarm_uses"] == []
        assert worker["itimer"] == [0.0, 0.0]
        assert worker["sigalrm_default"] is True
    assert server.process.poll() is None


def test_the_library_source_never_mentions_sigalrm() -> None:
    package = ROOT / "flask_healthcheck"
    offenders = [
        path.name
        for path in package.rglob("*.py")
        if any(word in path.read_text() for word in ("SIGALRM", "signal.alarm", "setitimer"))
    ]
    assert offenders == []
