"""Credentials are masked in every output: every format, authorised or not, and the log."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from urllib.parse import urlencode

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from flask_healthcheck import CheckError, HealthCheck
from flask_healthcheck.redact import is_secret_name, mask_credentials, mask_structure

from .conftest import wait_until

DSN = "postgresql://user:secret@host/db"
FORMATS = ["json", "health%2Bjson", "text"]


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        # URLs
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
        ("(see https://shop:pw@pay.internal/v1)", "(see https://shop:***@pay.internal/v1)"),
        # a URL without its scheme
        ("cannot connect to app:hunter2@db:5432/prod", "cannot connect to app:***@db:5432/prod"),
        ("DATABASE=app:pw@db:5432/x", "DATABASE=app:***@db:5432/x"),
        # query strings
        ("https://api/x?token=abc&page=2", "https://api/x?token=***&page=2"),
        ("GET /v1?access_token=ya29.a0Af&page=2", "GET /v1?access_token=***&page=2"),
        ("https://api/x?page=1&client_secret=s3cr3t", "https://api/x?page=1&client_secret=***"),
        ("https://gitlab/api/v4?private_token=glpat-x1", "https://gitlab/api/v4?private_token=***"),
        ("maps?key=AIzaSyA&sensor=false", "maps?key=***&sensor=false"),
        (
            "s3/o?X-Amz-Credential=AKIA%2F2024&X-Amz-Signature=9f1e&X-Amz-Expires=60",
            "s3/o?X-Amz-Credential=***&X-Amz-Signature=***&X-Amz-Expires=60",
        ),
        ("blob?sv=2022&sig=abc%3D&se=2030", "blob?sv=2022&sig=***&se=2030"),
        ("https://host/path?apikey=k.1.", "https://host/path?apikey=***."),
        # libpq and ODBC connection strings
        ("host=db user=app password=hunter2 port=5432", "host=db user=app password=*** port=5432"),
        ("password=hunter2 host=db", "password=*** host=db"),
        ("host=db password='two words' sslmode=require", "host=db password='***' sslmode=require"),
        ("Server=db;Uid=sa;Pwd=p@ss;Database=x", "Server=db;Uid=sa;Pwd=***;Database=x"),
        ("failed (host=db password=abc).", "failed (host=db password=***)."),
        # environment lines
        (
            "DATABASE_PASSWORD=hunter2\nAWS_SECRET_ACCESS_KEY=wJalr/K7MDENG\n"
            "AWS_ACCESS_KEY_ID=AKIA123\nDEBUG=1",
            "DATABASE_PASSWORD=***\nAWS_SECRET_ACCESS_KEY=***\nAWS_ACCESS_KEY_ID=AKIA123\nDEBUG=1",
        ),
        ('export API_TOKEN="abc def"', 'export API_TOKEN="***"'),
        ("DB_PASS=x REDIS_PW=y", "DB_PASS=*** REDIS_PW=***"),
        # headers
        (
            "upstream refused Authorization: Bearer eyJhbGc.eyJzdWIi.Sfl sent by the probe",
            "upstream refused Authorization: Bearer *** sent by the probe",
        ),
        ("Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic ***"),
        ("Proxy-Authorization: Basic dXNl", "Proxy-Authorization: Basic ***"),
        ("X-Api-Key: abc123", "X-Api-Key: ***"),
        ("curl -H 'X-Auth-Token: abc' http://x", "curl -H 'X-Auth-Token: ***' http://x"),
        ("Cookie: session=eyJ1; theme=dark", "Cookie: ***; theme=dark"),
        # YAML
        ("password: hunter2", "password: ***"),
        ("db:\n  password: hunter2\n  host: db", "db:\n  password: ***\n  host: db"),
        # Python and JSON mappings, keyword arguments
        ("{'password': 'hunter2', 'user': 'app'}", "{'password': '***', 'user': 'app'}"),
        ('{"password": "hunter2", "user": "app"}', '{"password": "***", "user": "app"}'),
        ('{"api_key":"a\\"b","user":"bob"}', '{"api_key":"***","user":"bob"}'),
        ("{'Authorization': 'Bearer abc'}", "{'Authorization': '***'}"),
        ("{'secret': b'\\x00k'}", "{'secret': b'***'}"),
        ("Settings(token='abc', path='/healthz')", "Settings(token='***', path='/healthz')"),
        ("connect(password=PASSWORD)", "connect(password=***)"),
        ("{'password': ''}", "{'password': ''}"),
        ("'password' => 'x'", "'password' => '***'"),
        ("user[password]=x&user[name]=bob", "user[password]=***&user[name]=bob"),
        # names: whole words for the short ones, so ordinary parameters stay readable
        (
            "api_key=1 apiKey=2 APIKEY=3 api-key2=4",
            "api_key=*** apiKey=*** APIKEY=*** api-key2=***",
        ),
        (
            "monkey=1 keys=12 keyspace=a key_id=3 AccessKeyId=AKIA authSource=admin",
            "monkey=1 keys=12 keyspace=a key_id=3 AccessKeyId=AKIA authSource=admin",
        ),
        (
            "passed=3 bypass=no sslmode=require keyfile=/k",
            "passed=3 bypass=no sslmode=require keyfile=/k",
        ),
        ("    password = os.environ['PASSWORD']", "    password = os.environ['PASSWORD']"),
        ("    password = 'hunter2'", "    password = '***'"),
        # left alone
        ("https://example.com:8443/path", "https://example.com:8443/path"),
        ("mail admin@example.com", "mail admin@example.com"),
        ("mailto:admin@example.com", "mailto:admin@example.com"),
        ("postgresql://user@host/db", "postgresql://user@host/db"),
        (
            "ssh://git@host:22/x and git@github.com:org/repo",
            "ssh://git@host:22/x and git@github.com:org/repo",
        ),
        ("redis://:@cache:6379", "redis://:@cache:6379"),
        ("database ok: 3 rows, lag 0.2 s", "database ok: 3 rows, lag 0.2 s"),
        ("if token:", "if token:"),
    ],
)
def test_mask_credentials(text: str, masked: str) -> None:
    assert mask_credentials(text) == masked


def test_masking_twice_changes_nothing_more() -> None:
    text = "Authorization: Bearer x {'password': 'y'} app:z@db?token=w"
    assert mask_credentials(mask_credentials(text)) == mask_credentials(text)


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


SECRET_NAMES = [
    "password",
    "passwd",
    "pwd",
    "DATABASE_PASSWORD",
    "api_key",
    "apiKey",
    "X-Api-Key",
    "key",
    "access_token",
    "client_secret",
    "private_token",
    "AWS_SECRET_ACCESS_KEY",
    "credentials",
    "X-Amz-Signature",
    "sig",
    "auth",
    "Authorization",
    "secret_key",
    "session",
]
# What a value without quotes may hold in each syntax: no whitespace, quote, & ; < >. The last
# character is a letter or digit, as a "," "." ")" "]" "}" ending a value before whitespace is
# taken for punctuation.
BARE = st.builds(
    str.__add__,
    st.text(
        alphabet=st.characters(
            min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="'\"&;<>"
        ),
    ),
    st.sampled_from("aZ09"),
)


@st.composite
def secret_forms(draw: st.DrawFn) -> tuple[str, str]:
    """A text holding one secret in one of the syntaxes, and the same text with it masked."""
    name = draw(st.sampled_from(SECRET_NAMES))
    form = draw(
        st.sampled_from(
            ["query", "libpq", "libpq-quoted", "env", "yaml", "header", "repr", "json", "userinfo"]
        )
    )
    if form == "query":
        value = urlencode({name: draw(st.text(min_size=1))})
        return (
            f"GET https://api.internal/v1/items?page=2&{value}&sort=asc failed",
            f"GET https://api.internal/v1/items?page=2&{name}=***&sort=asc failed",
        )
    if form == "libpq":
        secret = draw(BARE)
        return f"host=db {name}={secret} sslmode=require", f"host=db {name}=*** sslmode=require"
    if form == "libpq-quoted":
        secret = draw(
            st.text(alphabet=st.characters(exclude_categories=["Cc", "Zl", "Zp"]), min_size=1)
        )
        quoted = secret.replace("\\", "\\\\").replace("'", "\\'")
        return f"{name}='{quoted}' host=db", f"{name}='***' host=db"
    if form == "env":
        secret = draw(BARE)
        return f"DEBUG=1\n{name}={secret}\nPORT=80", f"DEBUG=1\n{name}=***\nPORT=80"
    if form == "yaml":
        secret = draw(BARE)
        return f"db:\n  {name}: {secret}\n  host: db", f"db:\n  {name}: ***\n  host: db"
    if form == "header":
        scheme = draw(st.sampled_from(["Bearer ", "Basic ", ""]))
        token = draw(st.from_regex(r"[A-Za-z0-9\-_~+/]+=*", fullmatch=True))
        return (
            f"401 with {name}: {scheme}{token} from upstream",
            f"401 with {name}: {scheme}*** from upstream",
        )
    if form == "repr":
        shown = repr(draw(st.text(min_size=1)))
        quote = shown[0]
        return (
            f"{{'user': 'app', '{name}': {shown}, 'port': 5432}}",
            f"{{'user': 'app', '{name}': {quote}***{quote}, 'port': 5432}}",
        )
    if form == "json":
        shown = json.dumps(draw(st.text(min_size=1)))
        return f'{{"{name}": {shown}, "port": 5432}}', f'{{"{name}": "***", "port": 5432}}'
    user = draw(
        st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(lambda u: u != "mailto")
    )
    secret = draw(
        st.text(
            alphabet=st.characters(
                min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="'\"<>/"
            ),
            min_size=1,
        )
    )
    return (
        f"dial {user}:{secret}@db.internal:5432 failed",
        f"dial {user}:***@db.internal:5432 failed",
    )


@settings(max_examples=500, deadline=None)
@given(secret_forms())
def test_no_secret_survives_in_any_syntax(form: tuple[str, str]) -> None:
    text, masked = form
    assert mask_credentials(text) == masked


def test_text_without_credentials_is_unchanged() -> None:
    text = "all fine: 3 replicas, lag 0.2 s"
    assert mask_credentials(text) is text


MEBIBYTE = 2**20


@pytest.mark.parametrize(
    "unit",
    [
        "a:b@ ",  # a password in every token
        "x://",  # URL heads that never reach an "@"
        "a:",
        "user:pw@h:",
        "password=",
        "key:",
        "monkey=",  # a candidate name that is not secret
        "KeyKey",
        "token='a ",  # unterminated quotes
        '"password":"\\',
        "password:  ",
        ",",
    ],
)
def test_a_mebibyte_of_adversarial_text_is_masked_in_linear_time(unit: str) -> None:
    text = (unit * (MEBIBYTE // len(unit) + 1))[:MEBIBYTE]

    for variant in (text, f"{text}@", f"password={text}"):
        started = time.perf_counter()
        mask_credentials(variant)
        # Linear passes take a few tenths of a second; a quadratic one would take hours.
        assert time.perf_counter() - started < 2.0, unit


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

    @health.check
    def forms() -> tuple[bool, str]:
        return False, (
            "GET /v1?access_token=secret1&page=2 with {'password': 'secret2'} and "
            "Authorization: Bearer secret3 to app:secret4@db:5432; DATABASE_PASSWORD=secret5"
        )


@pytest.mark.parametrize("authorised", [False, True])
@pytest.mark.parametrize("fmt", FORMATS)
def test_url_password_never_shows_in_any_format(
    leaking_checks: None, make_app: Callable[..., Flask], fmt: str, authorised: bool
) -> None:
    # Without the start-up gate: these checks never pass, and no start-up thread should retry.
    client = make_app(HEALTHCHECK_TOKEN="tok", HEALTHCHECK_STARTUP_GATE=()).test_client()
    headers = {"Authorization": "Bearer tok"} if authorised else {}

    for path in (
        "/healthz",
        "/healthz/ready",
        "/healthz/raised",
        "/healthz/passing",
        "/healthz/forms",
    ):
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

    assert wait_until(lambda: sum("failed after" in r.getMessage() for r in caplog.records) >= 4)
    assert wait_until(lambda: any("passing passed" in r.getMessage() for r in caplog.records))
    messages = [record.getMessage() for record in caplog.records]
    assert any("postgresql://user:***@host/db" in message for message in messages)
    assert not [message for message in messages if "secret" in message]
    assert "secret" not in caplog.text  # formatted records, tracebacks included


# -- names and structures ----------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "SECRET_KEY",
        "MAIL_PASSWORD",
        "HEALTHCHECK_TOKEN",
        "apiKey",
        "X-Api-Key",
        "client_secret",
        "AWS_SECRET_ACCESS_KEY",
        "SECURITY_PASSWORD_SALT",
        "Authorization",
    ],
)
def test_secret_names_are_told_by_the_masking_rule(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    ["SESSION_COOKIE_NAME", "PERMANENT_SESSION_LIFETIME", "key_id", "monkey", "DEBUG", "rows"],
)
def test_ordinary_names_are_not_secret(name: str) -> None:
    assert not is_secret_name(name)


def test_a_structure_is_masked_by_key_name_and_by_value() -> None:
    value = {
        "password": "hunter2",
        "nested": {"SECRET_KEY": b"bytes", "url": "redis://:pw@cache/0", "port": 6379},
        "list": ("token=abc", {"apiKey": None}),
        "postgresql://app:hunter2@db/prod": True,
        1: "one",
    }
    assert mask_structure(value) == {
        "password": "***",
        "nested": {"SECRET_KEY": "***", "url": "redis://:***@cache/0", "port": 6379},
        "list": ["token=***", {"apiKey": None}],
        "postgresql://app:***@db/prod": True,
        1: "one",
    }
    assert value["password"] == "hunter2"  # a copy: the check's own value is left alone
