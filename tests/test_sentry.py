"""Sentry, for real: sentry_sdk with a transport that keeps envelopes in memory."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sentry_sdk
from flask import Flask
from sentry_sdk.integrations.flask import FlaskIntegration

from flask_healthcheck import CheckError, HealthCheck

from .conftest import wait_until
from .sentry_capture import DSN, MemoryTransport

FAST = {"HEALTHCHECK_SUCCESS_TTL": 0, "HEALTHCHECK_FAILED_TTL": 0}


@pytest.fixture
def sentry() -> Iterator[Callable[..., MemoryTransport]]:
    """Initialise the real sentry_sdk with a memory transport; reset it afterwards."""

    def init(**options: Any) -> MemoryTransport:
        transport = MemoryTransport()
        sentry_sdk.init(dsn=DSN, transport=transport, **options)
        return transport

    yield init
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)  # inactive again for the tests that follow


def tag(event: dict[str, Any]) -> str | None:
    return event.get("tags", {}).get("healthcheck.check")  # type: ignore[no-any-return]


def settle() -> None:
    """Events are sent from a check's thread after it answered; give them a moment."""
    time.sleep(0.2)


def test_exception_in_a_check_is_captured_with_the_check_name_as_tag(
    sentry: Callable[..., MemoryTransport], health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    transport = sentry()

    @health.check
    def database() -> tuple[bool, str]:
        raise ConnectionError("db is down")

    health.add_check(lambda: (True, "ok"), name="fine")
    client = make_app(**FAST).test_client()

    assert client.get("/healthz").status_code == 503

    assert wait_until(lambda: bool(transport.events()))
    settle()
    [event] = transport.events()
    assert tag(event) == "database"
    [exception] = event["exception"]["values"]
    assert exception["type"] == "ConnectionError"
    assert exception["value"] == "db is down"
    assert event["level"] == "error"


def test_check_error_sends_its_cause(
    sentry: Callable[..., MemoryTransport], health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    transport = sentry()

    @health.check
    def cache() -> tuple[bool, str]:
        try:
            raise TimeoutError("redis read timed out")
        except TimeoutError as exc:
            raise CheckError("cache unreachable") from exc

    make_app(**FAST).test_client().get("/healthz")

    assert wait_until(lambda: bool(transport.events()))
    [event] = transport.events()
    assert tag(event) == "cache"
    assert event["exception"]["values"][-1]["type"] == "TimeoutError"


def test_returned_failure_sends_a_message_event(
    sentry: Callable[..., MemoryTransport], health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    transport = sentry()
    health.add_check(lambda: (False, "replica lag 40 s"), name="replica")

    make_app(**FAST).test_client().get("/healthz")

    assert wait_until(lambda: bool(transport.events()))
    [event] = transport.events()
    assert tag(event) == "replica"
    assert "replica lag 40 s" in str(event.get("message") or event.get("logentry"))


def test_one_event_per_transition_not_per_request(
    sentry: Callable[..., MemoryTransport], health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    transport = sentry()
    healthy = threading.Event()
    healthy.set()

    @health.check
    def flappy() -> tuple[bool, str]:
        if not healthy.is_set():
            raise ConnectionError("down")
        return True, "up"

    client = make_app(**FAST).test_client()

    assert client.get("/healthz").status_code == 200
    healthy.clear()
    for _ in range(20):
        assert client.get("/healthz").status_code == 503
    assert wait_until(lambda: bool(transport.events()))
    settle()
    assert len(transport.events()) == 1

    healthy.set()
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    healthy.clear()
    for _ in range(20):
        assert client.get("/healthz").status_code == 503

    assert wait_until(lambda: len(transport.events()) >= 2)
    settle()
    events = transport.events()
    assert len(events) == 2
    assert [tag(event) for event in events] == ["flappy", "flappy"]


def test_hung_check_sends_one_event_however_many_requests_time_out(
    sentry: Callable[..., MemoryTransport],
    health: HealthCheck,
    make_app: Callable[..., Flask],
    release: threading.Event,
) -> None:
    transport = sentry()
    health.add_check(release.wait, name="hung", timeout=0.1)
    client = make_app(**FAST).test_client()

    for _ in range(10):
        assert client.get("/healthz").status_code == 503

    assert wait_until(lambda: bool(transport.events()))
    settle()
    [event] = transport.events()
    assert tag(event) == "hung"


def test_url_password_is_masked_in_the_sentry_event(
    sentry: Callable[..., MemoryTransport], health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    transport = sentry()

    @health.check
    def database() -> tuple[bool, str]:
        url = "postgresql://user:pw-51c2e9@host/db"
        raise ConnectionError(f"cannot connect to {url}")

    make_app(**FAST).test_client().get("/healthz")

    assert wait_until(lambda: bool(transport.events()))
    [event] = transport.events()
    assert "postgresql://user:***@host/db" in event["exception"]["values"][0]["value"]
    assert "pw-51c2e9" not in repr(event)  # not "secret": SecretStorage is an installed module


def test_secret_local_variables_and_mapping_keys_are_masked_in_the_sentry_event(
    sentry: Callable[..., MemoryTransport], health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    transport = sentry()  # sentry_sdk sends the frames' local variables by default

    @health.check
    def payments() -> tuple[bool, str]:
        webhook_signature = "k-7d1e-local"  # a name sentry_sdk's own scrubber does not know
        settings = {"client_secret": "s-93af-dict", "region": "eu-west-1"}
        raise ConnectionError(f"refused {len(webhook_signature) + len(settings)} attempts")

    make_app(**FAST).test_client().get("/healthz")

    assert wait_until(lambda: bool(transport.events()))
    [event] = transport.events()
    text = repr(event)
    assert "k-7d1e-local" not in text
    assert "s-93af-dict" not in text
    assert "eu-west-1" in text  # what is not secret stays readable
    frame = event["exception"]["values"][0]["stacktrace"]["frames"][-1]
    assert frame["vars"]["webhook_signature"] == "***"


def test_health_endpoints_are_not_sent_as_transactions_but_other_routes_are(
    sentry: Callable[..., MemoryTransport], health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    transport = sentry(traces_sample_rate=1.0, integrations=[FlaskIntegration()])
    health.add_check(lambda: (True, "ok"), name="db")
    health.add_check(lambda: (True, "alive"), name="loop", tags="live")
    app = make_app(**FAST)
    app.add_url_rule("/orders", "orders", lambda: "orders")
    client = app.test_client()

    for path in (
        "/healthz",
        "/healthz/live",
        "/healthz/ready",
        "/healthz/startup",
        "/healthz/db",
        "/healthz/nope",
        "/healthz?format=yaml",
    ):
        client.get(path)
    assert client.get("/orders").text == "orders"

    assert wait_until(lambda: bool(transport.transactions()))
    settle()
    assert [t["transaction"] for t in transport.transactions()] == ["orders"]


def test_plain_liveness_probe_is_not_sent_as_a_transaction(
    sentry: Callable[..., MemoryTransport], health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    # No check is tagged "live", so the cheapest liveness path answers this probe.
    transport = sentry(traces_sample_rate=1.0, integrations=[FlaskIntegration()])
    app = make_app()
    app.add_url_rule("/orders", "orders", lambda: "orders")
    client = app.test_client()

    for _ in range(3):
        assert client.get("/healthz/live").status_code == 200
    client.get("/orders")

    assert wait_until(lambda: bool(transport.transactions()))
    settle()
    assert [t["transaction"] for t in transport.transactions()] == ["orders"]


def test_sentry_setting_false_sends_nothing(
    sentry: Callable[..., MemoryTransport], health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    transport = sentry()

    @health.check
    def database() -> tuple[bool, str]:
        raise ConnectionError("db is down")

    health.add_check(lambda: (False, "down"), name="returned")
    client = make_app(HEALTHCHECK_SENTRY=False, **FAST).test_client()

    for _ in range(3):
        assert client.get("/healthz").status_code == 503

    time.sleep(0.3)
    assert transport.events() == []


def test_without_sentry_initialised_failures_send_nothing_and_answer(
    health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    assert not sentry_sdk.get_client().is_active()
    health.add_check(lambda: (False, "down"), name="down")

    assert make_app(**FAST).test_client().get("/healthz").status_code == 503
