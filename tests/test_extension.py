"""The extension object: seed 001's form, app factories, several apps, and what it keeps."""

from __future__ import annotations

import gc
import importlib
import socket
import weakref
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask, current_app

import flask_healthcheck
from flask_healthcheck import Endpoint, HealthCheck

from .conftest import Calls

RUNSCOPE_KEYS = {"status", "hostname", "timestamp", "results"}
RUNSCOPE_RESULT_KEYS = {"checker", "output", "passed", "timestamp", "expires"}


def test_seed_001_form_serves_runscope_json_at_the_given_path() -> None:
    app = Flask(__name__)
    health = HealthCheck(app, "/health-check")

    def health_check_db() -> tuple[bool, str]:
        return True, "database ok"

    health.add_check(health_check_db)

    response = app.test_client().get("/health-check")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.json
    assert body.keys() >= RUNSCOPE_KEYS
    assert body["status"] == "success"
    assert body["hostname"] == socket.gethostname()
    assert isinstance(body["timestamp"], float)
    [result] = body["results"]
    assert RUNSCOPE_RESULT_KEYS | {"response_time", "critical", "tags"} <= result.keys()
    assert result["checker"] == "health_check_db"
    assert result["output"] == "database ok"
    assert result["passed"] is True
    assert result["expires"] > result["timestamp"] > 0
    assert 0 <= result["response_time"] < 5
    assert result["critical"] is True
    assert result["tags"] == ["ready"]


def test_seed_001_form_reports_failure_with_503() -> None:
    app = Flask(__name__)
    health = HealthCheck(app, "/health-check")

    def health_check_db() -> tuple[bool, str]:
        return False, "Error connecting to database"

    health.add_check(health_check_db)

    response = app.test_client().get("/health-check")

    assert response.status_code == 503
    assert response.json["status"] == "failure"
    [result] = response.json["results"]
    assert result["passed"] is False
    assert result["output"] == "Error connecting to database"


def test_seed_001_form_accepts_current_app_inside_an_app_context() -> None:
    # The seed passes Flask's ``current_app`` proxy, not the app itself.
    app = Flask(__name__)
    with app.app_context():
        health = HealthCheck(current_app, "/health-check")
    health.add_check(lambda: (True, "ok"), name="proxy")

    assert app.extensions["healthcheck"] is health
    assert app.test_client().get("/health-check").status_code == 200


def test_init_app_serves_an_app_built_by_a_factory(health: HealthCheck) -> None:
    @health.check
    def database() -> tuple[bool, str]:
        return True, "database ok"

    def create_app() -> Flask:
        app = Flask("factory")
        health.init_app(app)
        return app

    response = create_app().test_client().get("/healthz")

    assert response.status_code == 200
    assert [r["checker"] for r in response.json["results"]] == ["database"]


def test_init_app_path_argument_sets_the_base_path(health: HealthCheck) -> None:
    app = Flask(__name__)
    health.init_app(app, path="/status")

    assert app.test_client().get("/status").status_code == 200
    assert app.test_client().get("/healthz").status_code == 404


