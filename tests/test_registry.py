"""Registering checks: the decorator, add_check, names and per-check options."""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_healthcheck import HealthCheck
from flask_healthcheck.registry import RESERVED_NAMES


def test_bare_decorator_registers_and_returns_the_function_unchanged(
    health: HealthCheck, client: FlaskClient
) -> None:
    def database() -> tuple[bool, str]:
        return True, "database ok"

    decorated = health.check(database)

    assert decorated is database
    assert decorated() == (True, "database ok")
    [result] = client.get("/healthz").json["results"]
    assert (result["checker"], result["output"]) == ("database", "database ok")


def test_decorator_with_options_registers_them_and_returns_the_function_unchanged(
    health: HealthCheck, client: FlaskClient
) -> None:
    def cache() -> tuple[bool, str]:
        return False, "cache down"

    decorated = health.check(
        name="redis",
        tags=["ready", "live"],
        timeout=1.5,
        critical=False,
        success_ttl=4,
        failed_ttl=2,
    )(cache)

    assert decorated is cache
    [spec] = health.checks
    assert (spec.name, spec.func, spec.tags) == ("redis", cache, frozenset({"ready", "live"}))
    assert (spec.timeout, spec.critical, spec.success_ttl, spec.failed_ttl) == (1.5, False, 4, 2)
    [result] = client.get("/healthz/redis").json["results"]
    assert result["checker"] == "redis"
    assert result["critical"] is False
    assert result["tags"] == ["live", "ready"]
    assert result["expires"] - result["timestamp"] == pytest.approx(2)


def test_decorator_used_as_a_statement_keeps_the_module_function(health: HealthCheck) -> None:
    @health.check(name="named")
    def first() -> tuple[bool, str]:
        return True, "first"

    @health.check
    def second() -> tuple[bool, str]:
        return True, "second"

    assert first() == (True, "first")
    assert second() == (True, "second")
    assert [spec.name for spec in health.checks] == ["named", "second"]


def test_add_check_returns_the_spec(health: HealthCheck) -> None:
    def disk() -> tuple[bool, str]:
        return True, ""

    spec = health.add_check(disk, tags="storage")

    assert spec.name == "disk"
    assert spec.tags == frozenset({"storage"})
    assert spec.critical is True


def test_untagged_check_gets_the_ready_tag(health: HealthCheck) -> None:
    spec = health.add_check(lambda: (True, ""), name="untagged")

    assert spec.tags == frozenset({"ready"})


def test_duplicate_name_raises_value_error_naming_it(health: HealthCheck) -> None:
    @health.check
    def database() -> tuple[bool, str]:
        return True, ""

    def other() -> tuple[bool, str]:
        return True, ""

    with pytest.raises(ValueError, match=r"'database' is already registered.*name="):
        health.add_check(other, name="database")
    with pytest.raises(ValueError, match="'database'"):
        health.check(database)
    assert [spec.func for spec in health.checks] == [database]


def ping(host: str, port: int) -> tuple[bool, str]:
    return True, f"{host}:{port} answers"


def test_partial_is_named_after_the_function_it_wraps_and_runs(
    health: HealthCheck, client: FlaskClient
) -> None:
    health.add_check(functools.partial(ping, "db", 5432))
    health.add_check(functools.partial(functools.partial(ping, "cache"), 6379), name="cache")

    results = {r["checker"]: r["output"] for r in client.get("/healthz").json["results"]}

    assert results == {"ping": "db:5432 answers", "cache": "cache:6379 answers"}


def test_second_partial_of_one_function_needs_a_name(health: HealthCheck) -> None:
    health.add_check(functools.partial(ping, "db", 5432))

    with pytest.raises(ValueError, match=r"'ping'.*name="):
        health.add_check(functools.partial(ping, "replica", 5432))


class QueueDepth:
    """A check object without ``__name__``."""

    def __call__(self) -> tuple[bool, str]:
        return True, "queue short"


class NamedCheck:
    name = "mail"
    tags = ("ready", "smtp")
    critical = False

    def __call__(self) -> tuple[bool, str]:
        return False, "mail server slow"


