from __future__ import annotations

import re
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_healthcheck import CheckResult, Endpoint, HealthCheck, Report
from flask_healthcheck.page import relative, render_html

from .app_server import serve
from .services import IN_CI

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Where the browser's screenshots of the page land, to be looked at.
SHOTS = Path("/tmp/page-shots")


@pytest.fixture
def checks(health: HealthCheck) -> None:
    health.add_check(lambda: (True, "database ok"), name="database")
    health.add_check(lambda: (False, "index is stale"), name="search", critical=False)


def html_of(client: FlaskClient, path: str, **headers: str) -> str:
    response = client.get(path, headers=headers)
    assert response.mimetype == "text/html", response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    return response.get_data(as_text=True)


def result(
    name: str, passed: bool, output: str, *, since: float, warning: bool = False
) -> CheckResult:
    return CheckResult(
        name=name,
        passed=passed,
        output=output,
        timestamp=1000.0,
        expires=1010.0,
        response_time=0.012,
        since=since,
        warning=warning,
    )


def test_a_browser_gets_the_html_page_of_the_full_report(checks: None, client: FlaskClient) -> None:
    page = html_of(client, "/healthz", Accept=BROWSER_ACCEPT)

    assert page.startswith("<!doctype html>")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "<h1>Degraded</h1>" in page
    assert "<h2>database</h2>" in page
    assert "index is stale" in page
    assert "<script" not in page


@pytest.mark.parametrize(
    "path", ["/healthz?format=html", "/healthz/live?format=html", "/healthz/ready?format=html",
             "/healthz/startup?format=html", "/healthz/database?format=html"]
)  # fmt: skip
def test_format_html_serves_the_page_on_every_endpoint(
    checks: None, client: FlaskClient, path: str
) -> None:
    assert "<h1>" in html_of(client, path)


@pytest.mark.parametrize(
    ("path", "accept"),
    [
        ("/healthz", None),  # a Kubernetes probe sends no Accept header, or */*
        ("/healthz", "*/*"),  # curl
        ("/healthz", "application/json, text/plain, */*"),  # axios and friends
        ("/healthz/live", None),
        ("/healthz/ready", "*/*"),
        ("/healthz/ready", BROWSER_ACCEPT),  # only the full report is offered as a page
        ("/healthz/database", BROWSER_ACCEPT),
    ],
)
def test_probes_and_command_line_clients_still_get_json(
    checks: None, client: FlaskClient, path: str, accept: str | None
) -> None:
    headers = {} if accept is None else {"Accept": accept}

    response = client.get(path, headers=headers)

    assert response.mimetype == "application/json"
    assert "status" in response.json


@pytest.mark.parametrize("path", ["/healthz", "/healthz/ready?format=html"])
def test_the_page_is_served_with_security_headers_and_refreshes_itself(
    checks: None, client: FlaskClient, path: str
) -> None:
    response = client.get(path, headers={"Accept": BROWSER_ACCEPT})

    assert response.mimetype == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy  # obeyed in a header only, not in a meta tag
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Refresh"] == "30"


def test_the_page_refresh_is_configurable_and_can_be_turned_off(
    checks: None, make_app: Callable[..., Flask]
) -> None:
    every_five = make_app(HEALTHCHECK_PAGE_REFRESH=5).test_client()
    never = make_app(HEALTHCHECK_PAGE_REFRESH=0).test_client()

    assert every_five.get("/healthz?format=html").headers["Refresh"] == "5"
    assert "Refresh" not in never.get("/healthz?format=html").headers
    assert "Refresh" not in every_five.get("/healthz?format=json").headers
    assert "Content-Security-Policy" in never.get("/healthz?format=html").headers


