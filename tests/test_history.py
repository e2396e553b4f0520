"""The history of each check: its recent runs, flaps and recoveries, at ``{path}/history``.

The history's sharing between the workers of a real gunicorn server is in
``tests/test_server_unit.py``; the page's sparklines in headless Chromium in
``tests/test_page.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from flask_healthcheck import ConfigurationError, HealthCheck
from flask_healthcheck.clock import ManualClock
from flask_healthcheck.history import extended, flaps, recoveries, summarize
from flask_healthcheck.page import sparkline
from flask_healthcheck.results import Sample

TOKEN = "history-token"


def samples(statuses: str, *, start: float = 100.0, step: float = 10.0) -> list[Sample]:
    """One sample per letter (p pass, w warn, f fail), *step* seconds apart."""
    words = {"p": "pass", "w": "warn", "f": "fail"}
    return [
        Sample(start + index * step, words[letter], 0.01) for index, letter in enumerate(statuses)
    ]


def test_flaps_count_changes_between_failing_and_not_failing() -> None:
    assert flaps(samples("")) == 0
    assert flaps(samples("pppp")) == 0
    assert flaps(samples("ppfp")) == 2
    assert flaps(samples("pwpw")) == 0  # a warning is not a failure
    assert flaps(samples("fpfpf")) == 4


def test_a_recovery_is_timed_from_the_first_failing_run_to_the_next_passing_one() -> None:
    assert recoveries(samples("ppffpfp")) == [20.0, 10.0]
    # A failure the window starts in, or one still going, has no known duration.
    assert recoveries(samples("ffpfff")) == []
    assert recoveries(samples("fwff")) == []


def test_the_summary_says_since_when_the_check_says_what_it_says() -> None:
    summary = summarize(samples("ppfffpp"), now=200.0)

    assert summary["runs"] == 7
    assert summary["passed"] == 4
    assert summary["flaps"] == 2
    assert summary["recoveries"] == 1
    assert summary["last_recovery_seconds"] == 30.0
    assert summary["status"] == "pass"
    assert summary["status_since"] == 150.0
    assert summary["seconds_in_status"] == 50.0
    assert summary["window_seconds"] == 100.0
    assert summarize([], now=5.0)["status"] is None


def test_the_history_keeps_the_newest_runs_up_to_its_size() -> None:
    kept: tuple[Sample, ...] = ()
    for sample in samples("pppff"):
        kept = extended(kept, sample, 3)
    assert [sample.status for sample in kept] == ["pass", "fail", "fail"]
    assert extended(kept, samples("p")[0], 1) == (samples("p")[0],)
    assert extended(kept, samples("p")[0], 0) == ()


def test_the_sparkline_draws_a_bar_per_run_coloured_by_status_and_sized_by_duration() -> None:
    runs = [Sample(1.0, "pass", 0.1), Sample(2.0, "fail", 1.0), Sample(3.0, "warn", 0.5)]

    svg = sparkline(runs)

    assert svg.startswith('<svg class="spark"')
    assert "<script" not in svg
    assert svg.count("<rect ") == 3
    assert {'class="s-pass"', 'class="s-fail"', 'class="s-warn"'} <= set(svg.split(" "))
    assert 'aria-label="last 3 runs: 1 failed, slowest 1.00 s"' in svg
    # The slowest run's bar is the whole height; the others in proportion, never under 4.
    assert 'class="s-fail" x="112" y="0.0" width="3" height="32.0"' in svg
    assert 'height="6.8"' in svg
    assert "no run yet" in sparkline([])


@pytest.fixture
def flaky(health: HealthCheck, clock: ManualClock) -> list[bool]:
    """A check whose next answers the test sets; results are never reused."""
    answers: list[bool] = []

    @health.check(success_ttl=0, failed_ttl=0, fail_after=2)
    def database() -> tuple[bool, str]:
        clock.advance(0.25)  # the call takes a quarter of a second
        passed = answers.pop(0)
        return passed, "up" if passed else "connection refused to db.internal"

    return answers


def history_of(app: Flask, query: str = "", **headers: str) -> tuple[int, dict[str, Any]]:
    response = app.test_client().get(f"/healthz/history{query}", headers=headers)
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    return response.status_code, response.get_json()


#: No start-up gate: its thread would run the check too, taking the answers meant for requests.
NO_GATE: dict[str, Any] = {"HEALTHCHECK_STARTUP_GATE": []}


def run_readiness(app: Flask, clock: ManualClock, times: int) -> None:
    client = app.test_client()
    for _ in range(times):
        client.get("/healthz/ready")
        clock.advance(10)


def test_the_history_endpoint_tells_each_run_with_flaps_and_recoveries(
    flaky: list[bool], make_app: Callable[..., Flask], clock: ManualClock
) -> None:
    app = make_app(HEALTHCHECK_TOKEN=TOKEN, **NO_GATE)
    flaky += [True, True, False, False, True, False, True]
    run_readiness(app, clock, 7)

    status, document = history_of(app)

    assert status == 200
    history = document["checks"]["database"]
    # What the check said, before the failure tolerance: its first failure was reported as a
    # warning, and still counts here.
    assert [sample["status"] for sample in history["samples"]] == [
        "pass", "pass", "fail", "fail", "pass", "fail", "pass",
    ]  # fmt: skip
    assert {sample["duration"] for sample in history["samples"]} == {0.25}
    assert history["flaps"] == 4
    assert history["recoveries"] == 2
    # From the end of the first failing run to the end of the next passing one.
    assert history["last_recovery_seconds"] == 10.25
    assert history["longest_recovery_seconds"] == 20.5
    assert history["status"] == "pass"
    assert document["size"] == 60
    # Statuses, times and durations only: no output, even for the token's holder.
    assert "connection refused" not in str(history_of(app, Authorization=f"Bearer {TOKEN}"))


def test_the_history_keeps_the_configured_number_of_runs(
    flaky: list[bool], make_app: Callable[..., Flask], clock: ManualClock
) -> None:
    app = make_app(HEALTHCHECK_HISTORY_SIZE=3, **NO_GATE)
    flaky += [False, False, True, True, True]
    run_readiness(app, clock, 5)

    _, document = history_of(app)

    history = document["checks"]["database"]
    assert [sample["status"] for sample in history["samples"]] == ["pass"] * 3
    assert (history["runs"], history["flaps"]) == (3, 0)


def test_requests_answered_from_the_cache_add_no_run(
    health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    health.add_check(lambda: (True, "ok"), name="cached", success_ttl=60)
    app = make_app()
    client = app.test_client()
    for _ in range(5):
        assert client.get("/healthz/ready").status_code == 200

    assert history_of(app)[1]["checks"]["cached"]["runs"] == 1


def test_a_timed_out_run_is_a_failed_run_of_the_timeout(
    health: HealthCheck, make_app: Callable[..., Flask], release: Any
) -> None:
    health.add_check(lambda: release.wait(30) or (True, "late"), name="hung", timeout=0.1)
    app = make_app()

    assert app.test_client().get("/healthz/ready").status_code == 503

    samples = history_of(app)[1]["checks"]["hung"]["samples"]
    assert [sample["status"] for sample in samples] == ["fail"]
    assert samples[0]["duration"] >= 0.1


def test_check_selects_some_checks_and_an_unknown_one_is_404(
    flaky: list[bool], health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    health.add_check(lambda: (True, "ok"), name="cache")
    app = make_app()

    assert set(history_of(app, "?check=cache")[1]["checks"]) == {"cache"}
    assert set(history_of(app, "?check=cache,database")[1]["checks"]) == {"cache", "database"}
    status, body = history_of(app, "?check=nope")
    assert status == 404
    assert "nope" in body["error"]
    assert history_of(app, "?format=text")[0] == 400


def test_a_wrong_token_is_refused_as_on_the_report(
    flaky: list[bool], make_app: Callable[..., Flask]
) -> None:
    app = make_app(HEALTHCHECK_TOKEN=TOKEN)

    status, body = history_of(app, Authorization="Bearer wrong")

    assert (status, body["error"]) == (401, "invalid token")
    assert history_of(app, Authorization=f"Bearer {TOKEN}")[0] == 200


def test_no_history_is_kept_or_served_at_size_zero(
    flaky: list[bool], make_app: Callable[..., Flask], clock: ManualClock
) -> None:
    app = make_app(HEALTHCHECK_HISTORY_SIZE=0, **NO_GATE)
    flaky.append(True)
    run_readiness(app, clock, 1)

    status, body = history_of(app)

    assert status == 404
    assert "HEALTHCHECK_HISTORY_SIZE" in body["error"]
    assert health_state(app).runner.history("database") == ()
    page = app.test_client().get("/healthz?format=html").get_data(as_text=True)
    assert "<svg" not in page


def health_state(app: Flask) -> Any:
    return app.extensions["healthcheck"].state(app)


@pytest.mark.parametrize("value", [-1, 1001, 2.5, "60", True])
def test_a_bad_history_size_fails_at_init_app_naming_the_key(
    make_app: Callable[..., Flask], value: object
) -> None:
    with pytest.raises(ConfigurationError, match="HEALTHCHECK_HISTORY_SIZE"):
        make_app(HEALTHCHECK_HISTORY_SIZE=value)


def test_history_is_a_reserved_check_name(health: HealthCheck) -> None:
    with pytest.raises(ValueError, match="history"):
        health.add_check(lambda: (True, ""), name="history")


def test_the_page_draws_no_sparkline_for_the_app_own_state(
    flaky: list[bool], health: HealthCheck, make_app: Callable[..., Flask], clock: ManualClock
) -> None:
    app = make_app(**NO_GATE)
    flaky.append(True)
    health.set_ready(False, "maintenance", app=app)

    page = app.test_client().get("/healthz?format=html").get_data(as_text=True)

    assert "<h2>readiness</h2>" in page
    assert page.count('<svg class="spark"') == 1  # the check's; the readiness state has none
