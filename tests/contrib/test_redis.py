"""RedisCheck against the real Redis, private redis-servers and the faults they make."""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest
import redis
from flask import Flask
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from flask_healthcheck import CheckError, HealthCheck, MissingDependencyError
from flask_healthcheck.contrib.redis import RedisCheck
from tests.contrib.reports import TOKEN, seen
from tests.services import REDIS, BlackHole, PrivateRedis, free_port, private_redis, require

PASSWORD = "s3cret"


@pytest.fixture
def redis_url() -> str:
    return require(REDIS)


@pytest.fixture(scope="module")
def secured_port() -> Iterator[int]:
    """A private redis-server of this module's own, with a password and the default 16 dbs."""
    with private_redis("--requirepass", PASSWORD) as port:
        yield port


def _wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


class RecordingConnection(redis.Connection):
    """A real connection that remembers the commands sent on it."""

    sent: ClassVar[list[tuple[Any, ...]]] = []

    def send_command(self, *args: Any, **kwargs: Any) -> None:
        type(self).sent.append(args)
        super().send_command(*args, **kwargs)


class CountingPool(redis.ConnectionPool):
    """A real pool that counts the connections it opens."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.made = 0

    def make_connection(self) -> Any:
        self.made += 1
        return super().make_connection()


def test_passes_on_real_redis_and_reports_latency(redis_url: str) -> None:
    outcome = RedisCheck(redis_url)()
    assert outcome.passed
    assert outcome.output.startswith("answered PING and SET/GET in ")
    assert outcome.output.endswith(" ms")
    assert outcome.detail == f"redis at 127.0.0.1:6379: {outcome.output}"
    assert outcome.observed_unit == "ms"
    assert isinstance(outcome.observed_value, float)
    assert outcome.observed_value > 0


def test_app_client_is_probed_with_its_settings_but_never_through_its_pool(
    secured_port: int,
) -> None:
    recorder = type("Recorder", (RecordingConnection,), {"sent": []})
    pool = CountingPool(
        host="127.0.0.1", port=secured_port, password=PASSWORD, connection_class=recorder
    )
    client = redis.Redis(connection_pool=pool)
    check = RedisCheck(client)
    for _ in range(3):
        assert check().passed  # the password is the client's
    assert pool.made == 0  # no connection of the app's was taken or left with other timeouts
    probe = [args for args in recorder.sent if args[0] in {"PING", "SET", "GET", "DEL"}]
    assert [args[0] for args in probe] == ["PING", "SET", "GET", "DEL"] * 3
    _, key, _, px, milliseconds = probe[1]
    assert key.startswith("flask_healthcheck:probe:")
    assert px == "PX"
    assert 0 < milliseconds <= 10_000
    assert probe[2] == ("GET", key)
    assert probe[3] == ("DEL", key)
    check.close()  # leaves the app's client alone
    assert client.ping()
    assert pool.made == 1
    pool.disconnect()


def test_app_client_with_retries_and_backoff_is_reported_refused_not_timed_out(
    make_app: Callable[..., Flask], health: HealthCheck
) -> None:
    server = PrivateRedis()
    try:
        server.start()
        # Up to 4 retries waiting 0.5, 1, 1 and 1 s: 3.5 s of backoff before the client says
        # anything, longer than the check's timeout.
        client = redis.Redis(
            host="127.0.0.1",
            port=server.port,
            retry=Retry(ExponentialBackoff(cap=1.0, base=0.5), 4),
            retry_on_error=[redis.ConnectionError],
        )
        check = RedisCheck(client, timeout=2, success_ttl=0, failed_ttl=0)
        health.add_check(check)
        client_http = make_app(HEALTHCHECK_TOKEN=TOKEN).test_client()
        assert seen(client_http, "redis").status_code == 200
        server.stop()

        refused = seen(client_http, "redis")

        assert refused.status_code == 503
        assert refused.public_output == "connection refused"
        assert refused.detailed_output == f"redis at 127.0.0.1:{server.port}: connection refused"
        runner = health.state(client_http.application).runner
        assert _wait_until(lambda: runner.in_flight_count() == 0, 1.0), "backoff holds a thread"
        assert client.connection_pool.connection_kwargs["retry"].get_retries() == 4
        server.start()
        assert seen(client_http, "redis").status_code == 200
        check.close()
        client.close()
    finally:
        server.close()


def test_kept_connection_is_replaced_after_a_server_restart() -> None:
    server = PrivateRedis()
    try:
        server.start()
        check = RedisCheck(f"redis://127.0.0.1:{server.port}/0")
        assert check().passed
        server.stop()
        server.start()

        assert check().passed  # not "connection closed": the dead connection was replaced
        check.close()
    finally:
        server.close()


def test_check_keeps_one_connection_and_close_disconnects_it(redis_url: str) -> None:
    client_name = f"test-probe-{uuid.uuid4().hex}"
    check = RedisCheck(redis_url, client_options={"client_name": client_name})
    observer = redis.Redis.from_url(redis_url)

    def connections() -> int:
        return sum(1 for entry in observer.client_list() if entry["name"] == client_name)

    try:
        for _ in range(3):
            assert check().passed
        assert connections() == 1
        check.close()
        assert _wait_until(lambda: connections() == 0, 5)
        assert check().passed  # a closed check connects again when it runs again
    finally:
        check.close()
        observer.close()


def test_leaves_no_probe_keys_behind(redis_url: str) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    check = RedisCheck(redis_url, key_prefix=prefix)
    for _ in range(3):
        assert check().passed
    check.close()
    with redis.Redis.from_url(redis_url) as observer:
        assert list(observer.scan_iter(match=f"{prefix}*")) == []


def test_fails_with_connection_refused_on_closed_port() -> None:
    port = free_port()
    with pytest.raises(CheckError) as caught:
        RedisCheck(f"redis://127.0.0.1:{port}/0")()
    assert str(caught.value) == "connection refused"
    assert caught.value.detail == f"redis at 127.0.0.1:{port}: connection refused"


def test_hung_server_times_out_on_time(hung_server: BlackHole) -> None:
    check = RedisCheck(f"redis://127.0.0.1:{hung_server.port}/0", timeout=0.5)
    started = time.monotonic()
    with pytest.raises(CheckError) as caught:
        check()
    assert time.monotonic() - started < 5  # the server never answers
    assert str(caught.value) == "timed out after 0.5 s waiting for a reply"
    assert caught.value.detail == f"redis at 127.0.0.1:{hung_server.port}: {caught.value}"
    check.close()


def test_readiness_answers_on_time_and_frees_the_thread_when_redis_hangs(
    make_app: Callable[..., Flask], health: HealthCheck, hung_server: BlackHole
) -> None:
    check = RedisCheck(f"redis://127.0.0.1:{hung_server.port}/0", timeout=1)
    app = make_app()
    health.add_check(check)
    client = app.test_client()
    started = time.monotonic()
    response = client.get("/healthz/ready")
    assert time.monotonic() - started < 3.5
    assert response.status_code == 503
    result = next(r for r in response.get_json()["results"] if r["checker"] == "redis")
    assert result["passed"] is False
    assert result["output"] == "timed out after 1 s"
    runner = health.state(app).runner
    assert _wait_until(lambda: runner.in_flight_count() == 0), "the check's thread is stuck"
    check.close()


@contextlib.contextmanager
def frozen(pid: int) -> Iterator[None]:
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def test_frozen_server_times_out_on_time_with_a_client_that_has_no_timeouts() -> None:
    with private_redis() as port:
        client = redis.Redis(host="127.0.0.1", port=port)  # redis-py's default: no timeouts
        check = RedisCheck(client, timeout=0.5)
        assert check().passed  # the pool now holds an open connection
        pid = int(client.info("server")["process_id"])
        with frozen(pid):
            started = time.monotonic()
            with pytest.raises(CheckError, match=r"timed out after 0\.5 s"):
                check()
            assert time.monotonic() - started < 5
        assert check().passed  # the pool recovers once the server answers again
        assert client.ping()
        client.close()


def test_wrong_password_fails_without_showing_it(secured_port: int) -> None:
    url = f"redis://:wrong-password@127.0.0.1:{secured_port}/0"
    with pytest.raises(CheckError) as caught:
        RedisCheck(url)()
    assert str(caught.value) == "authentication failed"
    assert caught.value.detail == (
        f"redis at 127.0.0.1:{secured_port}: authentication failed (wrong user name or password)"
    )


def test_missing_password_fails_saying_one_is_required(secured_port: int) -> None:
    with pytest.raises(CheckError, match="authentication required"):
        RedisCheck(f"redis://127.0.0.1:{secured_port}/0")()


def test_right_password_passes(secured_port: int) -> None:
    check = RedisCheck(f"redis://:{PASSWORD}@127.0.0.1:{secured_port}/3")
    outcome = check()
    assert outcome.passed
    assert outcome.detail is not None
    assert outcome.detail.startswith(f"redis at 127.0.0.1:{secured_port} (db 3): answered PING")
    assert PASSWORD not in outcome.detail
    check.close()


def test_missing_database_index_fails_naming_it(secured_port: int) -> None:
    with pytest.raises(CheckError) as caught:
        RedisCheck(f"redis://:{PASSWORD}@127.0.0.1:{secured_port}/99")()
    assert str(caught.value) == "database 99 does not exist on the server"
    assert caught.value.detail == (
        f"redis at 127.0.0.1:{secured_port} (db 99): "
        "database 99 does not exist on the server (SELECT 99 refused)"
    )


def test_failure_through_the_endpoint_shows_the_address_to_the_token_holder_only(
    make_app: Callable[..., Flask], health: HealthCheck, secured_port: int
) -> None:
    app = make_app(HEALTHCHECK_TOKEN=TOKEN)
    health.add_check(RedisCheck(f"redis://:wrong-password@127.0.0.1:{secured_port}/0"))
    client = app.test_client()
    public = client.get("/healthz/redis?format=text").get_data(as_text=True)
    detailed = client.get(
        "/healthz/redis?format=text", headers={"Authorization": f"Bearer {TOKEN}"}
    ).get_data(as_text=True)
    assert public.startswith("[-]redis failed: authentication failed\n")
    assert str(secured_port) not in public
    assert f"127.0.0.1:{secured_port}: authentication failed (wrong" in detailed
    assert "wrong-password" not in public + detailed


def test_defaults_name_and_tags_and_takes_overrides(health: HealthCheck, redis_url: str) -> None:
    spec = health.add_check(RedisCheck(redis_url))
    assert (spec.name, spec.tags, spec.critical, spec.timeout) == ("redis", {"ready"}, True, None)
    spec = health.add_check(
        RedisCheck(redis_url, name="cache", critical=False, timeout=5, success_ttl=30)
    )
    assert (spec.name, spec.critical, spec.timeout, spec.success_ttl) == ("cache", False, 5, 30)
    spec = health.add_check(RedisCheck(redis_url), name="sessions", tags=("live",))
    assert (spec.name, spec.tags) == ("sessions", {"live"})


def test_rejects_what_is_neither_a_url_nor_a_client() -> None:
    with pytest.raises(ValueError, match="redis://") as caught:
        RedisCheck("http://user:hunter2@127.0.0.1:6379")
    assert "hunter2" not in str(caught.value)
    with pytest.raises(TypeError, match=r"redis\.Redis client"):
        RedisCheck(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="client_options"):
        RedisCheck(redis.Redis(), client_options={"socket_timeout": 1})


def test_missing_redis_package_raises_an_error_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    monkeypatch.delitem(sys.modules, "flask_healthcheck.contrib.redis")
    with pytest.raises(MissingDependencyError) as caught:
        importlib.import_module("flask_healthcheck.contrib.redis")
    assert caught.value.extra == "redis"
    assert "pip install 'flask-health-checks[redis]'" in str(caught.value)
