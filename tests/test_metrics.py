from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from flask_healthcheck import (
    CheckResult,
    ConfigurationError,
    Endpoint,
    HealthCheck,
    MissingDependencyError,
    Outcome,
)
from flask_healthcheck.metrics import HealthMetrics
from flask_healthcheck.registry import CheckSpec, Registry
from flask_healthcheck.runner import Transition

from .app_server import get, serve
from .conftest import Calls, wait_until

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of a Prometheus text exposition, read by prometheus_client's own parser."""
    return _samples(text_string_to_metric_families(text))


def _samples(families: Iterable[Metric]) -> Samples:
    samples: Samples = {}
    for family in families:
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            assert key not in samples, f"duplicate series {key}"
            samples[key] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def scrape(client: FlaskClient) -> Samples:
    """A scrape of ``/healthz/metrics``, which runs the checks first."""
    response = client.get("/healthz/metrics")
    assert response.status_code == 200, response.get_data(as_text=True)
    return parse(response.get_data(as_text=True))


def collected(registry: CollectorRegistry) -> Samples:
    return parse(generate_latest(registry).decode())


def read(health: HealthCheck, app: Flask) -> Samples:
    """The metrics as they are, without running any check."""
    return parse(health.metrics(app).exposition(None)[0].decode())


def settled(health: HealthCheck, app: Flask, name: str, expected: float, **labels: str) -> bool:
    """True once the sample is *expected*: runner listeners record just after the answer."""
    return wait_until(lambda: value(read(health, app), name, **labels) == expected)


class Switch:
    """A check whose result the test sets, counting its runs."""

    def __init__(self, calls: Calls) -> None:
        self.passing = True
        self.calls = calls

    def __call__(self) -> tuple[bool, str]:
        self.calls.add()
        return (True, "on") if self.passing else (False, "off")


@pytest.fixture
def switch(health: HealthCheck, calls: Calls) -> Switch:
    check = Switch(calls)
    health.add_check(check, name="switch", success_ttl=0, failed_ttl=0)
    return check


def test_metrics_endpoint_answers_in_prometheus_text_format(
    switch: Switch, client: FlaskClient
) -> None:
    response = client.get("/healthz/metrics")

    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert "version=" in response.content_type
    assert response.headers["Cache-Control"] == "no-store"
    samples = parse(response.get_data(as_text=True))
    assert value(samples, "healthcheck_check_status", check="switch", critical="true") == 1.0


