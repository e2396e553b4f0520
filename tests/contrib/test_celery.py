"""Celery: the checks against real Redis and RabbitMQ brokers and their faults, and the worker
probe files and ``flask-healthcheck worker`` against real worker processes the tests start.

Workers run ``tests/apps/celery_probe_app.py`` in the ``solo`` pool (a task blocks the event
loop), each with a unique node name and queue, so workers of other test runs on the shared
brokers never answer for them.
"""

from __future__ import annotations

import ast
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from flask_healthcheck import CheckError, HealthCheck, MissingDependencyError, Outcome
from flask_healthcheck.contrib._celery_files import DEFAULT_LIVENESS_FILE
from flask_healthcheck.contrib.celery import (
    CeleryBrokerCheck,
    CeleryQueueCheck,
    CeleryWorkersCheck,
)
from flask_healthcheck.contrib.celery_worker import install_worker_probes
from flask_healthcheck.redact import mask_credentials as masked
from flask_healthcheck.worker_probe import (
    ExitCode,
    WorkerProbe,
    check_liveness_file,
    check_readiness_file,
    run_worker_probe,
    worker_parser,
    worker_probe_from_options,
)
from tests.services import RABBITMQ, REDIS, Service, black_hole, free_port, private_redis, require

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "tests" / "apps"
BIN = Path(sys.executable).parent
COMMAND = BIN / "flask-healthcheck"
HOSTNAME = socket.gethostname()

# Redis db 5 keeps these tests' keys apart from other tests on the shared server.
BROKERS: dict[str, tuple[Service, str]] = {
    "redis": (REDIS, "redis://127.0.0.1:6379/5"),
    "rabbitmq": (RABBITMQ, RABBITMQ.url),
}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(0.1)


def celery_app(broker_url: str) -> Celery:
    return Celery(unique("fhc-test"), broker=broker_url, set_as_current=False)


