"""The extension object: the Runscope form, app factories, several apps, and what it keeps."""

from __future__ import annotations

import functools
import gc
import importlib
import json
import socket
import threading
import weakref
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Blueprint, Flask, Response, current_app

import flask_healthcheck
from flask_healthcheck import ConfigurationError, Endpoint, HealthCheck, nagios

from .conftest import Calls

RUNSCOPE_KEYS = {"status", "hostname", "timestamp", "results"}
RUNSCOPE_RESULT_KEYS = {"checker", "output", "passed", "timestamp", "expires"}


def test_runscope_form_serves_runscope_json_at_the_given_path() -> None:
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


def test_runscope_form_reports_failure_with_503() -> None:
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


def test_runscope_form_accepts_current_app_inside_an_app_context() -> None:
    # The Runscope form passes Flask's ``current_app`` proxy, not the app itself.
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


# -- Runscope's checks and options, as they were ------------------------------------------


def test_runscope_outputs_answer_200_and_show_in_every_format() -> None:
    # Runscope rendered whatever a check returned; a check's first element could be 1 or 0.
    app = Flask(__name__)
    health = HealthCheck(app, "/health-check", startup_gate=())

    def rows() -> tuple[bool, dict[str, int]]:
        return True, {"rows": 3}

    def nothing() -> tuple[bool, None]:
        return True, None

    def one() -> tuple[int, str]:
        return 1, "ok"

    def lagging() -> tuple[int, dict[str, object]]:
        return 0, {"lag_seconds": 40, "replica": "postgresql://app:hunter2@replica/prod"}

    for check in (rows, nothing, one):
        health.add_check(check)
    health.add_check(lagging, critical=False)
    client = app.test_client()

    response = client.get("/health-check")
    assert response.status_code == 200
    outputs = {r["checker"]: r["output"] for r in response.json["results"]}
    assert outputs == {
        "rows": {"rows": 3},
        "nothing": None,
        "one": "ok",
        "lagging": {"lag_seconds": 40, "replica": "postgresql://app:***@replica/prod"},
    }
    assert [r["passed"] for r in response.json["results"]] == [True, True, True, False]

    lines = client.get("/health-check?verbose").text.splitlines()
    assert lines[:4] == [
        '[+]rows ok: {"rows":3}',
        "[+]nothing ok",
        "[+]one ok: ok",
        '[-]lagging failed (non-critical): {"lag_seconds":40,'
        '"replica":"postgresql://app:***@replica/prod"}',
    ]
    page = client.get("/health-check?format=html").text
    assert "{&#x27;rows&#x27;" not in page
    assert "{&quot;rows&quot;:3}" in page
    health_json = client.get("/health-check?format=health%2Bjson").json
    [lag] = health_json["checks"]["lagging"]
    assert json.loads(lag["output"])["lag_seconds"] == 40
    plugin = nagios.from_json(response.json)
    assert '{"lag_seconds":40,' in plugin.text
    with app.app_context():
        assert '{"lag_seconds":40,' in nagios.from_report(health.run()).text
    assert "hunter2" not in json.dumps(response.json) + page + plugin.text


@pytest.mark.parametrize("where", ["constructor", "config"])
def test_none_ttls_turn_the_cache_off_as_runscope_did(where: str, calls: Calls) -> None:
    app = Flask(__name__)
    if where == "config":
        app.config.update(HEALTHCHECK_SUCCESS_TTL=None, HEALTHCHECK_FAILED_TTL=None)
        health = HealthCheck(app)
    else:
        health = HealthCheck(app, "/healthcheck", success_ttl=None, failed_ttl=None)
    health.add_check(lambda: (calls.add() > 0, "counted"), name="counted")
    client = app.test_client()
    path = app.config["HEALTHCHECK_PATH"]

    for _ in range(3):
        assert client.get(path).status_code == 200

    assert calls.count == 3
    settings = health.state(app).settings
    assert (settings.success_ttl, settings.failed_ttl) == (0.0, 0.0)


def test_a_check_given_ttl_none_uses_the_app_s(health: HealthCheck, calls: Calls) -> None:
    health.add_check(lambda: (calls.add() > 0, "counted"), name="counted", success_ttl=None)
    app = Flask(__name__)
    health.init_app(app)  # success_ttl: 10 s
    for _ in range(3):
        app.test_client().get("/healthz")
    assert calls.count == 1


# -- Runscope's and py-healthcheck's routing ------------------------------------------------


def test_runscope_view_func_health_check_serves_the_full_report() -> None:
    app = Flask(__name__)
    app.config["HEALTHCHECK_TOKEN"] = "sesame"
    health = HealthCheck(app)
    app.add_url_rule("/hc", view_func=health.check)

    @health.check
    def database() -> tuple[bool, str]:
        raise ConnectionError("cannot reach postgresql://app:pw@db/prod")

    assert database.__name__ == "database"  # still the decorator, returning the function
    client = app.test_client()

    response = client.get("/hc")
    assert response.status_code == 503
    assert response.headers["Cache-Control"] == "no-store"
    [result] = response.json["results"]
    assert result["output"] == "raised ConnectionError (details withheld)"
    assert client.get("/hc?format=text").text.startswith("[-]database failed: raised")
    assert client.get("/hc", headers={"Authorization": "Bearer guess"}).status_code == 401
    authorised = client.get("/hc", headers={"Authorization": "Bearer sesame"})
    assert "postgresql://app:***@db/prod" in authorised.json["results"][0]["output"]
    assert client.get("/hc?exclude=nope").status_code == 400