def test_checks_registered_after_init_app_are_served(
    health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    app = make_app()
    health.add_check(lambda: (True, "late"), name="late")

    assert app.test_client().get("/healthz/late").json["results"][0]["output"] == "late"


def test_one_extension_keeps_an_independent_cache_per_app(
    health: HealthCheck, make_app: Callable[..., Flask], calls: Calls
) -> None:
    @health.check(success_ttl=60)
    def counted() -> tuple[bool, str]:
        return True, f"call {calls.add()}"

    first, second = make_app(), make_app()

    assert first.test_client().get("/healthz").json["results"][0]["output"] == "call 1"
    assert first.test_client().get("/healthz").json["results"][0]["output"] == "call 1"
    assert second.test_client().get("/healthz").json["results"][0]["output"] == "call 2"
    assert calls.count == 2


def test_one_extension_keeps_independent_availability_per_app(
    health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    first, second = make_app(), make_app()

    health.set_ready(False, "draining", app=first)
    with second.app_context():
        health.set_live(False, "wedged")

    assert first.test_client().get("/healthz/ready").status_code == 503
    assert first.test_client().get("/healthz/live").status_code == 200
    assert second.test_client().get("/healthz/ready").status_code == 200
    assert second.test_client().get("/healthz/live").status_code == 503


def test_each_app_uses_its_own_config(health: HealthCheck, make_app: Callable[..., Flask]) -> None:
    first = make_app(HEALTHCHECK_PATH="/one")
    second = make_app(HEALTHCHECK_PATH="/two", HEALTHCHECK_SUCCESS_STATUS=204)

    assert first.test_client().get("/one").status_code == 200
    assert first.test_client().get("/two").status_code == 404
    assert second.test_client().get("/two").status_code == 204


def test_checks_run_in_the_context_of_the_app_requested(
    health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    health.add_check(lambda: (True, current_app.config["WHO"]), name="who")
    first, second = make_app(WHO="first"), make_app(WHO="second")

    assert first.test_client().get("/healthz/who").json["results"][0]["output"] == "first"
    assert second.test_client().get("/healthz/who").json["results"][0]["output"] == "second"


def test_app_extensions_holds_the_extension(health: HealthCheck, app: Flask) -> None:
    assert app.extensions["healthcheck"] is health


def test_second_registration_on_one_app_raises_and_says_what_to_do(
    health: HealthCheck, app: Flask
) -> None:
    with pytest.raises(
        RuntimeError, match=r"already has a HealthCheck.*extensions\['healthcheck'\]"
    ):
        health.init_app(app)
    with pytest.raises(RuntimeError, match="already has a HealthCheck"):
        HealthCheck(app)
    assert app.extensions["healthcheck"] is health


def test_extension_stores_no_app(health: HealthCheck, app: Flask) -> None:
    def holds_app(value: object) -> bool:
        if isinstance(value, Flask):
            return True
        if isinstance(value, weakref.WeakKeyDictionary):
            return False  # keys held weakly: that is the point
        if isinstance(value, dict):
            return any(holds_app(key) or holds_app(item) for key, item in value.items())
        if isinstance(value, list | tuple | set | frozenset):
            return any(holds_app(item) for item in value)
        return False

    assert not hasattr(health, "app")
    assert not any(holds_app(value) for value in vars(health).values())
    assert any(isinstance(value, weakref.WeakKeyDictionary) for value in vars(health).values())


def test_extension_does_not_keep_an_app_alive(health: HealthCheck) -> None:
    health.add_check(lambda: (True, "ok"), name="ok")
    app = Flask("short_lived")
    health.init_app(app)
    assert app.test_client().get("/healthz").status_code == 200
    app_ref = weakref.ref(app)

    del app
    gc.collect()

    assert app_ref() is None
    with pytest.raises(RuntimeError, match="no app"):
        health.state()


def test_set_ready_without_app_or_context_with_two_apps_says_what_to_pass(
    health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    first, second = make_app(), make_app()

    with pytest.raises(RuntimeError, match="app="):
        health.set_ready(False)
    assert first.test_client().get("/healthz/ready").status_code == 200
    assert second.test_client().get("/healthz/ready").status_code == 200


def test_state_of_an_app_not_initialised_is_an_error(health: HealthCheck, app: Flask) -> None:
    with pytest.raises(RuntimeError, match="init_app"):
        health.state(Flask("other"))


def test_run_from_code_returns_a_report(health: HealthCheck, app: Flask) -> None:
    health.add_check(lambda: (True, "up"), name="up")
    health.add_check(lambda: (False, "down"), name="down", tags=["extra"])

    report = health.run()
    assert {r.name: r.passed for r in report.results} == {"up": True, "down": False}
    assert not report.passed
    assert [r.name for r in health.run(tag="extra").results] == ["down"]
    assert [r.name for r in health.run(["up"]).results] == ["up"]
    assert health.run(["up"]).passed


def test_checks_lists_registrations_in_order(health: HealthCheck) -> None:
    for name in ("b", "a", "c"):
        health.add_check(lambda: (True, ""), name=name)

    assert [spec.name for spec in health.checks] == ["b", "a", "c"]


def test_endpoint_changes_are_announced_once_with_the_failing_checks(
    health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    from flask_healthcheck.events import StatusChange

    changes: list[StatusChange] = []
    health.on_change(changes.append)
    healthy = {"value": True}
    health.add_check(lambda: (healthy["value"], "db"), name="db")
    client = make_app(
        HEALTHCHECK_SUCCESS_TTL=0, HEALTHCHECK_FAILED_TTL=0, HEALTHCHECK_STARTUP_GATE=()
    ).test_client()

    def endpoint_changes() -> list[tuple[str, bool, bool | None, str]]:
        return [
            (change.name, change.passed, change.previous, change.output)
            for change in changes
            if change.kind == "endpoint"
        ]

    for _ in range(3):
        assert client.get("/healthz/ready").status_code == 200
    healthy["value"] = False
    for _ in range(3):
        assert client.get("/healthz/ready").status_code == 503
    assert client.get("/healthz/ready?exclude=db").status_code == 200

    assert endpoint_changes() == [
        ("ready", True, None, "all checks pass"),
        ("ready", False, True, "failing: db"),
        ("ready", True, None, "all checks pass"),  # another selection: a status of its own
    ]


def test_an_unknown_check_name_raises_an_exported_health_check_error(
    health: HealthCheck, app: Flask
) -> None:
    health.add_check(lambda: (True, "up"), name="up")

    with pytest.raises(flask_healthcheck.UnknownCheckError, match="'typo'") as raised:
        health.run(["typo"])

    assert isinstance(raised.value, flask_healthcheck.HealthCheckError)
    assert isinstance(raised.value, LookupError)  # what it was before, for existing handlers
    assert raised.value.names == {"typo"}


def test_every_exception_the_core_defines_is_a_health_check_error_and_exported() -> None:
    # The console commands' own errors end as exit codes and never reach a caller: they need
    # not be exported.
    command_errors = {
        "flask_healthcheck.arguments.UsageError",
        "flask_healthcheck.http_probe.ProbeError",
    }
    package = Path(flask_healthcheck.__file__).parent
    found = []
    for path in sorted(package.glob("*.py")):
        module = importlib.import_module(f"flask_healthcheck.{path.stem}".removesuffix(".__init__"))
        for name, value in vars(module).items():
            if (
                isinstance(value, type)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
                and not name.startswith("_")
            ):
                found.append(value)
    assert found
    for error in found:
        assert issubclass(error, flask_healthcheck.HealthCheckError), error
        if f"{error.__module__}.{error.__name__}" not in command_errors:
            assert getattr(flask_healthcheck, error.__name__) is error, error


def test_listeners_hear_the_endpoint_the_text_report_names(
    health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    changes: list[flask_healthcheck.StatusChange] = []
    answers: list[tuple[str, int]] = []
    health.on_change(changes.append)
    health.on_answer(lambda endpoint, status: answers.append((endpoint, status)))
    client = make_app(HEALTHCHECK_STARTUP_GATE=()).test_client()

    fast = client.get("/healthz/live")  # answered by the WSGI fast path
    text = client.get("/healthz/live?verbose").get_data(as_text=True)

    assert fast.status_code == 200
    assert text.endswith("livez check passed\n")
    assert answers == [(Endpoint.LIVE, 200), (Endpoint.LIVE, 200)]
    assert all(type(endpoint) is Endpoint for endpoint, _ in answers)
    [change] = changes
    assert change.name == "live"
    assert change.endpoint is Endpoint.LIVE
    assert Endpoint.LIVE.k8s_name == "livez"


def test_state_returns_the_documented_app_state(health: HealthCheck, app: Flask) -> None:
    health.add_check(lambda: (True, "up"), name="up", timeout=0.5)
    health.add_check(lambda: (True, "up"), name="default")
    state = health.state(app)

    assert isinstance(state, flask_healthcheck.AppState)
    assert [state.timeout_of(spec) for spec in health.checks] == [0.5, state.settings.timeout]
    assert [spec.name for spec in state.pending_checks()] == ["up", "default"]
    with app.app_context():
        report = state.run(app)
    assert report.endpoint is Endpoint.RUN
    assert state.record_passes(report.results)
    assert state.pending_checks() == []


def test_serve_probe_port_without_a_port_says_what_to_set(health: HealthCheck, app: Flask) -> None:
    with pytest.raises(ValueError, match="HEALTHCHECK_PROBE_PORT is not set"):
        health.serve_probe_port(app)
