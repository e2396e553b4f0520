"""``HEALTHCHECK_*`` keys: defaults, constructor options, and validation in init_app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields

import pytest
from flask import Flask

from flask_healthcheck import ConfigurationError, Endpoint, HealthCheck, Settings

BAD_VALUES: dict[str, list[object]] = {
    "path": ["healthz", "/", "//", "/a b", "/a\tb", "/<name>", "/h?x", "/h#x", 42, None, ""],
    "timeout": [0, -1, "2", True, None, float("nan"), float("inf")],
    "deadline": [0, -0.5, "3", False, [3]],
    "success_ttl": [-1, "10", float("inf")],
    "failed_ttl": [-0.1, "3", float("nan")],
    # A probe reads 200 to 399 as a pass and anything else as a failure.
    "success_status": [199, 400, 503, 600, "200", 200.0, True, None],
    "failed_status": [100, 200, 302, 399, 1000, "503", 503.0, False],
    "token": ["", 123, b"secret"],
    "hostname": ["", 7],
    "sentry": ["yes", 1, 0, None],
    "output_limit": [0, 99, -1, "4096", 4096.0, None],
    "page_refresh": [-1, 1.5, "30", None],
    "service_id": ["", 3],
    "version": ["", 1.2],
    "release_id": ["", 7],
    "description": ["", ["a"]],
}
# Every key, whatever its type, refuses an arbitrary object: keys added later are covered too.
BAD_CASES = [(option, value) for option, values in BAD_VALUES.items() for value in values] + [
    (field.name, object()) for field in fields(Settings)
]


def test_the_core_keys_are_all_settings() -> None:
    assert set(BAD_VALUES) <= {field.name for field in fields(Settings)}


@pytest.mark.parametrize(("option", "value"), BAD_CASES)
def test_bad_config_value_fails_in_init_app_naming_the_key(option: str, value: object) -> None:
    key = f"HEALTHCHECK_{option.upper()}"
    app = Flask(__name__)
    app.config[key] = value

    with pytest.raises(ConfigurationError, match=key) as raised:
        HealthCheck().init_app(app)

    assert "must be" in str(raised.value)  # and it says what the key accepts
    assert "healthcheck" not in app.extensions
    assert not any(rule.rule.startswith("/healthz") for rule in app.url_map.iter_rules())


@pytest.mark.parametrize(
    ("option", "value"), [case for case in BAD_CASES if case != ("path", None)]
)
def test_bad_constructor_option_fails_in_init_app_naming_the_key(
    option: str, value: object
) -> None:
    health = HealthCheck(**{option: value})

    with pytest.raises(ConfigurationError, match=f"HEALTHCHECK_{option.upper()}"):
        health.init_app(Flask(__name__))


def test_configuration_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="HEALTHCHECK_TIMEOUT"):
        HealthCheck(Flask(__name__), timeout=-1)


def test_unknown_constructor_option_raises_type_error_naming_it() -> None:
    with pytest.raises(TypeError, match=r"unknown option\(s\) timout; the options are .*timeout"):
        HealthCheck(timout=2)


def test_defaults_are_written_into_app_config() -> None:
    app = Flask(__name__)
    HealthCheck(app)

    for field in fields(Settings):
        assert app.config[Settings.key(field.name)] == field.default


def test_every_key_has_a_constructor_option_of_the_same_name() -> None:
    app = Flask(__name__)
    options = {field.name: field.default for field in fields(Settings)}
    options["path"] = "/by-constructor"

    HealthCheck(app, **options)

    for name, value in options.items():
        assert app.config[f"HEALTHCHECK_{name.upper()}"] == value
    assert app.test_client().get("/by-constructor").status_code == 200


def test_constructor_options_become_config_defaults() -> None:
    app = Flask(__name__)
    HealthCheck(app, "/health-check", timeout=5, token="t0ken")

    assert app.config["HEALTHCHECK_PATH"] == "/health-check"
    assert app.config["HEALTHCHECK_TIMEOUT"] == 5
    assert app.config["HEALTHCHECK_TOKEN"] == "t0ken"


def test_app_config_wins_over_constructor_options() -> None:
    app = Flask(__name__)
    app.config.update(HEALTHCHECK_PATH="/from-config", HEALTHCHECK_FAILED_STATUS=500)
    health = HealthCheck(app, "/from-code", failed_status=599)
    health.add_check(lambda: (False, "down"), name="down")
    client = app.test_client()

    assert client.get("/from-code").status_code == 404
    assert client.get("/from-config").status_code == 500
    assert app.config["HEALTHCHECK_PATH"] == "/from-config"


def test_config_is_read_once_at_init_app() -> None:
    app = Flask(__name__)
    health = HealthCheck(app)
    health.add_check(lambda: (False, "down"), name="down")

    app.config["HEALTHCHECK_FAILED_STATUS"] = 500

    assert app.test_client().get("/healthz").status_code == 503


def test_init_app_path_argument_wins_over_constructor_path() -> None:
    app = Flask(__name__)
    HealthCheck(path="/from-constructor").init_app(app, path="/from-init-app")

    assert app.test_client().get("/from-init-app").status_code == 200


def test_trailing_slash_of_the_path_is_dropped() -> None:
    app = Flask(__name__)
    HealthCheck(app, "/status/")
    client = app.test_client()

    assert client.get("/status").status_code == 200
    assert client.get("/status/ready").status_code == 200


def test_success_and_failed_status_are_configurable() -> None:
    health = HealthCheck()
    state = {"healthy": True}
    health.add_check(lambda: (state["healthy"], ""), name="toggle")
    app = Flask(__name__)
    app.config.update(
        HEALTHCHECK_SUCCESS_STATUS=299,
        HEALTHCHECK_FAILED_STATUS=500,
        HEALTHCHECK_SUCCESS_TTL=0,
        HEALTHCHECK_FAILED_TTL=0,
    )
    health.init_app(app)
    client = app.test_client()

    assert client.get("/healthz").status_code == 299
    assert client.get("/healthz/ready").status_code == 299
    assert client.get("/healthz/live").status_code == 299
    state["healthy"] = False
    assert client.get("/healthz").status_code == 500
    assert client.get("/healthz/toggle").status_code == 500


def test_hostname_is_configurable(make_app: Callable[..., Flask]) -> None:
    client = make_app(HEALTHCHECK_HOSTNAME="web-1").test_client()

    assert client.get("/healthz").json["hostname"] == "web-1"


def test_global_ttls_apply_to_checks_without_their_own(
    health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    health.add_check(lambda: (True, ""), name="up")
    health.add_check(lambda: (False, ""), name="down", critical=False)
    health.add_check(lambda: (True, ""), name="own", success_ttl=42)
    client = make_app(HEALTHCHECK_SUCCESS_TTL=7, HEALTHCHECK_FAILED_TTL=2).test_client()

    results = {r["checker"]: r for r in client.get("/healthz").json["results"]}

    assert results["up"]["expires"] - results["up"]["timestamp"] == pytest.approx(7)
    assert results["down"]["expires"] - results["down"]["timestamp"] == pytest.approx(2)
    assert results["own"]["expires"] - results["own"]["timestamp"] == pytest.approx(42)


def test_a_misspelled_key_fails_in_init_app_naming_it_and_the_likely_one() -> None:
    app = Flask("misspelled")
    app.config["HEALTHCHECK_TIMOUT"] = 3

    with pytest.raises(ConfigurationError, match="HEALTHCHECK_TIMOUT is not a setting") as info:
        HealthCheck(app)

    assert "did you mean HEALTHCHECK_TIMEOUT?" in str(info.value)


@pytest.mark.parametrize(
    "gate", [["ready"], ("ready",), "ready", [Endpoint.READY], frozenset({"ready"})]
)
def test_the_startup_gate_takes_endpoint_values_or_members(gate: object) -> None:
    app = Flask(__name__)
    health = HealthCheck(app, startup_gate=gate)

    assert health.state(app).settings.startup_gate == (Endpoint.READY,)
    assert app.config["HEALTHCHECK_STARTUP_GATE"] == gate  # the config keeps what was given


def test_the_startup_gate_refuses_an_endpoint_it_cannot_gate() -> None:
    with pytest.raises(ConfigurationError, match=r"from \['live', 'ready'\]"):
        HealthCheck(Flask(__name__), startup_gate=["startup"])


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"HEALTHCHECK_FAILED_STATUS": 200},
            "HEALTHCHECK_FAILED_STATUS must be an HTTP status code from 400 to 599, which "
            "probes read as a failure (below 400 they read a pass); got 200",
        ),
        ({"HEALTHCHECK_FAILED_STATUS": 302}, "HEALTHCHECK_FAILED_STATUS must be"),
        (
            {"HEALTHCHECK_SUCCESS_STATUS": 503},
            "HEALTHCHECK_SUCCESS_STATUS must be an HTTP status code from 200 to 399, which "
            "probes read as a pass; got 503",
        ),
        (
            {"HEALTHCHECK_SUCCESS_STATUS": 503, "HEALTHCHECK_FAILED_STATUS": 503},
            "HEALTHCHECK_SUCCESS_STATUS must be",
        ),
    ],
)
def test_statuses_a_probe_cannot_tell_apart_are_refused_naming_the_key(
    config: dict[str, int], message: str
) -> None:
    app = Flask(__name__)
    app.config.update(config)

    with pytest.raises(ConfigurationError) as raised:
        HealthCheck(app)

    assert message in str(raised.value)


def test_statuses_probes_read_right_are_accepted() -> None:
    for success, failed in ((200, 503), (204, 500), (299, 429), (399, 400)):
        app = Flask(__name__)
        HealthCheck(app, success_status=success, failed_status=failed)
        settings = app.extensions["healthcheck"].state(app).settings
        assert (settings.success_status, settings.failed_status) == (success, failed)


def test_the_repr_of_the_settings_shows_no_token() -> None:
    app = Flask(__name__)
    health = HealthCheck(app, token="do-not-print-me")

    shown = repr(health.state(app).settings)

    assert "do-not-print-me" not in shown
    assert "token='***'" in shown
    assert "timeout=2.0" in shown  # the rest stays readable
    assert "token=None" in repr(Settings())


def test_a_ttl_key_given_none_means_never_reused_not_a_crash() -> None:
    app = Flask(__name__)
    app.config.update(HEALTHCHECK_SUCCESS_TTL=None, HEALTHCHECK_FAILED_TTL=None)

    HealthCheck(app)

    settings = app.extensions["healthcheck"].state(app).settings
    assert (settings.success_ttl, settings.failed_ttl) == (0.0, 0.0)
