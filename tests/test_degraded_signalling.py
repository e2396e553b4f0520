"""A degraded answer in the load balancers' own terms: a status of its own (Consul reads 429 as
"warning") and Envoy's ``x-envoy-degraded`` header."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from flask_healthcheck import ConfigurationError, HealthCheck


@pytest.fixture
def state(health: HealthCheck) -> dict[str, bool]:
    """``database`` (critical) and ``cache`` (not critical), each passing while its flag is."""
    flags = {"database": True, "cache": True}
    health.add_check(lambda: (flags["database"], "database"), name="database")
    health.add_check(lambda: (flags["cache"], "cache"), name="cache", critical=False)
    return flags


UNCACHED = {"HEALTHCHECK_SUCCESS_TTL": 0, "HEALTHCHECK_FAILED_TTL": 0}


def answers(app: Flask, path: str) -> list[tuple[int, str | None]]:
    client = app.test_client()
    return [
        (response.status_code, response.headers.get("x-envoy-degraded"))
        for response in (client.get(path), client.get(path, headers={"Accept": "application/json"}))
    ]


def test_by_default_a_degraded_answer_is_a_plain_200(
    state: dict[str, bool], make_app: Callable[..., Flask]
) -> None:
    app = make_app(**UNCACHED)
    state["cache"] = False
    assert answers(app, "/healthz/ready") == [(200, None), (200, None)]


def test_a_degraded_status_and_the_envoy_header_when_configured(
    state: dict[str, bool], make_app: Callable[..., Flask]
) -> None:
    app = make_app(HEALTHCHECK_DEGRADED_STATUS=429, HEALTHCHECK_ENVOY_DEGRADED=True, **UNCACHED)
    assert answers(app, "/healthz/ready") == [(200, None), (200, None)]  # healthy
    state["cache"] = False
    assert answers(app, "/healthz/ready") == [(429, "true"), (429, "true")]  # degraded
    assert answers(app, "/healthz") == [(429, "true"), (429, "true")]
    state["database"] = False
    assert answers(app, "/healthz/ready") == [(503, None), (503, None)]  # failing wins


def test_the_liveness_fast_path_answers_degraded_the_same_way(
    health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    app = make_app(HEALTHCHECK_DEGRADED_STATUS=429, HEALTHCHECK_ENVOY_DEGRADED=True)
    health.set_ready(True, app=app)
    response = app.test_client().get("/healthz/live", headers={"Accept": "application/json"})
    assert response.status_code == 200  # nothing degrades liveness here
    assert "x-envoy-degraded" not in response.headers


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("HEALTHCHECK_DEGRADED_STATUS", 100, "HTTP status code from 200 to 599"),
        ("HEALTHCHECK_DEGRADED_STATUS", "429", "HTTP status code from 200 to 599"),
        ("HEALTHCHECK_ENVOY_DEGRADED", "yes", "must be True or False"),
    ],
)
def test_a_bad_degraded_setting_fails_at_init_app_naming_the_key(
    make_app: Callable[..., Flask], key: str, value: object, says: str
) -> None:
    with pytest.raises(ConfigurationError, match=key) as caught:
        make_app(**{key: value})
    assert says in str(caught.value)
