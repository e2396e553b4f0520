"""The app's own availability: liveness, readiness and the start-up latch."""

from __future__ import annotations

import time

from flask import Flask
from flask.testing import FlaskClient

from flask_healthcheck import AvailabilityState, HealthCheck
from flask_healthcheck.availability import Availability


def test_a_new_app_is_live_and_ready_but_not_started() -> None:
    availability = Availability()

    assert availability.liveness.available is True
    assert availability.readiness.available is True
    assert availability.started is False


def test_set_ready_records_the_reason_and_when() -> None:
    availability = Availability()
    before = time.time()

    availability.set_ready(False, "maintenance")

    state = availability.readiness
    assert isinstance(state, AvailabilityState)
    assert (state.available, state.reason) == (False, "maintenance")
    assert before <= state.since <= time.time()
    assert availability.liveness.available is True


def test_set_live_leaves_readiness_alone() -> None:
    availability = Availability()

    availability.set_live(False, "deadlock")

    assert availability.liveness == AvailabilityState(
        False, "deadlock", availability.liveness.since
    )
    assert availability.readiness.available is True


def test_start_up_latch_never_turns_back() -> None:
    availability = Availability()
    availability.record_pass("db")

    assert availability.not_yet_passed(["db", "cache"]) == ["cache"]
    availability.mark_started()
    availability.set_ready(False)
    availability.set_live(False)

    assert availability.started is True


def test_readiness_reason_shows_in_every_format(
    health: HealthCheck, app: Flask, client: FlaskClient
) -> None:
    health.set_ready(False, "draining before shutdown")

    for fmt in ("json", "health%2Bjson", "text"):
        response = client.get(f"/healthz/ready?format={fmt}")
        assert response.status_code == 503
        assert "draining before shutdown" in response.text


def test_not_ready_without_a_reason_says_so(
    health: HealthCheck, app: Flask, client: FlaskClient
) -> None:
    health.set_ready(False)

    assert client.get("/healthz/ready").json["results"][0]["output"] == "not ready"


def test_availability_shows_in_the_full_report_without_failing_it(
    health: HealthCheck, app: Flask, client: FlaskClient
) -> None:
    health.add_check(lambda: (True, "ok"), name="db")
    assert [r["checker"] for r in client.get("/healthz").json["results"]] == ["db"]
    health.set_ready(False, "maintenance")
    health.set_live(False, "stuck")

    report = client.get("/healthz")
    assert report.status_code == 200  # the checks' verdict: the app's own word degrades it
    assert report.json["degraded"] is True
    assert report.json["warnings"] == ["liveness", "readiness"]
    outputs = {r["checker"]: (r["passed"], r["output"]) for r in report.json["results"]}
    assert outputs == {
        "liveness": (False, "stuck"),
        "readiness": (False, "maintenance"),
        "db": (True, "ok"),
    }
    assert "[-]readiness failed (non-critical): maintenance" in client.get("/healthz?verbose").text
    assert client.get("/healthz/db").status_code == 200
    assert [r["checker"] for r in client.get("/healthz/db").json["results"]] == ["db"]

    health.set_ready(True)
    health.set_live(True)
    assert [r["checker"] for r in client.get("/healthz").json["results"]] == ["db"]