def test_callable_object_is_named_after_its_class_and_runs(
    health: HealthCheck, client: FlaskClient
) -> None:
    health.add_check(QueueDepth())

    [result] = client.get("/healthz").json["results"]

    assert (result["checker"], result["output"], result["passed"]) == (
        "QueueDepth",
        "queue short",
        True,
    )


def test_callable_object_carries_its_own_name_and_options(
    health: HealthCheck, client: FlaskClient
) -> None:
    health.add_check(NamedCheck())
    health.add_check(NamedCheck(), name="mail2", critical=True)

    specs = {spec.name: spec for spec in health.checks}
    assert specs["mail"].critical is False
    assert specs["mail"].tags == frozenset({"ready", "smtp"})
    assert specs["mail2"].critical is True  # given at registration: wins over the attribute
    response = client.get("/healthz/mail")
    assert response.status_code == 200
    assert response.json["degraded"] is True


def test_bound_method_works_as_a_check(health: HealthCheck, client: FlaskClient) -> None:
    class Service:
        def __init__(self) -> None:
            self.healthy = True

        def probe(self) -> tuple[bool, str]:
            return self.healthy, "probed"

    health.add_check(Service().probe)

    assert client.get("/healthz/probe").status_code == 200


@pytest.mark.parametrize("name", sorted(RESERVED_NAMES))
def test_names_taken_by_endpoints_are_refused(health: HealthCheck, name: str) -> None:
    with pytest.raises(ValueError, match=rf"{name!r} is taken by an endpoint.*name="):
        health.add_check(lambda: (True, ""), name=name)
    assert health.checks == []


@pytest.mark.parametrize("name", ["live", "ready", "startup"])
def test_a_function_named_like_an_endpoint_is_refused(health: HealthCheck, name: str) -> None:
    def check() -> tuple[bool, str]:
        return True, ""

    check.__name__ = name

    with pytest.raises(ValueError, match="name="):
        health.check(check)


@pytest.mark.parametrize("name", ["", "has space", "a/b", "caf\u00e9", "x" * 129, "?q", ".", ".."])
def test_names_unusable_in_a_url_are_refused_with_a_hint(health: HealthCheck, name: str) -> None:
    with pytest.raises(ValueError, match="use 'name='"):
        health.add_check(lambda: (True, ""), name=name)


def test_lambda_without_a_name_is_refused_with_a_hint(health: HealthCheck) -> None:
    with pytest.raises(ValueError, match=r"'<lambda>'.*use 'name='"):
        health.add_check(lambda: (True, ""))


def test_every_valid_name_is_reachable_at_its_own_url(
    health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    names = ["db", "db.primary", "redis:cache", "queue-depth", "A_1"]
    for name in names:
        health.add_check(lambda name=name: (True, name), name=name)
    client = make_app().test_client()

    for name in names:
        response = client.get(f"/healthz/{name}")
        assert response.status_code == 200, name
        assert [r["checker"] for r in response.json["results"]] == [name]


def test_non_callable_is_refused(health: HealthCheck) -> None:
    with pytest.raises(TypeError, match="callable"):
        health.add_check("not a function", name="x")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("timeout", 0),
        ("timeout", -1),
        ("timeout", "2"),
        ("timeout", float("nan")),
        ("success_ttl", -1),
        ("failed_ttl", float("inf")),
        ("critical", "yes"),
        ("tags", []),
        ("tags", ["has space"]),
    ],
)
def test_bad_check_options_are_refused_naming_the_option(
    health: HealthCheck, option: str, value: object
) -> None:
    with pytest.raises(ValueError, match=option if option != "tags" else "tags"):
        health.add_check(lambda: (True, ""), name="x", **{option: value})  # type: ignore[arg-type]
    assert health.checks == []


def test_zero_ttls_are_accepted_per_check(health: HealthCheck) -> None:
    spec = health.add_check(lambda: (True, ""), name="x", success_ttl=0, failed_ttl=0)

    assert (spec.success_ttl, spec.failed_ttl) == (0, 0)


def test_max_age_not_longer_than_the_period_is_refused(health: HealthCheck) -> None:
    with pytest.raises(ValueError, match=r"max_age \(5 s\) must be longer than its period"):
        health.add_check(lambda: (True, "ok"), name="flappy", period=5, max_age=5)