def worker_command(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(COMMAND), "worker", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


@dataclass
class Worker:
    """A ``celery worker`` process the tests started, with its own name, queue and files."""

    process: subprocess.Popen[bytes]
    name: str
    queue: str
    broker_url: str
    liveness_file: Path
    readiness_file: Path
    log: Path

    def wait_ready(self, timeout: float = 60) -> None:
        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"worker exited with {self.process.returncode}:\n{self.output()}"
                )
            return self.readiness_file.exists()

        wait_until(ready, timeout, f"worker {self.name} ready")

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self, timeout: float = 30) -> int:
        """Warm shutdown (SIGTERM); the whole process group is killed if it does not exit."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self.kill()
        return self.process.wait(10)

    def kill(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


def start_worker(broker_url: str, directory: Path, interval: float = 1.0) -> Worker:
    name = f"{unique('fhc')}@{HOSTNAME}"
    queue = unique("fhc-queue")
    directory.mkdir(parents=True, exist_ok=True)
    worker_files = {
        "HEALTHCHECK_CELERY_LIVENESS_FILE": str(directory / "worker.live"),
        "HEALTHCHECK_CELERY_READINESS_FILE": str(directory / "worker.ready"),
    }
    env = {
        **os.environ,
        **worker_files,
        "PYTHONPATH": os.pathsep.join([str(APPS), str(ROOT)]),
        "CELERY_TEST_BROKER_URL": broker_url,
        "CELERY_TEST_QUEUE": queue,
        "CELERY_TEST_PROBE_INTERVAL": str(interval),
    }
    log = directory / "worker.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "celery_probe_app",
                "worker",
                "--pool",
                "solo",
                "-n",
                name,
                "-Q",
                queue,
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel",
                "INFO",
            ],
            cwd=directory,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so teardown can kill children too
        )
    return Worker(
        process,
        name,
        queue,
        broker_url,
        Path(worker_files["HEALTHCHECK_CELERY_LIVENESS_FILE"]),
        Path(worker_files["HEALTHCHECK_CELERY_READINESS_FILE"]),
        log,
    )


def delete_queue(broker_url: str, queue: str) -> None:
    app = celery_app(broker_url)
    with app.connection_for_write() as connection:
        connection.default_channel.queue_delete(queue)


@pytest.fixture(scope="module", params=sorted(BROKERS))
def broker_url(request: pytest.FixtureRequest) -> str:
    service, url = BROKERS[request.param]
    require(service)
    return url


@pytest.fixture(scope="module")
def worker(broker_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """One worker per broker, shared by the tests that leave it running."""
    started = start_worker(broker_url, tmp_path_factory.mktemp("worker"))
    try:
        started.wait_ready()
        yield started
    finally:
        started.stop()
        delete_queue(broker_url, started.queue)


@pytest.fixture
def checks() -> Iterator[list[Any]]:
    """Checks to close after the test, so no broker connection outlives it."""
    made: list[Any] = []
    yield made
    for check in made:
        check.close()


# -- the checks, against the real brokers ----------------------------------------------------


def test_broker_check_passes_and_reports_latency(
    broker_url: str, checks: list[Any], health: HealthCheck, make_app: Callable[..., Any]
) -> None:
    check = CeleryBrokerCheck(celery_app(broker_url))
    checks.append(check)
    health.add_check(check)
    app = make_app()

    first = health.run(app=app).results[0]
    again = check()  # the kept connection is reused

    assert first.name == "celery_broker"
    assert first.passed, first.detail or first.output
    assert first.observed_unit == "ms"
    assert isinstance(first.observed_value, float)
    assert first.output.startswith("answered in ")
    assert first.detail == f"broker {masked(broker_url)}: {first.output}"
    assert again.passed
    assert "guest:guest" not in f"{first.output} {first.detail}"


@pytest.mark.parametrize("scheme", ["redis", "amqp"])
def test_broker_check_fails_at_once_on_a_closed_port(scheme: str, checks: list[Any]) -> None:
    check = CeleryBrokerCheck(celery_app(f"{scheme}://guest:secret@127.0.0.1:{free_port()}/"))
    checks.append(check)
    started = time.monotonic()

    with pytest.raises(CheckError, match=r"^connection refused$") as failure:
        check()

    assert time.monotonic() - started < 5  # refused at once, not after a timeout
    assert failure.value.detail is not None
    assert failure.value.detail.startswith(f"broker {scheme}://guest:***@127.0.0.1:")
    assert failure.value.detail.endswith(
        ": connection refused (is the broker running, on that port?)"
    )
    assert "secret" not in failure.value.detail


@pytest.mark.parametrize("scheme", ["redis", "amqp"])
def test_broker_check_fails_on_time_when_the_broker_never_answers(
    scheme: str, checks: list[Any], health: HealthCheck, make_app: Callable[..., Any]
) -> None:
    with black_hole() as hung:
        check = CeleryBrokerCheck(celery_app(f"{scheme}://guest:guest@127.0.0.1:{hung.port}/"))
        checks.append(check)
        health.add_check(check, timeout=1.0)
        app = make_app(HEALTHCHECK_DEADLINE=5.0)
        started = time.monotonic()

        result = health.run(app=app).results[0]

        assert time.monotonic() - started < 4  # the check's timeout is 1 s
        assert not result.passed
        assert result.output.startswith("timed out after"), result.output
        assert hung.connections >= 1
        # The client-level timeouts free the check's thread soon after it is reported failed.
        runner = health.state(app).runner
        wait_until(lambda: runner.in_flight_count() == 0, 5, "the check's thread returned")


def test_broker_check_fails_on_wrong_credentials(checks: list[Any]) -> None:
    require(RABBITMQ)
    check = CeleryBrokerCheck(celery_app("amqp://guest:wrong@127.0.0.1:5672//"))
    checks.append(check)

    with pytest.raises(CheckError, match=r"^login refused$") as failure:
        check()

    assert failure.value.detail == (
        "broker amqp://guest:***@127.0.0.1:5672//: login refused (check the user name and password)"
    )


def test_broker_check_fails_on_a_missing_virtual_host(checks: list[Any]) -> None:
    require(RABBITMQ)
    check = CeleryBrokerCheck(celery_app("amqp://guest:guest@127.0.0.1:5672/nonexistent_vhost"))
    checks.append(check)

    with pytest.raises(CheckError, match=r"^access to the virtual host refused$") as failure:
        check()

    assert failure.value.detail is not None
    assert "vhost nonexistent_vhost not found" in failure.value.detail


def test_broker_check_fails_on_a_wrong_redis_password_or_database(checks: list[Any]) -> None:
    with private_redis("--requirepass", "s3cret", "--databases", "2") as port:
        wrong_password = CeleryBrokerCheck(celery_app(f"redis://:wrong@127.0.0.1:{port}/0"))
        missing_database = CeleryBrokerCheck(celery_app(f"redis://:s3cret@127.0.0.1:{port}/5"))
        right = CeleryBrokerCheck(celery_app(f"redis://:s3cret@127.0.0.1:{port}/1"))
        checks.extend([wrong_password, missing_database, right])

        with pytest.raises(CheckError, match=r"^login refused$"):
            wrong_password()
        with pytest.raises(CheckError, match=r"^the broker answered with an error$") as failure:
            missing_database()
        assert right().passed

    assert failure.value.detail is not None
    assert "DB index is out of range" in failure.value.detail
    assert "s3cret" not in failure.value.detail


def test_broker_check_keeps_one_connection_and_replaces_it_when_dropped(
    checks: list[Any],
) -> None:
    import redis

    with private_redis() as port:
        admin = redis.Redis(port=port)
        check = CeleryBrokerCheck(celery_app(f"redis://127.0.0.1:{port}/0"))
        checks.append(check)

        for _ in range(5):
            assert check().passed
        clients_while_reused = admin.info("clients")["connected_clients"]
        # The server drops every connection but the admin's, as an idle timeout or a
        # failover would; the next run is not a failure of the broker.
        admin.client_kill_filter(_type="normal", skipme=True)
        after_drop = check()
        admin.close()

    assert clients_while_reused == 2  # the admin's and the check's one
    assert after_drop.passed


def test_broker_check_tries_each_failover_url(checks: list[Any]) -> None:
    redis_url = BROKERS["redis"][1]
    require(REDIS)
    check = CeleryBrokerCheck(celery_app(f"redis://127.0.0.1:{free_port()}/5;{redis_url}"))
    checks.append(check)

    outcome = check()

    assert outcome.passed
    assert outcome.detail is not None
    assert outcome.detail.startswith(f"broker {redis_url}: answered")


def test_broker_check_replaces_a_kept_amqp_connection_that_broke(checks: list[Any]) -> None:
    require(RABBITMQ)
    check = CeleryBrokerCheck(celery_app(RABBITMQ.url))
    checks.append(check)
    assert check().passed
    kept = check._link._connection
    # Break the kept connection under the check, as a broker restart or a load balancer's
    # idle timeout would.
    kept.connection.transport.sock.shutdown(socket.SHUT_RDWR)

    after_break = check()

    assert after_break.passed, after_break.output
    assert check._link._connection is not kept


def test_workers_check_passes_while_the_worker_runs(
    worker: Worker, checks: list[Any], health: HealthCheck, make_app: Callable[..., Any]
) -> None:
    named = CeleryWorkersCheck(celery_app(worker.broker_url), names=[worker.name])
    anyone = CeleryWorkersCheck(celery_app(worker.broker_url), min_workers=1)
    checks.extend([named, anyone])
    # Generous timeouts: a busy machine may be slow to answer, and each check returns as soon
    # as enough workers have answered.
    health.add_check(named, name="named", timeout=10.0)
    health.add_check(anyone, name="anyone", timeout=10.0)

    by_name, by_count = health.run(app=make_app(HEALTHCHECK_DEADLINE=15.0)).results

    assert by_name.passed, by_name.detail or by_name.output
    assert by_name.output == "1 worker answered a ping"  # worker names carry host names
    assert by_name.detail == f"worker {worker.name} answered a ping"
    assert (by_name.observed_value, by_name.observed_unit) == (1, "workers")
    assert by_count.passed, by_count.detail or by_count.output
    assert isinstance(by_count.observed_value, int)
    assert by_count.observed_value >= 1


def test_workers_check_fails_when_no_such_worker_answers(
    broker_url: str, checks: list[Any]
) -> None:
    nobody = f"{unique('nobody')}@nowhere"
    check = CeleryWorkersCheck(celery_app(broker_url), names=[nobody])
    too_many = CeleryWorkersCheck(celery_app(broker_url), min_workers=10_000)
    checks.extend([check, too_many])
    started = time.monotonic()

    with pytest.raises(CheckError, match=r"^1 of 1 named worker did not answer a ping") as missing:
        check()
    assert missing.value.detail is not None
    assert missing.value.detail.startswith(f"worker {nobody} did not answer a ping")
    with pytest.raises(CheckError, match=r"at least 10000 workers|no worker answered"):
        too_many()

    # Outside a run the time left is 2 s; the pings wait most of it, and no more.
    assert time.monotonic() - started < 2 * 2.5


def test_queue_check_observes_pending_tasks(broker_url: str, checks: list[Any]) -> None:
    app = celery_app(broker_url)
    queue = unique("fhc-pending")
    for _ in range(5):
        app.send_task("celery_probe_app.block", args=(0,), queue=queue)
    try:
        plain = CeleryQueueCheck(app, queues=[queue])
        warned = CeleryQueueCheck(app, queues=[queue], warn=5, fail=10)
        failed = CeleryQueueCheck(app, queues=[queue, "fhc-no-such-queue"], warn=2, fail=5)
        checks.extend([plain, warned, failed])

        counted = plain()
        warning = warned()
        failing = failed()
    finally:
        delete_queue(broker_url, queue)

    assert counted == Outcome(True, f"5 pending tasks ({queue}: 5)", 5, "tasks")
    assert warning.passed
    assert warning.warning
    assert "warning level of 5" in warning.output
    assert not failing.passed
    assert failing.observed_value == 5
    assert "fhc-no-such-queue: no such queue" in failing.output


# -- worker probe files and the worker command, against real workers -------------------------


def test_running_worker_is_live_and_ready(worker: Worker) -> None:
    result = worker_command(
        "--liveness-file",
        str(worker.liveness_file),
        "--max-age",
        "30",
        "--readiness-file",
        str(worker.readiness_file),
        "--ping",
        "--broker",
        worker.broker_url,
        "--worker-name",
        worker.name,
        "--timeout",
        "10",
    )

    assert result.returncode == ExitCode.OK, result.stderr
    assert worker.name in result.stdout


def test_worker_command_ping_fails_without_the_worker(broker_url: str) -> None:
    nobody = f"{unique('nobody')}@nowhere"
    result = worker_command(
        "--ping", "--broker", broker_url, "--worker-name", nobody, "--timeout", "1"
    )

    assert result.returncode == ExitCode.PING_FAILED
    assert f"{nobody} did not answer a ping" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_worker_command_ping_fails_when_the_broker_is_down() -> None:
    result = worker_command(
        "--ping", "--broker", f"amqp://guest:secret@127.0.0.1:{free_port()}//", "--timeout", "2"
    )

    assert result.returncode == ExitCode.PING_FAILED
    assert "connection refused" in result.stderr
    assert "secret" not in result.stderr


def test_liveness_file_goes_stale_while_the_event_loop_is_blocked(worker: Worker) -> None:
    def liveness() -> subprocess.CompletedProcess[str]:
        return worker_command("--liveness-file", str(worker.liveness_file), "--max-age", "3")

    assert liveness().returncode == ExitCode.OK
    celery_app(worker.broker_url).send_task("celery_probe_app.block", args=(8,), queue=worker.queue)

    stale: list[subprocess.CompletedProcess[str]] = []
    wait_until(
        lambda: stale.append(liveness()) or stale[-1].returncode == ExitCode.NOT_LIVE,
        20,
        "the liveness file went stale",
    )
    assert "the worker's event loop is blocked" in stale[-1].stderr
    # Once the task ends, the loop turns and touches the file again.
    wait_until(lambda: liveness().returncode == ExitCode.OK, 30, "the worker is live again")


def test_probe_files_are_gone_after_a_warm_shutdown(broker_url: str, tmp_path: Path) -> None:
    worker = start_worker(broker_url, tmp_path)
    try:
        worker.wait_ready()
        assert worker_command("--readiness-file", str(worker.readiness_file)).returncode == 0

        exit_code = worker.stop()
    finally:
        worker.kill()
        delete_queue(broker_url, worker.queue)

    assert exit_code == 0, worker.output()
    assert "Warm shutdown" in worker.output()
    assert not worker.readiness_file.exists()
    assert not worker.liveness_file.exists()
    not_ready = worker_command("--readiness-file", str(worker.readiness_file))
    assert not_ready.returncode == ExitCode.NOT_READY
    assert "does not exist" in not_ready.stderr
    not_live = worker_command("--liveness-file", str(worker.liveness_file))
    assert not_live.returncode == ExitCode.NOT_LIVE


# -- the worker command's options and logic, without a worker --------------------------------


def test_worker_command_without_a_check_is_a_usage_error() -> None:
    result = worker_command()

    assert result.returncode == ExitCode.USAGE
    assert "nothing to check" in result.stderr


@pytest.mark.parametrize(
    "args",
    [["--max-age", "soon", "--liveness"], ["--no-such-option"], ["--timeout", "-1", "--ping"]],
)
def test_worker_command_bad_options_exit_with_the_usage_code(args: list[str]) -> None:
    assert worker_command(*args).returncode == ExitCode.USAGE


def test_worker_command_ping_without_a_broker_is_a_usage_error() -> None:
    env = {key: value for key, value in os.environ.items() if key != "CELERY_BROKER_URL"}

    result = worker_command("--ping", env=env)

    assert result.returncode == ExitCode.USAGE
    assert "--broker" in result.stderr


def test_worker_command_never_imports_flask(tmp_path: Path) -> None:
    live = tmp_path / "worker.live"
    live.touch()
    closed = f"redis://127.0.0.1:{free_port()}/0"
    code = (
        "import sys\n"
        "from flask_healthcheck import console\n"
        "def loaded():\n"
        "    return [name for name in ('flask', 'celery') if name in sys.modules]\n"
        f"files = console.main(['worker', '--liveness-file', {str(live)!r}])\n"
        "after_files = loaded()\n"
        f"ping = console.main(['worker', '--ping', '--broker', {closed!r}, '--timeout', '1'])\n"
        "print(files, after_files, ping, loaded())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )

    # The file checks import neither Flask nor Celery; the ping imports Celery only.
    assert result.stdout.strip().splitlines()[-1] == "0 [] 3 ['celery']"


def test_liveness_file_fails_when_missing_a_directory_or_too_old(tmp_path: Path) -> None:
    live = tmp_path / "worker.live"
    assert check_liveness_file(live, 60) is not None
    assert check_liveness_file(tmp_path, 60) is not None
    live.touch()
    modified = live.stat().st_mtime

    assert check_liveness_file(live, 60, now=modified + 59) is None
    stale = check_liveness_file(live, 60, now=modified + 61)
    assert stale is not None
    assert stale.code == ExitCode.NOT_LIVE
    assert "61 s ago" in stale.reason


def test_readiness_file_check(tmp_path: Path) -> None:
    ready = tmp_path / "worker.ready"
    missing = check_readiness_file(ready)
    ready.touch()

    assert missing is not None
    assert missing.code == ExitCode.NOT_READY
    assert check_readiness_file(ready) is None


def test_worker_probe_runs_checks_in_order_and_stops_at_the_first_failure(tmp_path: Path) -> None:
    live, ready = tmp_path / "live", tmp_path / "ready"
    live.touch()

    failure, passed = run_worker_probe(WorkerProbe(liveness_file=live, readiness_file=ready))

    assert failure is not None
    assert failure.code == ExitCode.NOT_READY
    assert passed == [f"liveness file {live} is fresh"]


def test_worker_options_choose_checks_and_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEALTHCHECK_CELERY_READINESS_FILE", "/run/worker.ready")
    monkeypatch.setenv("CELERY_WORKER_NAME", "celery@pod-1")
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://redis:6379/0")
    parser = worker_parser()

    def probe(*args: str) -> WorkerProbe:
        return worker_probe_from_options(parser.parse_args(args))

    assert probe("--liveness") == WorkerProbe(
        liveness_file=DEFAULT_LIVENESS_FILE, worker_names=("celery@pod-1",)
    )
    only_ready = probe("--liveness-file", "/x", "--skip-liveness", "--readiness")
    assert only_ready.liveness_file is None
    assert only_ready.readiness_file == Path("/run/worker.ready")
    pinged = probe("--ping", "--worker-name", "a@h", "--worker-name", "b@h")
    assert pinged.broker_url == "redis://redis:6379/0"
    assert pinged.worker_names == ("a@h", "b@h")
    assert probe("--ping", "--skip-ping", "--readiness").broker_url is None


# -- registration and the worker side, without a broker --------------------------------------


def test_checks_register_with_sensible_defaults(health: HealthCheck) -> None:
    app = celery_app("redis://127.0.0.1:6379/5")
    broker = health.add_check(CeleryBrokerCheck(app))
    workers = health.add_check(CeleryWorkersCheck(app))
    queues = health.add_check(CeleryQueueCheck(app), critical=True, name="emails_queue")
    carried = health.add_check(
        CeleryQueueCheck(app, name="backlog", tags=["live"], timeout=5.0), name=None
    )
    overridden = health.add_check(CeleryBrokerCheck(app, name="broker", critical=False), name="b2")

    assert (broker.name, broker.tags, broker.critical) == ("celery_broker", {"ready"}, True)
    assert (workers.name, workers.tags, workers.critical) == ("celery_workers", {"ready"}, False)
    assert (queues.name, queues.critical) == ("emails_queue", True)
    assert (carried.name, carried.tags, carried.timeout) == ("backlog", {"live"}, 5.0)
    assert (overridden.name, overridden.critical) == ("b2", False)


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda app: CeleryWorkersCheck(app, min_workers=0), "min_workers"),
        (lambda app: CeleryWorkersCheck(app, names=[]), "names"),
        (lambda app: CeleryQueueCheck(app, queues=[]), "queues"),
        (lambda app: CeleryQueueCheck(app, warn=-1), "warn"),
        (lambda app: install_worker_probes(app, interval=0), "interval"),
    ],
)
def test_bad_options_raise_value_error(factory: Callable[[Celery], Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        factory(celery_app("memory://"))


def test_install_worker_probes_takes_paths_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HEALTHCHECK_CELERY_LIVENESS_FILE", str(tmp_path / "env.live"))
    app = celery_app("memory://")

    probes = install_worker_probes(app, readiness_file=tmp_path / "given.ready", interval=5)

    assert probes.liveness_file == tmp_path / "env.live"
    assert probes.readiness_file == tmp_path / "given.ready"
    assert probes.interval == 5.0
    assert any(step.__name__ == "WorkerLivenessStep" for step in app.steps["worker"])


def _imported_modules(module: str) -> set[str]:
    """The flask_healthcheck modules *module* imports, anywhere in it (functions included)."""
    path = ROOT / (module.replace(".", "/") + ".py")
    package = module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module is not None:
            base = node.module
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            found.add(base)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("flask_healthcheck.")}


def test_the_worker_side_the_checks_and_the_command_import_in_one_direction() -> None:
    checks = "flask_healthcheck.contrib.celery"
    worker_side = "flask_healthcheck.contrib.celery_worker"
    files = "flask_healthcheck.contrib._celery_files"
    command = "flask_healthcheck.worker_probe"

    # The worker side and the command share where the files are; the command pings with the
    # checks' ping_workers; the checks need neither, and the worker side needs no command.
    assert files in _imported_modules(worker_side)
    assert files in _imported_modules(command)
    assert checks in _imported_modules(command)
    assert not {worker_side, command} & _imported_modules(checks)
    assert command not in _imported_modules(worker_side)
    assert worker_side not in _imported_modules(command)


def test_missing_celery_names_the_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['celery'] = None\n"
        "try:\n"
        "    import flask_healthcheck.contrib.celery\n"
        "except ImportError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )

    assert result.stdout.startswith(MissingDependencyError.__name__)
    assert "flask-health-checks[celery]" in result.stdout
