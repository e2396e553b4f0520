"""Background checks in processes forked from the one that loaded the app (gunicorn --preload)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

from .services import free_port

APPS = Path(__file__).resolve().parent / "apps"


def ready(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def test_workers_forked_while_a_background_run_is_in_flight_are_not_stuck_on_it(
    tmp_path: Path,
) -> None:
    port = free_port()
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2",
             "--preload", "--chdir", str(APPS), "preload_app:create_app()"],
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        master = psutil.Process(server.pid)
        due = time.monotonic() + 30
        while len(master.children()) < 2 and time.monotonic() < due:
            time.sleep(0.1)
        workers = {child.pid for child in master.children()}
        assert len(workers) == 2, log.read_text()

        answered: dict[int, int] = {}  # worker pid: status of its latest readiness answer
        due = time.monotonic() + 20
        while time.monotonic() < due:
            status, body = ready(f"http://127.0.0.1:{port}/healthz/ready")
            results = body["results"]
            assert isinstance(results, list)
            output = str(results[-1]["output"])
            if output.startswith("answered in process "):
                answered[int(output.rsplit(" ", 1)[1])] = status
            if answered and all(code == 200 for code in answered.values()):
                break
            time.sleep(0.05)

        # One worker runs the check for the server (its pid in the output), never the master,
        # and no worker is stuck on the run it inherited from the master: every answer passes.
        assert answered, log.read_text()
        assert set(answered) <= workers, (answered, workers, log.read_text())
        for _ in range(20):
            status, body = ready(f"http://127.0.0.1:{port}/healthz/ready")
            assert status == 200, body
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)
