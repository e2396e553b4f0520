"""``depends_on``: a check is not called while a check it needs fails, and only the root cause
is logged, alerted and heard by listeners."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sentry_sdk
from flask import Flask
from flask.testing import FlaskClient

from flask_healthcheck import HealthCheck, StatusChange
from flask_healthcheck.clock import ManualClock

from .conftest import wait_until
from .sentry_capture import MemoryTransport, capture


class Service:
    """A dependency the test switches, and how often each check called it."""

    def __init__(self) -> None:
        self.up = True
        self.calls: dict[str, int] = {}

    def call(self, name: str, works: bool = True) -> tuple[bool, str]:
        self.calls[name] = self.calls.get(name, 0) + 1
        return self.up and works, "answered" if self.up and works else "connection refused"


@pytest.fixture
def service() -> Service:
    return Service()


@pytest.fixture
def changes(health: HealthCheck) -> list[StatusChange]:
    heard: list[StatusChange] = []
    health.on_change(heard.append)
    return heard


@pytest.fixture
def chain(health: HealthCheck, service: Service) -> None:
    """``database``; ``notes`` needs it; ``search`` needs ``notes``; ``cache`` stands alone."""
    health.add_check(lambda: service.call("database"), name="database")
    health.add_check(lambda: service.call("notes"), name="notes", depends_on="database")
    health.add_check(lambda: service.call("search"), name="search", depends_on=["notes"])
    health.add_check(lambda: service.call("cache"), name="cache", critical=False)


@pytest.fixture
def uncached(chain: None, make_app: Callable[..., Flask]) -> FlaskClient:
    app = make_app(HEALTHCHECK_SUCCESS_TTL=0, HEALTHCHECK_FAILED_TTL=0)
    return app.test_client()


def results(client: FlaskClient, path: str) -> tuple[int, dict[str, Any], dict[str, Any]]:
    response = client.get(path)
    body = response.get_json()
    return response.status_code, body, {result["checker"]: result for result in body["results"]}


def test_a_dependent_check_is_not_called_while_its_dependency_fails(
    uncached: FlaskClient, service: Service
) -> None:
    service.up = False
    for path in ("/healthz", "/healthz/ready", "/healthz/notes", "/healthz/search"):
        for _ in range(3):
            status, _, _ = results(uncached, path)
            assert status == 503
    assert service.calls.get("notes", 0) == 0
    assert service.calls.get("search", 0) == 0
    assert service.calls["database"] > 0


def test_the_report_names_the_root_cause_once(uncached: FlaskClient, service: Service) -> None:
    service.up = False
    status, body, by_name = results(uncached, "/healthz")
    assert status == 503
    assert body["causes"] == ["database"]
    assert by_name["database"]["output"] == "connection refused"
    assert "cause" not in by_name["database"]
    for name in ("notes", "search"):  # search needs notes, which needs database: the root
        assert by_name[name]["output"] == "not run: database is failing"
        assert by_name[name]["cause"] == "database"
        assert by_name[name]["passed"] is False
    assert by_name["cache"]["output"] == "connection refused"  # on its own: no cause
    text = uncached.get("/healthz?format=text").get_data(as_text=True)
    assert "[-]notes failed: not run: database is failing" in text


def test_a_passing_report_has_no_causes(uncached: FlaskClient) -> None:
    status, body, by_name = results(uncached, "/healthz")
    assert status == 200
    assert "causes" not in body
    assert by_name["notes"]["output"] == "answered"


def test_a_dependency_left_out_of_the_request_is_still_looked_at(
    uncached: FlaskClient, service: Service
) -> None:
    status, _, by_name = results(uncached, "/healthz/search")
    assert status == 200
    assert list(by_name) == ["search"]  # notes and database ran, but are not shown
    assert service.calls == {"database": 1, "notes": 1, "search": 1}
    service.up = False
    status, _, by_name = results(uncached, "/healthz/search")
    assert status == 503
    assert by_name["search"]["output"] == "not run: database is failing"
    assert service.calls["search"] == 1


def test_only_the_root_cause_reaches_the_listeners_and_the_log(
    uncached: FlaskClient,
    service: Service,
    changes: list[StatusChange],
    caplog: pytest.LogCaptureFixture,
) -> None:
    results(uncached, "/healthz")
    changes.clear()
    caplog.clear()
    service.up = False
    results(uncached, "/healthz")
    assert wait_until(lambda: any(change.name == "database" for change in changes))
    checks = [(change.name, change.passed) for change in changes if change.kind == "check"]
    assert sorted(checks) == [("cache", False), ("database", False)]
    failed = [record.getMessage() for record in caplog.records if "failed after" in record.message]
    assert [message.split()[1] for message in failed if message.startswith("check")] in (
        ["database", "cache"],
        ["cache", "database"],
    )


def test_recovery_runs_the_dependents_again_without_a_change_of_their_own(
    uncached: FlaskClient, service: Service, changes: list[StatusChange]
) -> None:
    results(uncached, "/healthz")
    service.up = False
    results(uncached, "/healthz")
    service.up = True
    status, _, by_name = results(uncached, "/healthz")
    assert status == 200
    assert by_name["notes"]["output"] == "answered"
    assert service.calls["notes"] == 2
    assert wait_until(
        lambda: ("database", True) in [(c.name, c.passed) for c in changes if c.kind == "check"]
    )
    # notes passed before the outage and after it: it never changed, so nobody hears of it.
    assert [c for c in changes if c.kind == "check" and c.name == "notes"] == [
        change for change in changes if change.name == "notes" and change.previous is None
    ]


transport = pytest.fixture(capture, name="transport")


def test_only_the_root_cause_goes_to_sentry(
    health: HealthCheck, make_app: Callable[..., Flask], transport: MemoryTransport
) -> None:
    def database() -> tuple[bool, str]:
        raise ConnectionError("database unreachable")

    def notes() -> tuple[bool, str]:
        raise RuntimeError("would have failed too")

    health.add_check(database)
    health.add_check(notes, depends_on="database")
    client = make_app(HEALTHCHECK_FAILED_TTL=0).test_client()
    for _ in range(3):
        assert client.get("/healthz").status_code == 503

    def sent() -> bool:
        sentry_sdk.flush(1)
        return bool(transport.events())

    assert wait_until(sent)
    sentry_sdk.flush(1)
    assert [event["tags"]["healthcheck.check"] for event in transport.events()] == ["database"]


def test_a_background_dependent_is_not_called_while_its_dependency_fails(
    health: HealthCheck, make_app: Callable[..., Flask], service: Service, clock: ManualClock
) -> None:
    health.add_check(lambda: service.call("database"), name="database")
    health.add_check(lambda: service.call("models"), name="models", period=1, depends_on="database")
    app = make_app(HEALTHCHECK_FAILED_TTL=0, HEALTHCHECK_SUCCESS_TTL=0)
    client = app.test_client()
    assert wait_until(lambda: service.calls.get("models", 0) == 1)  # the first background run
    service.up = False
    assert client.get("/healthz").status_code == 503  # the database's failure is known now
    for _ in range(3):
        clock.advance(1.0)  # the scheduler's rounds
        health.state(app).scheduler.wake()
    _, _, by_name = results(client, "/healthz")
    assert by_name["models"]["output"] == "not run: database is failing"
    assert service.calls["models"] == 1
    service.up = True
    assert client.get("/healthz/database").status_code == 200
    clock.advance(1.0)
    assert wait_until(lambda: service.calls["models"] == 2)


def test_health_run_follows_the_dependencies(
    health: HealthCheck, chain: None, make_app: Callable[..., Flask], service: Service
) -> None:
    app = make_app(HEALTHCHECK_FAILED_TTL=0)
    service.up = False
    with app.app_context():
        report = health.run(["search"])
    [search] = report.results
    assert search.output == "not run: database is failing"
    assert search.cause == "database"
    assert "search" not in service.calls


def test_an_unknown_dependency_or_a_cycle_fails_at_init_app(health: HealthCheck) -> None:
    health.add_check(lambda: (True, ""), name="notes", depends_on="databse")
    with pytest.raises(ValueError, match="check 'notes' depends on 'databse', which is not"):
        health.init_app(Flask("unknown_dependency"))
    other = HealthCheck()
    other.add_check(lambda: (True, ""), name="a", depends_on="b")
    other.add_check(lambda: (True, ""), name="b", depends_on="c")
    other.add_check(lambda: (True, ""), name="c", depends_on="a")
    with pytest.raises(ValueError, match="in a cycle: a -> b -> c -> a"):
        other.init_app(Flask("cycle"))


def test_after_init_app_a_dependency_must_be_registered_first(
    health: HealthCheck, app: Flask
) -> None:
    with pytest.raises(ValueError, match="register the checks it depends on first"):
        health.add_check(lambda: (True, ""), name="notes", depends_on="database")
    assert "notes" not in [spec.name for spec in health.checks]
    health.add_check(lambda: (True, ""), name="database")
    health.add_check(lambda: (True, ""), name="notes", depends_on="database")


@pytest.mark.parametrize(
    ("depends_on", "says"),
    [
        (3, "must be a check's name or a list of them"),
        (["ok", ""], "must be a check's name or a list of them"),
        ("self", "cannot depend on itself"),
    ],
)
def test_a_bad_depends_on_is_refused(health: HealthCheck, depends_on: object, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        health.add_check(lambda: (True, ""), name="self", depends_on=depends_on)  # type: ignore[arg-type]