def test_the_page_escapes_names_and_outputs(
    health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    health.add_check(lambda: (False, "<script>alert('x')</script> & <b>bold</b>"), name="a-b.c")
    client = make_app(HEALTHCHECK_HOSTNAME="<img src=x onerror=alert(1)>").test_client()

    page = html_of(client, "/healthz?format=html")

    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page
    assert "<img" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_the_page_withholds_details_unless_the_token_is_given(
    health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    def database() -> tuple[bool, str]:
        raise ConnectionError("password authentication failed for user app")

    health.add_check(database)
    client = make_app(HEALTHCHECK_TOKEN="s3cret-token").test_client()

    public = html_of(client, "/healthz", Accept=BROWSER_ACCEPT)
    authorised = html_of(
        client, "/healthz", Accept=BROWSER_ACCEPT, Authorization="Bearer s3cret-token"
    )

    assert "raised ConnectionError (details withheld)" in public
    assert "password authentication failed" not in public
    assert "password authentication failed for user app" in authorised


def test_the_banner_says_passing_degraded_or_failing() -> None:
    passing = result("database", True, "ok", since=900.0)
    warning = result("disk", True, "90% full", since=900.0, warning=True)
    failing = result("cache", False, "down", since=900.0)

    def banner(*results: CheckResult) -> str:
        page = render_html(Report.of(results, "web-1", 1000.0, Endpoint.REPORT), False)
        return page.split("<h1>", 1)[1].split("</h1>", 1)[0]

    assert banner(passing) == "Passing"
    assert banner(passing, warning) == "Degraded"
    assert banner(passing, warning, failing) == "Failing"
    assert banner() == "Passing"


def test_the_page_lists_failing_checks_first_with_duration_and_time_since_change() -> None:
    report = Report.of(
        [
            result("database", True, "ok", since=1000.0 - 3 * 3600),
            result("cache", False, "connection refused", since=1000.0 - 200),
        ],
        "web-1",
        1000.0,
        Endpoint.REPORT,
    )

    page = render_html(report, False)

    assert page.index("<h2>cache</h2>") < page.index("<h2>database</h2>")
    assert "<dt>Failing for</dt><dd>3 min</dd>" in page
    assert "<dt>Passing for</dt><dd>3 h</dd>" in page
    assert "<dt>Took</dt><dd>12 ms</dd>" in page
    assert "1 of 2 failing: cache" in page


@pytest.mark.parametrize(
    ("seconds", "said"),
    [(0.2, "under 1 s"), (42, "42 s"), (200, "3 min"), (7200, "2 h"), (3 * 86400, "3 d")],
)
def test_relative_times_read_as_people_say_them(seconds: float, said: str) -> None:
    assert relative(seconds) == said


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE, "not a PNG"
    assert data[12:16] == b"IHDR", "a PNG starts with its IHDR chunk"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_headless_chromium_renders_the_page_from_a_real_server(tmp_path: Path) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        message = "chromium is not installed (python3 dev.py installs it as root on Debian)"
        if IN_CI:
            pytest.fail(f"{message}, and under CI=true this test must not skip")
        pytest.skip(message)
    SHOTS.mkdir(exist_ok=True)
    screenshot = SHOTS / "status-page-phone.png"
    switch = tmp_path / "switch"
    environment = {"STATUS_APP_SWITCH": str(switch), "STATUS_APP_NO_STARTUP_GATE": "1"}
    with serve(
        "status_app:create_app", server="flask", environment=environment, log=tmp_path / "log"
    ) as base:
        # A history to draw: the switch check passes, flaps twice, and fails at the end.
        for on in [True] * 8 + [False] * 3 + [True] * 6 + [False] * 4:
            if on:
                switch.touch()
            else:
                switch.unlink(missing_ok=True)
            try:
                with urllib.request.urlopen(f"{base}/healthz/ready?format=json") as answer:
                    status = answer.status
            except urllib.error.HTTPError as failed:
                status = failed.code
            assert status == (200 if on else 503)
        command = [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=412,900",
            f"--screenshot={screenshot}", "--dump-dom", f"{base}/healthz",
        ]  # fmt: skip
        browser = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    assert browser.returncode == 0, browser.stderr[-2000:]

    dom = browser.stdout
    assert "<h1>Failing</h1>" in dom
    for name in ("database", "switch", "search"):
        assert f"<h2>{name}</h2>" in dom
    assert "switched off" in dom
    assert "&lt;script&gt;alert('stale')&lt;/script&gt;" in dom
    assert "<script>" not in dom
    # Each card has its sparkline; the switch's shows the 22 runs it had (21 + the page's).
    assert dom.count('<svg class="spark"') == 3
    found = re.search(r'aria-label="last \d+ runs: \d+ failed', dom)
    assert found is not None, dom
    assert found.group(0) == 'aria-label="last 22 runs: 8 failed'
    assert "<dt>Flaps</dt><dd>3</dd>" in dom

    data = screenshot.read_bytes()
    width, height = _png_size(data)
    assert 300 <= width <= 2000
    assert 300 <= height <= 4000
    assert len(data) > 10_000, "the screenshot looks blank"
