"""The environment dump: Runscope's ``EnvironmentDump``, for the token holder only, masked."""

from __future__ import annotations

import json
import os
import sys

import pytest
from flask import Flask, current_app
from flask.testing import FlaskClient

from flask_healthcheck import ConfigurationError, EnvironmentDump, HealthCheck

TOKEN = "environment-token"
AUTHORISED = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def app() -> Flask:
    app = Flask("dumped")
    app.config.update(
        SECRET_KEY="flask-secret-key",
        SQLALCHEMY_DATABASE_URI="postgresql://app:db-password@db:5432/prod",
        MAIL_PASSWORD="mail-password",
        SESSION_COOKIE_NAME="session",
        CELERY={"broker_url": "amqp://guest:broker-password@mq//", "api_key": "celery-key"},
        HEALTHCHECK_TOKEN=TOKEN,
    )
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def test_runscope_form_serves_os_python_config_and_process_to_the_token_holder(
    app: Flask, client: FlaskClient
) -> None:
    EnvironmentDump(
        app,
        "/environment",
        include_os=True,
        include_python=True,
        include_config=True,
        include_process=True,
    )

    response = client.get("/environment", headers=AUTHORISED)

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    dump = response.json
    assert list(dump) == ["os", "python", "config", "process"]
    assert dump["os"]["platform"] == sys.platform
    assert dump["python"]["executable"] == sys.executable
    assert dump["python"]["packages"]["Flask"]
    assert dump["process"]["pid"] == os.getpid()
    assert dump["config"]["SESSION_COOKIE_NAME"] == "session"


def test_every_secret_in_the_dump_is_masked(app: Flask, client: FlaskClient) -> None:
    dump = EnvironmentDump(app, "/environment")
    dump.add_section("application", lambda: {"git_repo": "https://ci:gh-token@git/x"})

    body = client.get("/environment", headers=AUTHORISED).text

    config = json.loads(body)["config"]
    assert config["SECRET_KEY"] == "***"
    assert config["MAIL_PASSWORD"] == "***"
    assert config["HEALTHCHECK_TOKEN"] == "***"
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql://app:***@db:5432/prod"
    assert config["CELERY"] == {"broker_url": "amqp://guest:***@mq//", "api_key": "***"}
    assert json.loads(body)["application"] == {"git_repo": "https://ci:***@git/x"}
    for secret in (
        "flask-secret-key",
        "db-password",
        "mail-password",
        "broker-password",
        "celery-key",
        TOKEN,
        "gh-token",
    ):
        assert secret not in body


def test_environment_variables_are_left_out_unless_asked_and_masked_when_asked(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:env-password@db/prod")
    monkeypatch.setenv("STRIPE_API_KEY", "sk_live_env")
    monkeypatch.setenv("PLAIN_SETTING", "visible")
    EnvironmentDump(app, "/environment")
    full_app = Flask("full")
    full_app.config.update(app.config)
    EnvironmentDump(include_environ=True).init_app(full_app, "/environment")

    plain = client.get("/environment", headers=AUTHORISED).json["process"]
    assert "environ" not in plain

    full = full_app.test_client().get("/environment", headers=AUTHORISED)
    environ = full.json["process"]["environ"]
    assert environ["PLAIN_SETTING"] == "visible"
    assert environ["STRIPE_API_KEY"] == "***"
    assert environ["DATABASE_URL"] == "postgresql://app:***@db/prod"
    assert "env-password" not in full.text
    assert "sk_live_env" not in full.text


def test_without_a_token_configured_it_is_off_and_says_how_to_turn_it_on() -> None:
    app = Flask("no_token")
    EnvironmentDump(app, "/environment")

    response = app.test_client().get("/environment", headers={"Authorization": "Bearer x"})

    assert response.status_code == 403
    assert "HEALTHCHECK_TOKEN" in response.json["error"]
    assert "Authorization: Bearer" in response.json["error"]


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer guess"}, {"Authorization": TOKEN}]
)
def test_without_the_token_it_is_a_401(
    client: FlaskClient, app: Flask, headers: dict[str, str]
) -> None:
    EnvironmentDump(app, "/environment")

    response = client.get("/environment", headers=headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "os" not in response.json


def test_the_token_given_to_health_check_opens_it_whatever_the_order() -> None:
    app = Flask("ordered")
    dump = EnvironmentDump()
    dump.init_app(app, "/environment")
    HealthCheck(app, token="from-the-constructor")  # writes HEALTHCHECK_TOKEN after the dump

    response = app.test_client().get(
        "/environment", headers={"Authorization": "Bearer from-the-constructor"}
    )
    assert response.status_code == 200


def test_without_a_path_it_is_routed_as_runscope_s_view(app: Flask, client: FlaskClient) -> None:
    dump = EnvironmentDump(app, include_os=False, include_python=False, include_process=False)
    app.add_url_rule("/environment", view_func=dump.dump_environment)

    assert list(client.get("/environment", headers=AUTHORISED).json) == ["config"]
    assert client.get("/environment").status_code == 401


def test_sections_of_the_app_s_own_and_their_errors(app: Flask, client: FlaskClient) -> None:
    dump = EnvironmentDump(app, "/environment", include_python=False)
    dump.add_section("application", lambda: {"maintainer": "ops", "name": current_app.name})
    dump.add_section("static", {"tier": "gold"})

    def broken() -> dict[str, str]:
        raise ValueError("cannot read password=hunter2 from vault")

    dump.add_section("broken", broken)

    body = client.get("/environment", headers=AUTHORISED).json
    assert body["application"] == {"maintainer": "ops", "name": "dumped"}
    assert body["static"] == {"tier": "gold"}
    assert body["broken"] == {"error": "raised ValueError: cannot read password=*** from vault"}
    with pytest.raises(ValueError, match="already has a section named 'static'"):
        dump.add_section("static", {})
    with pytest.raises(ValueError, match="one EnvironmentDump per app"):
        EnvironmentDump(app, "/environment-again")


def test_values_json_cannot_hold_are_shown_as_text(app: Flask, client: FlaskClient) -> None:
    dump = EnvironmentDump(app, "/environment", include_os=False, include_python=False)
    dump.add_section("odd", lambda: {"when": {3, 1, 2}, "what": object, 1: b"bytes"})

    odd = client.get("/environment", headers=AUTHORISED).json["odd"]
    assert odd == {"when": [1, 2, 3], "what": "<class 'object'>", "1": "b'bytes'"}


def test_bad_path_or_token_fails_at_set_up() -> None:
    with pytest.raises(ConfigurationError, match="path must be a URL path"):
        EnvironmentDump(path="environment")
    app = Flask("bad_token")
    app.config["HEALTHCHECK_TOKEN"] = ""
    with pytest.raises(ConfigurationError, match="HEALTHCHECK_TOKEN must be a non-empty string"):
        EnvironmentDump(app, "/environment")
    assert "healthcheck_environment" not in app.view_functions
