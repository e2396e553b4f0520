"""One server, one health unit: the workers of a real gunicorn server share their checks' runs.

Each configuration (sync and gthread workers, with and without ``--preload``, four workers)
runs one server of ``tests/apps/server_unit.py`` shared by this module's tests.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from .gunicorn_server import CONFIGURATION_PARAMS, Configuration, Gunicorn, gunicorn
from .services import POSTGRES, require

PERIOD, TIMEOUT = 1.0, 0.5


@pytest.fixture(scope="module", params=CONFIGURATION_PARAMS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gunicorn]:
    configuration: Configuration = request.param
    environment = {
        "UNIT_PERIOD": str(PERIOD),
        "UNIT_TIMEOUT": str(TIMEOUT),
        "UNIT_DATABASE_URL": require(POSTGRES),
    }
    tmp_path = tmp_path_factory.mktemp(configuration.id)
    with gunicorn(
        "server_unit:create_app()", tmp_path, configuration, environment=environment
    ) as running:
        running.wait_for_workers(configuration.workers)
        # Started: the database's first background result is in, so the tests begin from a
        # ready server (a loaded machine may take a while to connect to PostgreSQL).
        due = time.monotonic() + 30
        while running.get("/healthz/ready")[0] != 200:
            assert time.monotonic() < due, running.get("/healthz/ready")[2]
            time.sleep(0.1)
        yield running


def flood(server: Gunicorn, path: str, seconds: float, clients: int = 8) -> list[int]:
    """Statuses of readiness requests from *clients* threads for *seconds*; the body of an
    answer other than 200 goes to the log, to tell which check failed."""
    statuses: list[int] = []
    due = time.monotonic() + seconds

    def client() -> None:
        while time.monotonic() < due:
            status, _, body = server.get(path)
            statuses.append(status)
            if status != 200:
                print(f"{status}: {body}")

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def test_a_flood_of_readiness_probes_calls_the_check_once_per_ttl_for_the_whole_server(
    server: Gunicorn,
) -> None:
    server.get("/healthz/ready")  # a result to start from
    before = len(server.calls("flooded"))
    started = time.monotonic()
    statuses = flood(server, "/healthz/ready", 2.0)
    elapsed = time.monotonic() - started
    calls = server.calls("flooded")[before:]

    assert len(statuses) > 50
    assert set(statuses) == {200}
    # success_ttl=1: one call a second, whichever of the four workers is asked; one more for
    # a TTL that ends just as the flood starts.
    assert len(calls) <= int(elapsed) + 2, calls


def test_every_worker_answers_every_request_200_while_the_database_is_healthy(
    server: Gunicorn,
) -> None:
    workers: set[str] = set()
    for _ in range(40):
        status, _, body = server.get("/healthz/ready")
        assert status == 200, body
        workers.add(server.get("/pid")[2])
    assert len(workers) >= 2  # the answers came from several workers


def _holder(server: Gunicorn) -> int:
    roles = list(server.shared_dir.glob("*/scheduler-*.role"))
    assert len(roles) == 1, roles
    text = roles[0].read_text().strip()
    return int(text) if text.isdigit() else 0


def _background(server: Gunicorn) -> dict[str, object]:
    body = json.loads(server.get("/healthz/background")[2])
    results = body["results"]
    assert isinstance(results, list)
    return dict(results[0])


def test_one_worker_runs_the_background_checks_and_another_takes_over_when_it_dies(
    server: Gunicorn,
) -> None:
    holder = _holder(server)
    assert holder in server.workers()
    deadline = time.monotonic() + 5
    while _background(server).get("passed") is not True and time.monotonic() < deadline:
        time.sleep(0.1)
    background = _background(server)
    assert background["output"] == f"answered in process {holder}"

    os.kill(holder, signal.SIGKILL)
    killed = time.monotonic()
    while True:
        successor = _holder(server)
        if successor not in (0, holder) and successor in server.workers():
            break
        assert time.monotonic() - killed < PERIOD + 2, server.output()
        time.sleep(0.05)
    # Within one period (and a second to look) another worker holds the role and runs them.
    assert time.monotonic() - killed <= PERIOD + 1.5
    deadline = time.monotonic() + PERIOD + TIMEOUT + 2
    while _background(server)["output"] != f"answered in process {successor}":
        assert time.monotonic() < deadline, _background(server)
        time.sleep(0.05)


def test_a_hung_background_run_recovers_within_period_plus_timeout_of_the_dependency(
    server: Gunicorn,
) -> None:
    hang = server.calls_dir / "hang"
    hang.touch()
    try:
        deadline = time.monotonic() + PERIOD + TIMEOUT + 3
        while "timed out" not in str(_background(server)["output"]):
            assert time.monotonic() < deadline, _background(server)
            time.sleep(0.05)
    finally:
        hang.unlink()
    back = time.monotonic()
    while _background(server)["passed"] is not True:
        # The run in flight hangs for 30 s; the next one starts on schedule all the same.
        assert time.monotonic() - back < PERIOD + TIMEOUT + 1.5, _background(server)
        time.sleep(0.05)
    status, _, body = server.get("/healthz/ready")
    assert status == 200, body


def _history_by_worker(server: Gunicorn, check: str, workers: int) -> dict[int, dict[str, Any]]:
    """``{path}/history?check=CHECK`` as answered by each of *workers* different workers:
    eight clients ask at once until that many have answered (or 400 answers came)."""
    answers: dict[int, dict[str, Any]] = {}
    lock = threading.Lock()

    def client() -> None:
        for _ in range(50):
            with lock:
                if len(answers) >= workers:
                    return
            url = f"{server.url}/healthz/history?check={check}"
            with urllib.request.urlopen(url, timeout=10) as answer:
                pid = int(answer.headers["X-Worker-Pid"])
                document = json.loads(answer.read())
            with lock:
                answers.setdefault(pid, document["checks"][check])

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_every_worker_answers_the_history_of_the_whole_server(server: Gunicorn) -> None:
    flood(server, "/healthz/ready", 1.5)
    # Asking for the history runs nothing: once the flood's last run is stored, every worker
    # tells of every call of the server, whichever worker made it.
    due = time.monotonic() + 10
    while True:
        calls = server.calls("flooded")
        answers = _history_by_worker(server, "flooded", 2)
        runs = {pid: history["runs"] for pid, history in answers.items()}
        if set(runs.values()) == {min(len(calls), 60)} or time.monotonic() > due:
            break
        time.sleep(0.1)  # a run was still going on a loaded machine

    assert len(answers) >= 2, answers
    assert set(runs.values()) == {min(len(calls), 60)}, (runs, len(calls))
    assert server.calls("flooded") == calls
    for history in answers.values():
        assert history["flaps"] == 0
        assert {sample["status"] for sample in history["samples"]} == {"pass"}
    # The background check runs in one worker only, and the others show its runs too.
    for pid, history in _history_by_worker(server, "database", 2).items():
        assert history["runs"] >= 1, (pid, history)