def test_metrics_answer_openmetrics_when_the_scraper_asks_for_it(
    switch: Switch, client: FlaskClient
) -> None:
    response = client.get(
        "/healthz/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )

    assert response.mimetype == "application/openmetrics-text"
    text = response.get_data(as_text=True)
    assert text.endswith("# EOF\n")
    samples = _samples(openmetrics_families(text))
    assert value(samples, "healthcheck_check_status", check="switch", critical="true") == 1.0


def test_status_gauge_follows_the_latest_result(switch: Switch, client: FlaskClient) -> None:
    client.get("/healthz")
    assert value(scrape(client), "healthcheck_check_status", check="switch", critical="true") == 1

    switch.passing = False
    client.get("/healthz")
    assert value(scrape(client), "healthcheck_check_status", check="switch", critical="true") == 0


def test_a_scrape_shows_the_result_of_the_run_it_made(switch: Switch, client: FlaskClient) -> None:
    client.get("/healthz")
    switch.passing = False

    samples = scrape(client)

    assert value(samples, "healthcheck_check_status", check="switch", critical="true") == 0


def test_transition_counter_counts_each_change_once(
    switch: Switch, health: HealthCheck, app: Flask, client: FlaskClient
) -> None:
    for passing in (True, True, False, False, False, True, True):
        switch.passing = passing
        client.get("/healthz/switch")

    transitions = "healthcheck_check_transitions_total"
    assert settled(health, app, "healthcheck_check_duration_seconds_count", 7, check="switch")
    samples = read(health, app)
    assert value(samples, transitions, check="switch", to="fail") == 1
    assert value(samples, transitions, check="switch", to="pass") == 1


def test_duration_histogram_counts_every_run(
    switch: Switch, health: HealthCheck, app: Flask, client: FlaskClient
) -> None:
    for passing in (True, False, True):
        switch.passing = passing
        client.get("/healthz/ready")
    scrape(client)  # runs the check once more

    duration = "healthcheck_check_duration_seconds"
    runs = switch.calls.count
    assert runs >= 4
    assert settled(health, app, f"{duration}_count", runs, check="switch")
    samples = read(health, app)
    assert value(samples, f"{duration}_bucket", check="switch", le="+Inf") == runs
    total = value(samples, f"{duration}_sum", check="switch")
    assert total is not None
    assert 0 <= total < 10
    buckets = [
        sample_value
        for (name, labels), sample_value in samples.items()
        if name == f"{duration}_bucket" and ("check", "switch") in labels
    ]
    assert len(buckets) > 5
    assert buckets == sorted(buckets), "bucket counts are cumulative"


def test_a_check_that_has_not_run_has_zero_counts_and_no_status(
    health: HealthCheck, app: Flask
) -> None:
    health.add_check(lambda: (True, "ok"), name="idle")

    samples = parse(health.metrics(app).exposition(None)[0].decode())

    assert value(samples, "healthcheck_check_duration_seconds_count", check="idle") == 0
    assert value(samples, "healthcheck_check_transitions_total", check="idle", to="fail") == 0
    assert value(samples, "healthcheck_check_status", check="idle", critical="true") is None


def test_last_success_is_the_time_of_the_latest_pass(
    switch: Switch, health: HealthCheck, app: Flask, client: FlaskClient
) -> None:
    last_success = "healthcheck_check_last_success_timestamp_seconds"
    switch.passing = False
    samples = scrape(client)
    assert value(samples, last_success, check="switch") is None
    assert value(samples, "healthcheck_check_last_run_timestamp_seconds", check="switch")

    switch.passing = True
    passed = client.get("/healthz/switch").json["results"][0]["timestamp"]
    assert settled(health, app, last_success, passed, check="switch")
    switch.passing = False
    samples = scrape(client)  # a failing run now: the last success stays where it was

    assert value(samples, last_success, check="switch") == passed
    assert value(samples, "healthcheck_check_status", check="switch", critical="true") == 0


def test_answer_counts_by_endpoint_and_status_code(
    switch: Switch, health: HealthCheck, app: Flask, client: FlaskClient
) -> None:
    answered: Counter[tuple[str, str]] = Counter()
    for endpoint, path, passing in [
        ("live", "/healthz/live", True),  # answered by the WSGI fast path
        ("live", "/healthz/live", True),
        ("ready", "/healthz/ready", True),
        ("ready", "/healthz/ready", False),
        ("check", "/healthz/switch", False),
        ("check", "/healthz/no-such-check", True),
    ]:
        switch.passing = passing
        answered[endpoint, str(client.get(path).status_code)] += 1

    samples = read(health, app)
    counted = {
        (dict(labels)["endpoint"], dict(labels)["code"]): count
        for (name, labels), count in samples.items()
        if name == "healthcheck_responses_total"
    }
    assert counted == answered
    assert answered["check", "404"] == 1
    assert answered["check", "503"] == 1


def test_warnings_and_observed_values_are_exported(
    health: HealthCheck, client: FlaskClient
) -> None:
    health.add_check(
        lambda: Outcome(
            True, "queue long", observed_value=420, observed_unit="tasks", warning=True
        ),
        name="queue",
        critical=False,
    )

    samples = scrape(client)

    assert value(samples, "healthcheck_check_status", check="queue", critical="false") == 1
    assert value(samples, "healthcheck_check_warning", check="queue") == 1
    assert value(samples, "healthcheck_check_observed_value", check="queue", unit="tasks") == 420


def test_metrics_register_into_the_apps_own_registry(
    switch: Switch, health: HealthCheck, app: Flask
) -> None:
    registry = CollectorRegistry(auto_describe=True)  # as prometheus_client.REGISTRY is
    health.metrics(app).register(registry)
    app.test_client().get("/healthz")

    status = "healthcheck_check_status"
    assert wait_until(
        lambda: value(collected(registry), status, check="switch", critical="true") == 1
    )
    samples = collected(registry)
    assert value(samples, "healthcheck_responses_total", endpoint="report", code="200") == 1

    health.metrics(app).unregister(registry)
    assert collected(registry) == {}


def test_registering_twice_into_one_registry_says_what_to_do(
    health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    first, second = make_app(), make_app()
    registry = CollectorRegistry(auto_describe=True)
    health.metrics(first).register(registry)

    with pytest.raises(ValueError, match="labels=") as error:
        health.metrics(second).register(registry)
    assert "register(registry, labels={'app': 'admin'})" in str(error.value)
    with pytest.raises(ValueError, match="used by the health metrics"):
        health.metrics(second).register(registry, labels={"check": "x"})


def test_two_apps_in_one_process_keep_their_own_metrics() -> None:
    apps = []
    for name, passing in (("api", True), ("admin", False)):
        app = Flask(name)
        health = HealthCheck(app)
        health.add_check(lambda passing=passing: (passing, "db"), name="database")
        apps.append((app, health))
    (api, api_health), (admin, admin_health) = apps
    api.test_client().get("/healthz")
    admin.test_client().get("/healthz")
    admin.test_client().get("/healthz")

    api_samples = scrape(api.test_client())
    admin_samples = scrape(admin.test_client())
    status = "healthcheck_check_status"
    assert value(api_samples, status, check="database", critical="true") == 1
    assert value(admin_samples, status, check="database", critical="true") == 0
    answers = "healthcheck_responses_total"
    assert value(api_samples, answers, endpoint="report", code="200") == 1
    assert value(admin_samples, answers, endpoint="report", code="503") == 2
    assert value(api_samples, answers, endpoint="report", code="503") is None

    shared = CollectorRegistry(auto_describe=True)
    api_health.metrics(api).register(shared, labels={"app": "api"})
    admin_health.metrics(admin).register(shared, labels={"app": "admin"})
    samples = collected(shared)
    assert value(samples, status, check="database", critical="true", app="api") == 1
    assert value(samples, status, check="database", critical="true", app="admin") == 0


def test_one_extension_on_two_apps_counts_each_apps_answers(
    health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    health.add_check(lambda: (True, "ok"), name="database")
    first, second = make_app(), make_app()
    code = str(first.test_client().get("/healthz/ready").status_code)

    answers = "healthcheck_responses_total"
    assert value(scrape(first.test_client()), answers, endpoint="ready", code=code) == 1
    assert value(scrape(second.test_client()), answers, endpoint="ready", code=code) is None


def test_metrics_can_be_turned_off(make_app: Callable[..., Flask]) -> None:
    client = make_app(HEALTHCHECK_METRICS=False).test_client()

    response = client.get("/healthz/metrics")

    assert response.status_code == 404
    assert "HEALTHCHECK_METRICS" in response.json["error"]


@pytest.mark.parametrize("key", ["HEALTHCHECK_METRICS", "HEALTHCHECK_METRICS_PER_WORKER"])
def test_metrics_settings_must_be_bools(key: str, make_app: Callable[..., Flask]) -> None:
    with pytest.raises(ConfigurationError, match=f"{key} must be True or False"):
        make_app(**{key: "yes"})


def test_scrapes_count_as_answers_of_the_metrics_endpoint(client: FlaskClient) -> None:
    answers = "healthcheck_responses_total"
    assert value(scrape(client), answers, endpoint="metrics", code="200") is None

    scrape(client)

    assert value(scrape(client), answers, endpoint="metrics", code="200") == 2


def test_without_prometheus_client_metrics_answer_501_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch, health: HealthCheck, client: FlaskClient, app: Flask
) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # import raises ImportError

    response = client.get("/healthz/metrics")

    assert response.status_code == 501
    assert "pip install 'flask-health-checks[prometheus]'" in response.json["error"]
    with pytest.raises(MissingDependencyError, match=r"flask-health-checks\[prometheus\]"):
        health.metrics(app).register(CollectorRegistry())
    assert client.get("/healthz").status_code == 200


def test_prometheus_client_is_imported_only_when_metrics_are_asked_for() -> None:
    program = """
import sys
import threading
from flask import Flask
from flask_healthcheck import HealthCheck
app = Flask("quiet")
health = HealthCheck(app)
health.add_check(lambda: (True, "ok"), name="database")
client = app.test_client()
for path in ("/healthz", "/healthz/live", "/healthz/ready", "/healthz/database"):
    client.get(path)
assert "prometheus_client" not in sys.modules, "imported before any scrape"
assert client.get("/healthz/metrics").status_code == 200
assert "prometheus_client" in sys.modules
"""
    subprocess.run([sys.executable, "-c", program], check=True, timeout=60)


def test_metrics_scraped_from_a_real_gunicorn_server(tmp_path: Path) -> None:
    switch = tmp_path / "switch"
    switch.touch()
    environment = {"STATUS_APP_SWITCH": str(switch)}
    with serve(
        "status_app:create_app",
        server="gunicorn",
        environment=environment,
        log=tmp_path / "gunicorn.log",
    ) as base:
        assert get(base + "/healthz")[0] == 200
        status, content_type, body = get(base + "/healthz/metrics")
        assert status == 200
        assert content_type.startswith("text/plain")
        samples = parse(body)
        assert value(samples, "healthcheck_check_status", check="switch", critical="true") == 1
        assert value(samples, "healthcheck_check_status", check="search", critical="false") == 0

        switch.unlink()
        assert get(base + "/healthz")[0] == 503
        # A run's counters are recorded just after its answer: scrape until the change shows.
        transitions = "healthcheck_check_transitions_total"

        def changed_once() -> bool:
            return value(scrape_server(base), transitions, check="switch", to="fail") == 1

        assert wait_until(changed_once)
        samples = scrape_server(base)

    assert value(samples, "healthcheck_check_status", check="switch", critical="true") == 0
    assert value(samples, transitions, check="switch", to="fail") == 1
    answers = "healthcheck_responses_total"
    # the start-up wait asked "live"; these two are the reports, counted before they answer
    assert value(samples, answers, endpoint="report", code="200") == 1
    assert value(samples, answers, endpoint="report", code="503") == 1
    # two reports and at least two scrapes ran the check; the last scrape's own run may not
    # be counted yet
    runs = value(samples, "healthcheck_check_duration_seconds_count", check="switch")
    assert runs is not None
    assert runs >= 3
    last_run = value(samples, "healthcheck_check_last_run_timestamp_seconds", check="switch")
    assert last_run is not None
    assert abs(time.time() - last_run) < 600


def scrape_server(base: str) -> Samples:
    status, _, body = get(base + "/healthz/metrics")
    assert status == 200, body
    return parse(body)


# -- the workers of one server -------------------------------------------------------------
#
# Two HealthMetrics pointed at one directory act as two workers of one server (as two apps of
# one process with the same files would); a forked child is a worker forked from its master.

ANSWERS = "healthcheck_responses_total"
DURATION_COUNT = "healthcheck_check_duration_seconds_count"


class Worker:
    """The metrics of an app as one worker of a server keeps them: in the server's files."""

    def __init__(self, directory: Path, registry: Registry, *, per_worker: bool = False) -> None:
        self.metrics = HealthMetrics(registry, directory, per_worker=per_worker)
        self.registry = registry
        self._latest: dict[str, CheckResult] = {}

    def answer(self, endpoint: Endpoint, code: int, times: int = 1) -> None:
        for _ in range(times):
            self.metrics.record_answer(endpoint, code)

    def run(self, name: str, passed: bool, at: float, took: float = 0.002) -> None:
        """One run of check *name*, as the runner reports it to its listener."""
        result = CheckResult(name, passed, "up" if passed else "down", at, at + 10, took)
        spec = self.registry.get(name)
        self.metrics.record_result(Transition(spec, result, self._latest.get(name)))
        self._latest[name] = result

    def samples(self) -> Samples:
        return parse(self.metrics.exposition(None)[0].decode())


@pytest.fixture
def registry() -> Registry:
    checks = Registry()
    checks.add(CheckSpec("switch", lambda: (True, "up"), frozenset({"ready"})))
    return checks


@pytest.fixture
def server_dir(tmp_path: Path) -> Path:
    """The ``metrics`` directory of one app of one server."""
    directory = tmp_path / "server" / "app" / "metrics"
    directory.mkdir(parents=True)
    return directory


def in_child(work: Callable[[], None], *, within: float = 20.0) -> None:
    """Run *work* in a forked child of this process; fail unless it ends well in time."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child exits here; its coverage is not collected)
        code = 1
        try:
            work()
            code = 0
        finally:
            os._exit(code)
    assert _exit_code(pid, within=within) == 0, "the child failed"


def _exit_code(pid: int, *, within: float) -> int:
    """The exit code of child *pid*; it is killed, and the test fails, if it hangs."""
    due = time.monotonic() + within
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > due:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(f"the forked child did not end in {within} s: a lock it inherited?")
        time.sleep(0.01)


def test_every_worker_shows_the_answers_of_the_whole_server(
    server_dir: Path, registry: Registry
) -> None:
    first, second = Worker(server_dir, registry), Worker(server_dir, registry)
    first.answer(Endpoint.READY, 200, times=3)
    second.answer(Endpoint.READY, 200, times=2)
    second.answer(Endpoint.LIVE, 200)
    second.answer(Endpoint.READY, 503)

    for worker in (first, second):
        samples = worker.samples()
        assert value(samples, ANSWERS, endpoint="ready", code="200") == 5
        assert value(samples, ANSWERS, endpoint="ready", code="503") == 1
        assert value(samples, ANSWERS, endpoint="live", code="200") == 1

    first.answer(Endpoint.READY, 200)
    assert value(second.samples(), ANSWERS, endpoint="ready", code="200") == 6


def test_check_series_add_up_across_workers_and_the_newest_state_wins(
    server_dir: Path, registry: Registry
) -> None:
    first, second = Worker(server_dir, registry), Worker(server_dir, registry)
    first.run("switch", True, at=100.0)
    second.run("switch", True, at=150.0, took=0.2)
    second.run("switch", False, at=200.0)

    for worker in (first, second):
        samples = worker.samples()
        assert value(samples, "healthcheck_check_status", check="switch", critical="true") == 0
        assert value(samples, "healthcheck_check_last_run_timestamp_seconds", check="switch") == 200
        last_success = "healthcheck_check_last_success_timestamp_seconds"
        assert value(samples, last_success, check="switch") == 150
        assert value(samples, DURATION_COUNT, check="switch") == 3
        assert value(samples, "healthcheck_check_duration_seconds_sum", check="switch") == (
            pytest.approx(0.204)
        )
        transitions = "healthcheck_check_transitions_total"
        assert value(samples, transitions, check="switch", to="fail") == 1

    # Alike to the last bit, whichever worker adds up whose series in which order.
    assert first.samples() == second.samples()

    first.run("switch", True, at=300.0)  # its previous result (at 100) passed: no transition
    status = value(second.samples(), "healthcheck_check_status", check="switch", critical="true")
    assert status == 1


def test_a_worker_that_exits_leaves_its_counts_in_one_file_for_all(
    server_dir: Path, registry: Registry
) -> None:
    master = Worker(server_dir, registry)
    master.answer(Endpoint.READY, 200, times=3)
    master.run("switch", True, at=100.0)

    def worker() -> None:  # forked from the master, as by gunicorn --preload
        master.answer(Endpoint.READY, 200, times=2)
        master.run("switch", True, at=200.0)

    in_child(worker)

    # The master's three answers and one run count once: the child counted its own.
    for _ in range(2):  # the first read folds the child's files, the second reads the fold
        samples = master.samples()
        assert value(samples, ANSWERS, endpoint="ready", code="200") == 5
        assert value(samples, DURATION_COUNT, check="switch") == 2
        assert value(samples, "healthcheck_check_last_run_timestamp_seconds", check="switch") == 200
    assert master.metrics._counters.counts() == {"ready 200": 3}
    own = {path.name.split("-")[0] for path in server_dir.glob("[0-9]*")}
    assert own == {str(os.getpid())}, "the exited child's files are folded into one"
    assert (server_dir / "exited.json").exists()


def test_a_child_forked_while_the_metrics_were_locked_records_all_the_same(
    server_dir: Path, registry: Registry
) -> None:
    master = Worker(server_dir, registry)
    master.answer(Endpoint.READY, 200)
    master.run("switch", True, at=100.0)

    def worker() -> None:
        master.answer(Endpoint.READY, 200)
        master.run("switch", True, at=200.0)
        master.samples()

    # As if another thread of the master were recording at the moment of the fork.
    with master.metrics._lock, master.metrics._counters._lock:
        in_child(worker)

    assert value(master.samples(), ANSWERS, endpoint="ready", code="200") == 2


@pytest.fixture
def paused_child() -> Iterator[Callable[[Callable[[], None]], Callable[[], None]]]:
    """Fork a child that does some work and waits; the returned function lets it exit."""
    children: list[tuple[int, int]] = []

    def fork(work: Callable[[], None]) -> Callable[[], None]:
        ready_read, ready_write = os.pipe()
        go_read, go_write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover
            code = 1
            try:
                os.close(ready_read)
                os.close(go_write)
                work()
                os.write(ready_write, b"x")
                os.read(go_read, 1)  # until the parent closes its end
                code = 0
            finally:
                os._exit(code)
        os.close(ready_write)
        os.close(go_read)
        assert os.read(ready_read, 1) == b"x", "the child failed"
        os.close(ready_read)
        children.append((pid, go_write))

        def finish() -> None:
            children.remove((pid, go_write))
            os.close(go_write)
            assert _exit_code(pid, within=20) == 0

        return finish

    yield fork
    for pid, go in children:
        os.kill(pid, signal.SIGKILL)
        os.close(go)
        os.waitpid(pid, 0)


def test_per_worker_answers_carry_the_process_id_and_exited_workers_are_one(
    server_dir: Path,
    registry: Registry,
    paused_child: Callable[[Callable[[], None]], Callable[[], None]],
) -> None:
    master = Worker(server_dir, registry, per_worker=True)
    master.answer(Endpoint.READY, 200, times=3)

    def worker() -> None:
        master.answer(Endpoint.READY, 200, times=2)

    finish = paused_child(worker)
    children = [int(path.name.split("-")[0]) for path in server_dir.glob("*.counts")]
    child = next(pid for pid in children if pid != os.getpid())

    samples = master.samples()
    me = str(os.getpid())
    assert value(samples, ANSWERS, endpoint="ready", code="200", worker=me) == 3
    assert value(samples, ANSWERS, endpoint="ready", code="200", worker=str(child)) == 2

    finish()
    samples = master.samples()
    assert value(samples, ANSWERS, endpoint="ready", code="200", worker=me) == 3
    assert value(samples, ANSWERS, endpoint="ready", code="200", worker="exited") == 2
    assert value(samples, ANSWERS, endpoint="ready", code="200", worker=str(child)) is None


def test_apps_of_one_server_directory_share_their_metrics_through_it(
    tmp_path: Path, health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    first, second = (make_app(HEALTHCHECK_SHARED_DIR=str(tmp_path)) for _ in range(2))
    assert first.test_client().get("/healthz/live").status_code == 200  # the fast path
    second.test_client().get("/healthz/live")

    samples = read(health, second)

    assert value(samples, ANSWERS, endpoint="live", code="200") == 2
    assert list(tmp_path.glob("*/*/metrics/*.counts")), "the counts are in the server directory"


def test_a_worker_counts_any_number_of_kinds_of_answer(
    server_dir: Path, registry: Registry
) -> None:
    first, second = Worker(server_dir, registry), Worker(server_dir, registry)
    codes = range(200, 600, 3)  # more than the slots a worker's file starts with
    for code in codes:
        first.answer(Endpoint.CHECK, code, times=2)

    samples = second.samples()

    assert all(value(samples, ANSWERS, endpoint="check", code=str(code)) == 2 for code in codes)


def test_a_worker_that_cannot_write_its_files_still_answers_and_counts_its_own(
    server_dir: Path, registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    worker = Worker(server_dir, registry)
    server_dir.rmdir()  # as if the server directory had been removed under the server

    worker.answer(Endpoint.READY, 200, times=3)
    worker.run("switch", True, at=100.0)

    samples = worker.samples()
    assert value(samples, ANSWERS, endpoint="ready", code="200") == 3
    assert value(samples, DURATION_COUNT, check="switch") == 1
    assert "other workers will not see them" in caplog.text


def test_abandoned_runs_are_counted_and_the_hung_one_shown_until_it_returns(
    health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    release = threading.Event()
    health.add_check(lambda: release.wait(30) and (True, "late"), name="hung", timeout=0.05)
    app = make_app(HEALTHCHECK_FAILED_TTL=0, HEALTHCHECK_STARTUP_GATE=())
    client = app.test_client()
    for _ in range(3):
        assert client.get("/healthz/hung").status_code == 503

    text = client.get("/healthz/metrics").get_data(as_text=True)
    assert 'healthcheck_check_abandoned_runs_total{check="hung"} 1.0' in text
    assert 'healthcheck_check_hung_runs{check="hung"} 1.0' in text

    release.set()
    state = health.state(app)
    deadline = time.monotonic() + 5
    while state.runner.in_flight_count() and time.monotonic() < deadline:
        time.sleep(0.01)
    text = client.get("/healthz/metrics").get_data(as_text=True)
    assert 'healthcheck_check_abandoned_runs_total{check="hung"} 1.0' in text
    assert 'healthcheck_check_hung_runs{check="hung"} 0.0' in text
