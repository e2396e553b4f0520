"""A fleet of three gunicorn servers on loopback (two workers each, with and without
``--preload``), sharing a private Redis, each reaching the real PostgreSQL through a proxy of
its own that the test breaks: the acceptance of the fleet (docs/fleet.rst)."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .app_server import get
from .apps.fleet_app import TOKEN
from .gunicorn_server import Configuration, Gunicorn, gunicorn
from .services import POSTGRES, PrivateRedis, TcpProxy, require

#: Readiness must change within this many seconds: a Kubernetes probe period.
PROBE_PERIOD = 5.0
PODS = {
    "pod-1": Configuration("sync", preload=True, workers=2),
    "pod-2": Configuration("gthread", preload=False, workers=2),
    "pod-3": Configuration("sync", preload=False, workers=2),
}


@dataclass
class RunningPod:
    name: str
    server: Gunicorn
    proxy: TcpProxy
    sentry: Path
    changes: Path

    def ready(self) -> tuple[int, dict[str, Any]]:
        status, _, body = self.server.get("/healthz/ready")
        return status, json.loads(body)

    def database(self) -> dict[str, Any]:
        _, body = self.ready()
        return next(result for result in body["results"] if result["checker"] == "database")

    def fleet_changes(self) -> list[list[Any]]:
        return [
            json.loads(line)
            for path in self.changes.iterdir()
            for line in path.read_text().splitlines()
        ]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningPod]]:
    database = require(POSTGRES)
    store = PrivateRedis()
    store.start()
    with contextlib.ExitStack() as stack:
        stack.callback(store.close)
        calls = tmp_path_factory.mktemp("calls")
        pods = {}
        for name, configuration in PODS.items():
            tmp_path = tmp_path_factory.mktemp(name)
            proxy = TcpProxy(POSTGRES.host, POSTGRES.port)
            stack.callback(proxy.close)
            sentry, changes = tmp_path / "sentry", tmp_path / "changes"
            sentry.mkdir()
            changes.mkdir()
            environment = {
                "HEALTHCHECK_HOSTNAME": name,
                "HEALTHCHECK_FLEET_URL": store.url,
                "FLEET_DATABASE_URL": database.replace(f":{POSTGRES.port}/", f":{proxy.port}/"),
                "SENTRY_DIR": str(sentry),
                "CHANGES_DIR": str(changes),
                "CALLS_DIR": str(calls),  # one count of the expensive check for the fleet
            }
            server = stack.enter_context(
                gunicorn("fleet_app:create_app()", tmp_path, configuration, environment=environment)
            )
            pods[name] = RunningPod(name, server, proxy, sentry, changes)
        running = pods
        wait_until(lambda: every(running, lambda pod: pod.ready()[0] == 200), 30, "ready")
        yield running


def every(pods: dict[str, RunningPod], predicate: Callable[[RunningPod], bool]) -> bool:
    """*predicate* for each pod, every pod asked (a probe of each), as a kubelet does."""
    answers = [predicate(pod) for pod in pods.values()]
    return all(answers)


def wait_until(predicate: Callable[[], bool], seconds: float, what: str) -> float:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > seconds:
            raise AssertionError(f"not within {seconds} s: {what}")
        time.sleep(0.25)
    return time.monotonic() - started


def calls_of(check: str, pods: dict[str, RunningPod]) -> list[str]:
    """The calls of *check* on every pod (the pods share one directory of counts)."""
    path = Path(next(iter(pods.values())).server.environment["CALLS_DIR"]) / check
    return path.read_text().split() if path.exists() else []


def sentry_events(pods: dict[str, RunningPod]) -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for pod in pods.values() for path in pod.sentry.iterdir()]


def clear_sentry(pods: dict[str, RunningPod]) -> None:
    for pod in pods.values():
        for path in pod.sentry.iterdir():
            path.unlink()


def test_one_broken_path_drains_that_pod_only(fleet: dict[str, RunningPod]) -> None:
    clear_sentry(fleet)
    broken = fleet["pod-1"]
    broken.proxy.stop()
    try:
        took = wait_until(
            lambda: every(fleet, lambda pod: pod.ready()[0] == (503 if pod is broken else 200)),
            PROBE_PERIOD,
            "pod-1 out, the others in",
        )
        assert took < PROBE_PERIOD
        assert broken.database()["output"].startswith("local fault: 2 of 2 other pods pass")
        wait_until(lambda: bool(sentry_events(fleet)), 10, "the local fault's Sentry event")
        time.sleep(1.0)
        [event] = sentry_events(fleet)
        assert event["tags"]["healthcheck.fleet"] == "local"
        assert event["contexts"]["healthcheck"]["fleet"].startswith("local fault")
    finally:
        broken.proxy.start()
    wait_until(lambda: every(fleet, lambda pod: pod.ready()[0] == 200), 10, "all back")


def test_every_path_broken_keeps_every_pod_ready_with_one_sentry_event(
    fleet: dict[str, RunningPod],
) -> None:
    clear_sentry(fleet)
    for pod in fleet.values():
        pod.proxy.stop()
    try:
        wait_until(
            lambda: every(
                fleet, lambda pod: pod.database()["output"].startswith("degraded: fleet-wide")
            ),
            2 * PROBE_PERIOD,
            "every pod judging the outage",
        )
        wait_until(
            lambda: every(fleet, lambda pod: "(3 of 3 pods)" in pod.database()["output"]),
            PROBE_PERIOD,
            "every pod seeing the whole fleet fail",
        )
        notes_calls = len(calls_of("notes", fleet))
        # From then on, no probe of any pod drains it: the outage is the fleet's.
        until = time.monotonic() + 2.0
        while time.monotonic() < until:
            for pod in fleet.values():
                status, body = pod.ready()
                assert status == 200, (pod.name, body)
                assert body["degraded"] is True
                assert body["causes"] == ["database"]
                [notes] = [result for result in body["results"] if result["checker"] == "notes"]
                assert notes["output"].startswith("degraded: fleet-wide outage of database")
                assert notes["output"].endswith("not run: database is failing")
            time.sleep(0.1)
        # The check that needs the database is not called while it fails, on any pod.
        assert len(calls_of("notes", fleet)) == notes_calls
        wait_until(lambda: bool(sentry_events(fleet)), 10, "the outage's Sentry event")
        time.sleep(2.0)  # every pod's failure has settled by now
        [event] = sentry_events(fleet)
        assert event["tags"]["healthcheck.fleet"] == "outage"
        assert "fleet-wide outage of database" in event["message"]
        for pod in fleet.values():
            assert [change[:3] for change in pod.fleet_changes()] == [["database", False, True]]
    finally:
        for pod in fleet.values():
            pod.proxy.start()
    wait_until(
        lambda: every(fleet, lambda pod: pod.database()["status"] == "pass"),
        2 * PROBE_PERIOD,
        "every pod passing again",
    )
    for pod in fleet.values():
        assert pod.ready()[0] == 200
        # One recovery per server, whichever of its workers heard it.
        assert [change[:3] for change in pod.fleet_changes()] == [
            ["database", False, True],
            ["database", True, False],
        ]
    assert len(sentry_events(fleet)) == 1


def test_the_expensive_check_ran_once_for_the_whole_fleet(fleet: dict[str, RunningPod]) -> None:
    for pod in fleet.values():
        status, _, body = pod.server.get("/healthz/models")
        assert status == 200, body
    calls = calls_of("models", fleet)
    assert len(calls) == 1, calls


def test_the_fleet_view_shows_every_pod(fleet: dict[str, RunningPod]) -> None:
    pod = fleet["pod-2"]
    status, _, body = pod.server.get("/healthz/fleet")
    assert status == 401
    authorised = {"Authorization": f"Bearer {TOKEN}"}
    status, _, body = get(pod.server.url + "/healthz/fleet", headers=authorised)
    assert status == 200, body
    document = json.loads(body)
    assert {entry["name"] for entry in document["pods"]} == set(PODS)
    assert document["shared"]["database"]["pods"] == 3


def test_without_the_store_each_pod_decides_alone_quickly(fleet: dict[str, RunningPod]) -> None:
    # Last: it stops the store for good.
    store_url = fleet["pod-1"].server.environment["HEALTHCHECK_FLEET_URL"]
    port = int(store_url.rsplit(":", 1)[1].split("/")[0])
    import redis

    with contextlib.suppress(redis.ConnectionError), redis.Redis(port=port) as client:
        client.shutdown(nosave=True)
    broken = fleet["pod-3"]
    broken.proxy.stop()
    try:
        wait_until(
            lambda: every(fleet, lambda pod: pod.ready()[0] == (503 if pod is broken else 200)),
            PROBE_PERIOD,
            "pod-3 out on its own",
        )
        for _ in range(10):
            started = time.monotonic()
            status, _ = broken.ready()
            assert status == 503
            assert time.monotonic() - started < 2.0  # the store's timeout once, at most
        assert broken.database()["output"].startswith("local fault") is False
    finally:
        broken.proxy.start()
