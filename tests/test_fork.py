"""The library in processes forked from the one that loaded the app (gunicorn ``--preload``,
``multiprocessing``): background checks run again in each worker, and nothing a thread of the
parent held at the fork (a lock, a run or a request in flight, a connection) stays in the way."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil

from flask_healthcheck.availability import Availability
from flask_healthcheck.clock import ManualClock
from flask_healthcheck.config import Settings
from flask_healthcheck.endpoints import Endpoint
from flask_healthcheck.events import Events, StatusChange
from flask_healthcheck.lifecycle import Lifecycle

from .services import RABBITMQ, REDIS, free_port, require

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


# -- what the library keeps in a process, in a child forked while a thread holds it ---------------
#
# Each test holds a lock of the library in a thread of this process, forks, and has the child use
# what the lock guards. A thread does not survive a fork: without the library's fork hooks the
# child would wait for the lock for ever. The child gives itself a few seconds (a watchdog thread
# reports a deadlock and ends it) and reports through a pipe; this process waits a little longer
# and kills a child that reported nothing (its fork hooks hung).

CHILD_SECONDS = 10.0


def in_child(action: Callable[[], object]) -> object:
    """Run *action* in a process forked from this one; return what it returned (as JSON)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running the parent's clean-ups
        os.close(read_end)

        def report(outcome: dict[str, object]) -> None:
            os.write(write_end, (json.dumps(outcome) + "\n").encode())
            os._exit(0)

        watchdog = threading.Timer(CHILD_SECONDS, report, args=({"deadlocked": True},))
        watchdog.daemon = True
        watchdog.start()
        try:
            report({"value": action()})
        except BaseException as exc:
            report({"error": repr(exc)})
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        answered, _, _ = select.select([pipe], [], [], CHILD_SECONDS + 30)
        line = pipe.readline() if answered else b""
    if not line:
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    assert line, "the child hung in the fork hooks: it never answered"
    outcome = json.loads(line)
    assert "deadlocked" not in outcome, "the child deadlocked"
    assert "error" not in outcome, outcome["error"]
    return outcome["value"]


@contextlib.contextmanager
def held(*locks: threading.Lock) -> Iterator[None]:
    """Hold *locks* in another thread of this process while the block runs."""
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:
        with contextlib.ExitStack() as stack:
            for lock in locks:
                stack.enter_context(lock)
            taken.set()
            release.wait(60)

    holder = threading.Thread(target=hold, name="holder", daemon=True)
    holder.start()
    assert taken.wait(10)
    try:
        yield
    finally:
        release.set()
        holder.join(10)


def test_availability_in_a_child_forked_while_its_lock_is_held() -> None:
    availability = Availability()
    availability.record_pass("database")

    def child() -> object:
        availability.record_pass("cache")
        return availability.not_yet_passed(["database", "cache", "queue"])

    with held(availability._lock):
        assert in_child(child) == ["queue"]


def test_a_child_forked_before_the_server_started_reads_the_latch_at_once(
    tmp_path: Path,
) -> None:
    latch = tmp_path / "started"
    availability = Availability(ManualClock())  # its clock never reaches the next look
    availability.share_latch(latch)
    assert availability.started is False
    latch.write_text("1\n")  # another worker latched it meanwhile

    assert in_child(lambda: availability.started) is True
    assert availability.started is False  # the parent looks again only when due


def test_events_in_a_child_forked_while_their_lock_is_held() -> None:
    heard: list[StatusChange] = []
    events = Events([heard.append], [])

    def child() -> object:
        events.answered(Endpoint.READY, 503, False, lambda: "failing: database")
        return [(change.name, change.passed) for change in heard]

    with held(events._lock):
        assert in_child(child) == [["ready", False]]


def test_lifecycle_in_a_child_forked_while_its_lock_is_held() -> None:
    settings = dataclasses.replace(Settings(), max_in_flight=2)
    lifecycle = Lifecycle(settings, Availability())

    def child() -> object:
        lifecycle.request_finished(lifecycle.request_started())
        load = lifecycle.load_result()
        return load is not None and load.passed

    with held(lifecycle._lock):
        assert in_child(child) is True


def test_a_child_has_no_request_in_flight_of_its_parent() -> None:
    clock = ManualClock()
    settings = dataclasses.replace(Settings(), request_watchdog=1.0)
    lifecycle = Lifecycle(settings, Availability(clock), clock)
    lifecycle.request_started()  # a request of this process that runs on and on
    clock.advance(5)
    [parents] = lifecycle.liveness_results()
    assert parents.passed is False

    def child() -> object:
        [requests] = lifecycle.liveness_results()
        return requests.passed

    assert in_child(child) is True  # that request's thread stayed behind in the parent


def test_a_child_forked_while_its_parent_drains_is_not_draining() -> None:
    # Everything runs in a child of its own: the drain handler takes over SIGTERM there.
    def draining_parent() -> object:
        settings = dataclasses.replace(Settings(), drain_seconds=30.0)
        availability = Availability()
        lifecycle = Lifecycle(settings, availability)
        lifecycle.install_drain_handler()
        os.kill(os.getpid(), signal.SIGTERM)
        assert availability.readiness.reason == "draining"

        def grandchild() -> object:
            ready_at_fork = availability.readiness.available
            os.kill(os.getpid(), signal.SIGTERM)  # its own SIGTERM: a drain of its own
            return [ready_at_fork, availability.readiness.reason]

        return in_child(grandchild)

    assert in_child(draining_parent) == [True, "draining"]


def test_redis_check_in_a_child_forked_mid_run_connects_afresh() -> None:
    from flask_healthcheck.contrib.redis import RedisCheck

    check = RedisCheck(require(REDIS), timeout=2.0)
    assert check().passed
    parents = check._connection

    with held(check._lock):
        assert in_child(lambda: check().passed) is True
    assert check().passed
    assert check._connection is parents


def test_celery_broker_check_in_a_child_leaves_the_parents_connection_alone() -> None:
    from celery import Celery

    from flask_healthcheck.contrib.celery import CeleryBrokerCheck

    celery_app = Celery("fork-test", broker=require(RABBITMQ), set_as_current=False)
    check = CeleryBrokerCheck(celery_app, timeout=5.0)
    assert check().passed
    parents = check._link._connection

    with held(check._link._lock):
        assert in_child(lambda: check().passed) is True
    # The child opened its own connection: the parent's is intact and used again.
    assert check().passed
    assert check._link._connection is parents
    check.close()


def test_cpu_check_in_a_child_forked_while_its_lock_is_held() -> None:
    from flask_healthcheck.contrib.system import CpuCheck

    check = CpuCheck(interval=0.05)
    check.measure()

    with held(check._lock):
        assert in_child(lambda: check().passed) is True


def test_migrations_check_in_a_child_forked_while_its_locks_are_held(tmp_path: Path) -> None:
    from flask_healthcheck.contrib.alembic import MigrationsCheck

    loaded, not_yet = tmp_path / "loaded", tmp_path / "not-yet"
    for location in (loaded, not_yet):
        (location / "versions").mkdir(parents=True)
    check = MigrationsCheck(scripts=loaded)
    scripts = check._scripts(None)

    def child() -> object:
        applied = sorted(check._scripts(None).applied([]))
        MigrationsCheck.__init__(check, scripts=not_yet)  # a location not loaded yet
        return [applied, check._scripts(None).location == str(not_yet)]

    with held(check._loading, scripts.lock):
        assert in_child(child) == [[], True]
