"""The ``flask-healthcheck`` console script: ``probe`` and ``nagios`` against a real server."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flask_healthcheck import console
from flask_healthcheck.http_probe import ProbeError, fetch
from flask_healthcheck.nagios import PluginStatus

from .app_server import serve
from .services import black_hole, free_port

COMMAND = [sys.executable, "-m", "flask_healthcheck.console"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The status app under gunicorn; its ``switch`` check passes while the file exists."""
    directory = tmp_path_factory.mktemp("console")
    switch = directory / "switch"
    switch.touch()
    environment = {"STATUS_APP_SWITCH": str(switch)}
    with serve(
        "status_app:create_app", server="gunicorn", environment=environment, log=directory / "log"
    ) as base:
        yield base, switch


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args], capture_output=True, text=True, timeout=30, check=False
    )


def test_probe_exits_0_on_a_2xx_answer(server: tuple[str, Path]) -> None:
    base, _ = server
    result = run("probe", f"{base}/healthz/database")
    assert result.returncode == 0, result.stderr
    assert "answered 200 OK" in result.stdout


def test_probe_exits_1_with_a_one_line_reason_on_503(server: tuple[str, Path]) -> None:
    base, switch = server
    switch.unlink()
    try:
        result = run("probe", f"{base}/healthz/switch", "--timeout", "5")
    finally:
        switch.touch()
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "answered 503 SERVICE UNAVAILABLE" in result.stderr


def test_probe_exits_1_when_the_connection_is_refused() -> None:
    port = free_port()
    result = run("probe", f"http://127.0.0.1:{port}/healthz/live")
    assert result.returncode == 1
    assert (
        result.stderr.strip() == f"flask-healthcheck probe: connection refused by 127.0.0.1:{port}"
    )


def test_probe_gives_up_on_time_against_a_server_that_never_answers() -> None:
    with black_hole() as hole:
        started = time.monotonic()
        result = run("probe", f"http://127.0.0.1:{hole.port}/healthz/live", "--timeout", "1")
        elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert "no answer from 127.0.0.1" in result.stderr
    assert "within 1 s" in result.stderr
    assert elapsed < 10  # the interpreter's start plus one second, with room for a busy box


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "the URL is missing"),
        (("ftp://example.invalid/",), "not an http:// or https:// URL"),
        (("http://127.0.0.1/", "--timeout", "zero"), "--timeout needs seconds above zero"),
        (("http://127.0.0.1/", "--bogus"), "unexpected argument '--bogus'"),
    ],
)
def test_probe_usage_errors_exit_1_and_say_why(args: tuple[str, ...], message: str) -> None:
    result = run("probe", *args)
    assert result.returncode == 1
    assert message in result.stderr


def test_nagios_is_ok_when_every_check_passes(server: tuple[str, Path]) -> None:
    base, _ = server
    result = run("nagios", f"{base}/healthz/database")
    assert result.returncode == PluginStatus.OK
    assert result.stdout.startswith("HEALTHCHECK OK - 1 check passed | 'database'=")


def test_nagios_warns_when_only_a_non_critical_check_fails(server: tuple[str, Path]) -> None:
    base, _ = server
    result = run("nagios", f"{base}/healthz")
    assert result.returncode == PluginStatus.WARNING, result.stdout
    line = result.stdout.strip()
    assert line.startswith("HEALTHCHECK WARNING - search failed (non-critical)")
    assert "'database'=" in line.split("|", 1)[1]
    assert "'switch'=" in line.split("|", 1)[1]


def test_nagios_is_critical_when_a_critical_check_fails(server: tuple[str, Path]) -> None:
    base, switch = server
    switch.unlink()
    try:
        result = run("nagios", f"{base}/healthz")
    finally:
        switch.touch()
    assert result.returncode == PluginStatus.CRITICAL, result.stdout
    assert result.stdout.startswith("HEALTHCHECK CRITICAL - switch failed: switched off")


@pytest.mark.parametrize("target", ["refused", "hung", "not-a-report"])
def test_nagios_is_unknown_when_it_cannot_find_out(server: tuple[str, Path], target: str) -> None:
    base, _ = server
    with black_hole() as hole:
        url = {
            "refused": f"http://127.0.0.1:{free_port()}/healthz",
            "hung": f"http://127.0.0.1:{hole.port}/healthz",
            "not-a-report": f"{base}/no-such-page",
        }[target]
        result = run("nagios", url, "--timeout", "1")
    assert result.returncode == PluginStatus.UNKNOWN, result.stdout
    assert result.stdout.startswith("HEALTHCHECK UNKNOWN - ")
    assert result.stdout.count("\n") == 1


def test_fetch_reports_a_bad_answer_as_a_probe_error() -> None:
    with black_hole() as hole, pytest.raises(ProbeError, match=r"within 0\.2 s"):
        fetch(f"http://127.0.0.1:{hole.port}/", 0.2)


def test_the_command_never_imports_flask() -> None:
    code = (
        "import sys\n"
        "from flask_healthcheck import console\n"
        "console.main(['probe', 'http://127.0.0.1:1/'])\n"
        "console.main(['nagios', 'http://127.0.0.1:1/'])\n"
        "assert 'flask' not in sys.modules, 'flask was imported'\n"
        "assert 'http.client' not in sys.modules, 'http.client was imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr


def test_an_unknown_command_is_a_usage_error() -> None:
    assert console.main(["bogus"]) == 2
    assert console.main([]) == 2
    assert console.main(["--help"]) == 0


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("token")
    environment = {"TOKEN_APP_TOKEN": "n4gios-t0ken"}
    with serve(
        "token_app:create_app", server="gunicorn", environment=environment, log=directory / "log"
    ) as base:
        yield base


def test_nagios_with_the_token_shows_the_withheld_reason(token_server: str) -> None:
    public = run("nagios", f"{token_server}/healthz")
    detailed = run("nagios", f"{token_server}/healthz", "--token", "n4gios-t0ken")

    assert public.returncode == detailed.returncode == PluginStatus.CRITICAL
    assert "ledger failed: raised ConnectionError (details withheld)" in public.stdout
    assert "refused the connection" not in public.stdout
    assert "raised ConnectionError: ledger at 10.0.0.7:5432 refused the connection" in (
        detailed.stdout
    )


def test_nagios_with_a_wrong_token_is_unknown(token_server: str) -> None:
    result = run("nagios", f"{token_server}/healthz", "--token=wrong")

    assert result.returncode == PluginStatus.UNKNOWN
    assert "invalid token" in result.stdout


def test_probe_sends_the_token_too(token_server: str) -> None:
    assert run("probe", f"{token_server}/healthz/live", "--token", "wrong").returncode == 1
    assert run("probe", f"{token_server}/healthz/live", "--token", "n4gios-t0ken").returncode == 0