def test_py_healthcheck_view_func_health_run_serves_the_full_report(calls: Calls) -> None:
    app = Flask(__name__)
    health = HealthCheck(app, success_ttl=27, failed_ttl=9)
    health.add_check(lambda: (calls.add() > 0, "redis ok"), name="redis_available")
    app.add_url_rule("/healthcheck", "healthcheck", view_func=health.run)

    response = app.test_client().get("/healthcheck")

    assert response.status_code == 200
    assert response.json["status"] == "success"
    assert [r["output"] for r in response.json["results"]] == ["redis ok"]
    assert app.test_client().get("/healthcheck").status_code == 200
    assert calls.count == 1  # the app's cache, as on its own endpoints


def test_check_and_run_called_from_code_in_a_request_behave_as_ever() -> None:
    app = Flask(__name__)
    health = HealthCheck(app)
    app.add_url_rule("/hc", view_func=health.check)
    app.add_url_rule("/healthcheck", "healthcheck", view_func=health.run)
    seen: dict[str, object] = {}

    @app.get("/status")
    def status() -> dict[str, bool]:
        seen["run"] = health.run()
        seen["check"] = health.check()
        return {"ok": True}

    assert app.test_client().get("/status").status_code == 200
    assert isinstance(seen["run"], flask_healthcheck.Report)
    register = seen["check"]
    assert callable(register)
    assert not isinstance(register, Response)
    with app.app_context():
        assert isinstance(health.run(), flask_healthcheck.Report)


def test_a_view_wrapping_health_check_serves_the_report_too() -> None:
    app = Flask(__name__)
    health = HealthCheck(app)
    health.add_check(lambda: (True, "up"), name="up")

    def logged(view: Callable[[], object]) -> Callable[[], object]:
        @functools.wraps(view)
        def wrapper() -> object:
            return view()

        return wrapper

    app.add_url_rule("/hc", "hc", view_func=logged(health.check))

    assert app.test_client().get("/hc").json["results"][0]["output"] == "up"


def test_routing_health_run_on_an_app_it_is_not_initialised_on_says_what_to_do() -> None:
    app = Flask(__name__)
    app.testing = True  # the view's error is raised here instead of answered as a 500
    health = HealthCheck()
    app.add_url_rule("/healthcheck", "healthcheck", view_func=health.run)

    with pytest.raises(RuntimeError, match=r"call health.init_app\(app\)"):
        app.test_client().get("/healthcheck")


def test_routing_health_check_with_url_variables_says_what_to_use_instead() -> None:
    app = Flask(__name__)
    app.testing = True
    health = HealthCheck(app)
    app.add_url_rule("/hc/<name>", view_func=health.check)

    with pytest.raises(TypeError, match=r"takes no URL variables \(got name\).*<name>"):
        app.test_client().get("/hc/database")


# -- init_app is atomic ------------------------------------------------------------------


class _Before:
    """What an app had before a failed ``init_app``, to show that it has not changed."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.wsgi_app = app.wsgi_app
        self.rules = sorted(rule.rule for rule in app.url_map.iter_rules())
        self.threads = set(threading.enumerate())

    def assert_untouched(self) -> None:
        app = self.app
        assert "healthcheck" not in app.extensions
        assert app.wsgi_app == self.wsgi_app  # no middleware wrapped around it
        assert not [key for key in app.config if key.startswith("HEALTHCHECK_")]
        assert sorted(rule.rule for rule in app.url_map.iter_rules()) == self.rules
        assert set(threading.enumerate()) <= self.threads


def test_a_blueprint_named_healthcheck_is_refused_before_the_app_is_touched() -> None:
    app = Flask(__name__)
    app.register_blueprint(Blueprint("healthcheck", __name__))
    health = HealthCheck(startup_gate=())
    health.add_check(lambda: (True, "ok"), name="background", period=60)
    before = _Before(app)

    with pytest.raises(ConfigurationError, match=r"blueprint named 'healthcheck'.*name="):
        health.init_app(app)

    before.assert_untouched()
    with pytest.raises(RuntimeError, match="not initialised"):
        health.state(app)


def test_a_route_at_the_path_is_refused_and_a_retry_with_another_path_works() -> None:
    app = Flask(__name__)

    @app.get("/healthz")
    def mine() -> str:
        return "my own health page"

    health = HealthCheck()
    health.add_check(lambda: (True, "ok"), name="ok")
    before = _Before(app)

    with pytest.raises(ConfigurationError, match=r"route at '/healthz'.*HEALTHCHECK_PATH"):
        health.init_app(app)
    before.assert_untouched()

    health.init_app(app, path="/health")  # what the message says to do

    client = app.test_client()
    assert client.get("/health").json["results"][0]["output"] == "ok"
    assert client.get("/healthz").text == "my own health page"
    assert app.config["HEALTHCHECK_PATH"] == "/health"


def test_a_probe_port_in_use_is_refused_before_the_app_is_touched() -> None:
    app = Flask(__name__)
    before = _Before(app)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        health = HealthCheck(probe_port=port, probe_host="127.0.0.1")

        with pytest.raises(ConfigurationError, match=f"HEALTHCHECK_PROBE_PORT {port} is already"):
            health.init_app(app)

    before.assert_untouched()


def test_init_app_after_the_first_request_says_so_and_changes_nothing() -> None:
    app = Flask(__name__)
    app.add_url_rule("/", "index", lambda: "hi")
    assert app.test_client().get("/").status_code == 200
    before = _Before(app)

    with pytest.raises(RuntimeError, match="before the app handles its first request"):
        HealthCheck(app)
    before.assert_untouched()
