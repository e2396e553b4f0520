from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
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

from flask_healthcheck import ConfigurationError, HealthCheck, MissingDependencyError, Outcome

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


def test_metrics_setting_must_be_a_bool(make_app: Callable[..., Flask]) -> None:
    with pytest.raises(ConfigurationError, match="HEALTHCHECK_METRICS must be True or False"):
        make_app(HEALTHCHECK_METRICS="yes")


def test_without_prometheus_client_metrics_answer_501_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch, health: HealthCheck, client: FlaskClient, app: Flask
) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # import raises ImportError

    response = client.get("/healthz/metrics")

    assert response.status_code == 501
    assert "pip install 'flask-healthcheck[prometheus]'" in response.json["error"]
    with pytest.raises(MissingDependencyError, match=r"flask-healthcheck\[prometheus\]"):
        health.metrics(app).register(CollectorRegistry())
    assert client.get("/healthz").status_code == 200


def test_prometheus_client_is_imported_only_when_metrics_are_asked_for() -> None:
    program = """
import sys
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
