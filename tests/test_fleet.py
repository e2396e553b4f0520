"""The fleet: shared checks judged by what the other servers see, on a real private Redis.

Each "pod" here is an app with its own extension and host name in this process; the servers
under gunicorn are in tests/test_fleet_servers.py. The policy itself (:func:`judge`) is a pure
function and is tested as one.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis
import sentry_sdk
from flask import Flask

from flask_healthcheck import ConfigurationError, HealthCheck, StatusChange
from flask_healthcheck.fleet import FleetView, PeerResult, Pod, judge
from flask_healthcheck.fleet_store import RedisFleetStore

from .sentry_capture import MemoryTransport, capture
from .services import PrivateRedis, free_port

TOKEN = "fleet-token-5b1e"
#: Short TTLs, so that a change shows within a second; the settle time is TTL + timeout.
FAST = {
    "HEALTHCHECK_SUCCESS_TTL": 0.2,
    "HEALTHCHECK_FAILED_TTL": 0.2,
    "HEALTHCHECK_TIMEOUT": 0.5,
    "HEALTHCHECK_FLEET_POD_TTL": 5.0,
    "HEALTHCHECK_TOKEN": TOKEN,
}


# -- the policy, a pure function ---------------------------------------------------------------


def view(now: float, **pods: bool | None) -> FleetView:
    """Pods by name, each passing (True), failing (False) or without the check (None)."""
    return FleetView(
        tuple(
            Pod(
                name,
                now - 1,
                {} if passed is None else {"db": PeerResult(passed, "fail", now - 1, shared=True)},
            )
            for name, passed in pods.items()
        ),
        now,
    )


def judged(the_view: FleetView, share: float = 0.5) -> tuple[bool, int, int] | None:
    judgement = judge("db", the_view, "me", now=1000.0, pod_ttl=30.0, outage_share=share)
    return None if judgement is None else (judgement.outage, judgement.failing, judgement.pods)


def test_a_pod_alone_decides_alone() -> None:
    assert judged(view(1000.0)) is None
    assert judged(view(1000.0, me=False)) is None
    assert judged(view(1000.0, other=None)) is None  # a peer without the check


def test_failing_while_the_peers_pass_is_a_local_fault() -> None:
    assert judged(view(1000.0, a=True, b=True, c=True)) == (False, 1, 4)
    # Two pods, one failing: the other passes, so the fault is this pod's.
    assert judged(view(1000.0, a=True)) == (False, 1, 2)


def test_failing_on_half_the_fleet_or_more_is_an_outage() -> None:
    assert judged(view(1000.0, a=False)) == (True, 2, 2)
    assert judged(view(1000.0, a=False, b=True, c=True)) == (True, 2, 4)
    assert judged(view(1000.0, a=False, b=True, c=True, d=True)) == (False, 2, 5)
    assert judged(view(1000.0, a=False, b=True, c=True, d=True), share=0.4) == (True, 2, 5)


def test_stale_pods_and_old_results_do_not_count() -> None:
    old = FleetView(
        (
            Pod("gone", 900.0, {"db": PeerResult(False, "fail", 900.0, shared=True)}),
            Pod("old", 999.0, {"db": PeerResult(False, "fail", 960.0, shared=True)}),
            Pod("fresh", 999.0, {"db": PeerResult(True, "pass", 999.0, shared=True)}),
        ),
        1000.0,
    )
    assert judged(old) == (False, 1, 2)


# -- pods on a real Redis ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fleet_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def fleet_url(fleet_redis: PrivateRedis) -> str:
    fleet_redis.start()  # a test may have stopped it
    with redis.Redis.from_url(fleet_redis.url) as client:
        client.flushall()
    return fleet_redis.url


transport = pytest.fixture(capture, name="transport")


@dataclass
class FakePod:
    """An app with its own extension, as one server of the fleet."""

    name: str
    app: Flask
    health: HealthCheck
    healthy: dict[str, bool]
    calls: list[str] = field(default_factory=list)
    changes: list[StatusChange] = field(default_factory=list)

    def get(self, path: str, **headers: str) -> tuple[int, dict[str, Any]]:
        response = self.app.test_client().get(path, headers=headers)
        return response.status_code, response.get_json()

    def ready(self) -> tuple[int, dict[str, Any]]:
        return self.get("/healthz/ready")

    def output(self, check: str = "database") -> str:
        _, body = self.get("/healthz")
        return next(result["output"] for result in body["results"] if result["checker"] == check)


def make_pod(name: str, url: str | None, **config: Any) -> FakePod:
    app = Flask(f"fleet_{name}")
    app.config.update(FAST, HEALTHCHECK_HOSTNAME=name, HEALTHCHECK_FLEET_NAME="notes")
    if url is not None:
        app.config["HEALTHCHECK_FLEET_URL"] = url
    app.config.update(config)
    health = HealthCheck()
    pod = FakePod(name, app, health, {"database": True})

    @health.check(shared=True)
    def database() -> tuple[bool, str]:
        pod.calls.append("database")
        return pod.healthy["database"], "answered" if pod.healthy["database"] else "refused"

    health.on_change(pod.changes.append)
    health.init_app(app)
    return pod


@pytest.fixture
def pods(fleet_url: str) -> list[FakePod]:
    made = [make_pod(name, fleet_url) for name in ("pod-a", "pod-b", "pod-c")]
    for pod in made:
        assert pod.ready()[0] == 200
    # A pod publishes from the check's thread, just after the answer.
    store = RedisFleetStore(fleet_url, "notes", timeout=1.0, pod_ttl=5.0)
    wait_for(lambda: len(store.read(time.time()).pods) == 3, 5, "every pod published")
    store.close()
    return made


def wait_for(predicate: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        time.sleep(0.05)


def every(pods: list[FakePod], predicate: Callable[[FakePod], bool]) -> bool:
    """*predicate* holds for every pod, each asked (so each runs its checks and publishes)."""
    answers = [predicate(pod) for pod in pods]
    return all(answers)


def sentry_events(transport: MemoryTransport) -> list[dict[str, Any]]:
    """The events sent once the fleet has judged what started failing (a TTL plus a timeout
    after it did), and no more after another second."""

    def sent() -> bool:
        sentry_sdk.flush(1)
        return bool(transport.events())

    wait_for(sent, 10, "a Sentry event")
    time.sleep(1.0)
    sentry_sdk.flush(1)
    return transport.events()


def fleet_changes(pod: FakePod) -> list[tuple[bool, bool | None, str]]:
    return [(c.passed, c.previous, c.output) for c in pod.changes if c.kind == "fleet"]


def test_one_pod_failing_leaves_the_pool_and_the_others_stay(
    pods: list[FakePod], transport: MemoryTransport
) -> None:
    broken, *others = pods
    broken.healthy["database"] = False
    wait_for(lambda: broken.ready()[0] == 503, 5, "the pod with the fault out of the pool")
    _, body = broken.ready()
    [database] = [result for result in body["results"] if result["checker"] == "database"]
    assert database["output"] == "local fault: 2 of 2 other pods pass database: refused"
    assert [pod.ready()[0] for pod in others] == [200, 200]
    [event] = sentry_events(transport)  # one, from the pod that has the fault
    assert event["tags"]["healthcheck.fleet"] == "local"
    assert event["contexts"]["healthcheck"]["fleet"].startswith("local fault")
    assert fleet_changes(broken) == []


def test_all_pods_failing_stay_ready_degraded_with_one_sentry_event(
    pods: list[FakePod], transport: MemoryTransport
) -> None:
    for pod in pods:
        pod.healthy["database"] = False
    wait_for(
        lambda: every(pods, lambda pod: pod.output().startswith("degraded: fleet-wide")),
        5,
        "every pod judging the outage",
    )
    for pod in pods:
        status, body = pod.get("/healthz")
        assert status == 200
        assert body["degraded"] is True, json.dumps(body)
        [database] = [result for result in body["results"] if result["checker"] == "database"]
        assert database["status"] == "warn"
        assert database["output"] in {
            f"degraded: fleet-wide outage of database ({n} of 3 pods): refused" for n in (2, 3)
        }, body
    [event] = sentry_events(transport)  # one for the whole fleet, not one per pod
    assert event["tags"]["healthcheck.fleet"] == "outage"
    assert (
        event["message"] == "health check 'database': fleet-wide outage of database (3 of 3 pods)"
    )
    for pod in pods:
        [(passed, before, output)] = fleet_changes(pod)
        assert (passed, before) == (False, True)
        # As the pod saw it when it judged: two failing of three is an outage already.
        assert output in {f"fleet-wide outage of database ({n} of 3 pods)" for n in (2, 3)}

    for pod in pods:  # heal
        pod.healthy["database"] = True
    wait_for(
        lambda: every(pods, lambda pod: pod.output() == "answered"), 5, "every pod passing again"
    )
    for pod in pods:
        assert pod.ready()[0] == 200
        assert [change[:2] for change in fleet_changes(pod)] == [(False, True), (True, False)]
    sentry_sdk.flush(2)
    assert len(transport.events()) == 1


def test_metrics_say_when_the_fleet_has_an_outage(pods: list[FakePod]) -> None:
    pytest.importorskip("prometheus_client")
    for pod in pods:
        pod.healthy["database"] = False
    wait_for(
        lambda: every(pods, lambda pod: pod.output().startswith("degraded: fleet-wide")),
        5,
        "every pod judging the outage",
    )
    text = pods[0].app.test_client().get("/healthz/metrics").get_data(as_text=True)
    assert 'healthcheck_fleet_outage{check="database"} 1.0' in text


def test_without_the_store_a_pod_decides_alone_within_the_store_timeout(
    fleet_redis: PrivateRedis, pods: list[FakePod]
) -> None:
    fleet_redis.stop()
    for pod in pods:
        pod.healthy["database"] = False
    time.sleep(0.3)  # past the success TTL: the next answer runs the check
    for pod in pods:
        started = time.monotonic()
        status, body = pod.ready()
        assert time.monotonic() - started < 2.0  # the store's timeout (0.25 s) at most once
        assert status == 503
        [database] = [result for result in body["results"] if result["checker"] == "database"]
        assert database["output"] == "refused"  # as without a fleet


def test_a_store_that_never_answers_costs_one_timeout_then_nothing(
    fleet_url: str,
) -> None:
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    try:
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        pod = make_pod("pod-silent", url, HEALTHCHECK_FLEET_TIMEOUT=0.3)
        pod.healthy["database"] = False
        durations = []
        for _ in range(5):
            started = time.monotonic()
            assert pod.ready()[0] == 503
            durations.append(time.monotonic() - started)
            time.sleep(0.25)  # past the failed TTL: the check runs again each time
        assert max(durations) < 2.0
        assert sum(duration > 0.25 for duration in durations) <= 2  # then it backs off
    finally:
        silent.close()


def test_an_expensive_check_runs_once_per_fleet_ttl_for_the_fleet(fleet_url: str) -> None:
    calls: list[str] = []
    heard: list[tuple[str, bool]] = []  # (pod, whether the result came from a call there)
    made = []
    for name in ("pod-a", "pod-b", "pod-c"):
        app = Flask(f"fleet_ttl_{name}")
        app.config.update(FAST, HEALTHCHECK_HOSTNAME=name, HEALTHCHECK_FLEET_URL=fleet_url)
        app.config["HEALTHCHECK_FLEET_NAME"] = "notes"
        health = HealthCheck(app)
        health.state(app).runner.add_listener(
            lambda transition, name=name: heard.append((name, transition.called))
        )

        @health.check(fleet_ttl=60, timeout=2.0)
        def models(name: str = name) -> tuple[bool, str]:
            calls.append(name)
            time.sleep(0.1)
            return True, "models match the schema"

        made.append(app)
    for _ in range(3):
        for app in made:
            response = app.test_client().get("/healthz")
            assert response.status_code == 200
        time.sleep(0.25)  # past the local TTL: each asks the fleet again
    assert calls == ["pod-a"]
    # The listeners of the other pods hear of results lent by the fleet: no run of theirs.
    assert [pod for pod, called in heard if called] == ["pod-a"]
    assert {pod for pod, _ in heard} == {"pod-a", "pod-b", "pod-c"}
    output = made[2].test_client().get("/healthz").get_json()["results"][0]["output"]
    assert output.startswith("models match the schema (run by pod-a ")


def test_the_fleet_view_needs_the_token_and_marks_stale_pods(
    fleet_url: str, pods: list[FakePod]
) -> None:
    pod = pods[0]
    assert pod.get("/healthz/fleet")[0] == 401
    assert pod.get("/healthz/fleet", Authorization="Bearer wrong")[0] == 401
    store = RedisFleetStore(fleet_url, "notes", timeout=1.0, pod_ttl=5.0)
    store.publish(
        "pod-gone", "database", PeerResult(True, "pass", time.time() - 10), time.time() - 10
    )
    status, body = pod.get("/healthz/fleet", Authorization=f"Bearer {TOKEN}")
    assert status == 200
    assert body["fleet"] == "notes"
    assert body["pod"] == "pod-a"
    by_name = {entry["name"]: entry for entry in body["pods"]}
    assert set(by_name) == {"pod-a", "pod-b", "pod-c", "pod-gone"}
    assert by_name["pod-gone"]["stale"] is True
    assert by_name["pod-b"]["stale"] is False
    assert by_name["pod-b"]["checks"]["database"]["shared"] is True
    assert body["shared"] == {"database": {"failing": 0, "pods": 3, "outage": False}}
    assert "output" not in json.dumps(body)  # verdicts only, never a check's text
    page = pod.app.test_client().get(
        "/healthz/fleet", headers={"Authorization": f"Bearer {TOKEN}", "Accept": "text/html"}
    )
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "Fleet passing" in html
    assert "stale: gone from the fleet" in html
    store.close()


def test_the_fleet_view_is_off_without_a_store_and_closed_without_a_token(
    fleet_url: str,
) -> None:
    off = make_pod("pod-off", None)
    assert off.get("/healthz/fleet")[0] == 404
    untokened = make_pod("pod-open", fleet_url, HEALTHCHECK_TOKEN=None)
    status, body = untokened.get("/healthz/fleet")
    assert status == 403
    assert "HEALTHCHECK_TOKEN" in body["error"]


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("HEALTHCHECK_FLEET_URL", "http://redis:6379", "must be a Redis URL"),
        ("HEALTHCHECK_FLEET_OUTAGE_SHARE", 0, "must be a share above 0"),
        ("HEALTHCHECK_FLEET_OUTAGE_SHARE", 1.5, "must be a share above 0"),
        ("HEALTHCHECK_FLEET_TIMEOUT", 0, "must be a number of seconds"),
        ("HEALTHCHECK_FLEET_POD_TTL", 5.0, "must be longer than the TTLs"),
    ],
)
def test_a_bad_fleet_setting_fails_at_init_app_naming_the_key(
    key: str, value: object, says: str
) -> None:
    app = Flask("fleet_config")
    app.config["HEALTHCHECK_FLEET_URL"] = "redis://127.0.0.1:1/0"
    app.config[key] = value
    with pytest.raises(ConfigurationError, match=key) as caught:
        HealthCheck(app)
    assert says in str(caught.value)


def test_a_password_in_the_fleet_url_is_masked_in_the_settings() -> None:
    app = Flask("fleet_masked")
    app.config["HEALTHCHECK_FLEET_URL"] = f"redis://:pw-0c1d@127.0.0.1:{free_port()}/0"
    HealthCheck(app)
    assert "pw-0c1d" not in repr(HealthCheck.state(app.extensions["healthcheck"], app).settings)


def test_without_redis_py_the_fleet_url_names_the_extra_to_install() -> None:
    code = (
        "import sys; sys.modules['redis'] = None\n"
        "from flask import Flask\n"
        "from flask_healthcheck import HealthCheck\n"
        "app = Flask('x'); app.config['HEALTHCHECK_FLEET_URL'] = 'redis://127.0.0.1:1/0'\n"
        "HealthCheck(app)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert "MissingDependencyError" in result.stderr
    assert "pip install 'flask-health-checks[fleet]'" in result.stderr
    assert "HEALTHCHECK_FLEET_URL" in result.stderr


def test_shared_must_be_a_flag_and_fleet_is_not_a_check_name() -> None:
    health = HealthCheck()
    with pytest.raises(ValueError, match="'shared' of check 'x' must be True or False"):
        health.add_check(lambda: (True, ""), name="x", shared="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="taken by an endpoint"):
        health.add_check(lambda: (True, ""), name="fleet")


def test_the_docs_quote_the_last_fleet_benchmark_and_it_met_its_targets() -> None:
    from bench.fleet import RESULTS, TABLE, table

    results = json.loads(RESULTS.read_text())
    assert TABLE.read_text() == table(results) + "\n"
    assert results["targets"]
    assert all(results["targets"].values())
    page = (RESULTS.parent.parent.parent / "docs" / "fleet.rst").read_text()
    assert "literalinclude:: ../bench/results/fleet.txt" in page
