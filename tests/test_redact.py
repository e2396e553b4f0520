"""Credentials in URLs are masked in every output: every format, authorised or not, and the log."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from flask_healthcheck import CheckError, HealthCheck
from flask_healthcheck.redact import mask_credentials

from .conftest import wait_until

DSN = "postgresql://user:secret@host/db"
FORMATS = ["json", "health%2Bjson", "text"]


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (DSN, "postgresql://user:***@host/db"),
        (
            "could not connect to postgresql+psycopg://app:hunter2@10.0.0.5:5432/prod: timeout",
            "could not connect to postgresql+psycopg://app:***@10.0.0.5:5432/prod: timeout",
        ),
        ("redis://:s3cr3t@cache:6379/0", "redis://:***@cache:6379/0"),
        ("amqp://guest:guest@127.0.0.1:5672//", "amqp://guest:***@127.0.0.1:5672//"),
        ("postgresql://user:p@ss@host/db", "postgresql://user:***@host/db"),
        ("postgresql://user:ab/c+d=@host/db", "postgresql://user:***@host/db"),
        ("url='mysql://root:toor@db/x'", "url='mysql://root:***@db/x'"),
        ("a redis://:one@h1 b redis://:two@h2", "a redis://:***@h1 b redis://:***@h2"),
        ("host=db user=app password=hunter2 port=5432", "host=db user=app password=*** port=5432"),
        ("https://api/x?token=abc&page=2", "https://api/x?token=***&page=2"),
        ("https://example.com:8443/path", "https://example.com:8443/path"),
        ("mail admin@example.com", "mail admin@example.com"),
        ("postgresql://user@host/db", "postgresql://user@host/db"),
    ],
)
def test_mask_credentials(text: str, masked: str) -> None:
    assert mask_credentials(text) == masked


@settings(max_examples=200, deadline=None)
@given(
    password=st.text(
        alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="'\"<>"),
        min_size=1,
    ),
    scheme=st.sampled_from(["postgresql", "postgresql+psycopg", "mysql+pymysql", "redis", "amqp"]),
)
def test_any_password_in_a_url_is_masked(password: str, scheme: str) -> None:
    text = f"cannot reach {scheme}://app:{password}@db.internal:5432/prod (timeout)"

    assert (
        mask_credentials(text) == f"cannot reach {scheme}://app:***@db.internal:5432/prod (timeout)"
    )


def test_text_without_credentials_is_unchanged() -> None:
    text = "all fine: 3 replicas, lag 0.2 s"
    assert mask_credentials(text) is text


# -- end to end --------------------------------------------------------------------------


@pytest.fixture
def leaking_checks(health: HealthCheck) -> None:
    """Checks that put a connection URL with its password in every place a check can."""

    @health.check
    def returned() -> tuple[bool, str]:
        return False, f"cannot connect to {DSN}"

    @health.check
    def check_error() -> tuple[bool, str]:
        try:
            raise OSError(f"refused: {DSN}")
        except OSError as exc:
            raise CheckError(f"database unreachable at {DSN}") from exc

    @health.check
    def raised() -> tuple[bool, str]:
        raise ConnectionError(f"connection to {DSN} failed")

    @health.check
    def passing() -> tuple[bool, str]:
        return True, f"connected to {DSN}"


@pytest.mark.parametrize("authorised", [False, True])
@pytest.mark.parametrize("fmt", FORMATS)
def test_url_password_never_shows_in_any_format(
    leaking_checks: None, make_app: Callable[..., Flask], fmt: str, authorised: bool
) -> None:
    # Without the start-up gate: these checks never pass, and no start-up thread should retry.
    client = make_app(HEALTHCHECK_TOKEN="tok", HEALTHCHECK_STARTUP_GATE=()).test_client()
    headers = {"Authorization": "Bearer tok"} if authorised else {}

    for path in ("/healthz", "/healthz/ready", "/healthz/raised", "/healthz/passing"):
        response = client.get(f"{path}?format={fmt}", headers=headers)
        assert b"secret" not in response.data
    assert "postgresql://user:***@host/db" in client.get(f"/healthz?format={fmt}").text

    if authorised:  # the authorised view has the exception text, masked
        text = client.get(f"/healthz/raised?format={fmt}", headers=headers).text
        assert "ConnectionError: connection to postgresql://user:***@host/db failed" in text


def test_url_password_never_shows_in_the_log(
    leaking_checks: None, client: object, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="flask_healthcheck")

    client.get("/healthz")  # type: ignore[attr-defined]

    assert wait_until(lambda: sum("failed after" in r.getMessage() for r in caplog.records) >= 3)
    assert wait_until(lambda: any("passing passed" in r.getMessage() for r in caplog.records))
    messages = [record.getMessage() for record in caplog.records]
    assert any("postgresql://user:***@host/db" in message for message in messages)
    assert not [message for message in messages if "secret" in message]
    assert "secret" not in caplog.text  # formatted records, tracebacks included
