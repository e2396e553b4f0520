"""The ``flask-healthcheck`` console script: ``probe`` and ``nagios`` against a real server."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from flask_healthcheck import __version__, console, http_probe
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
        ((), "the following arguments are required: URL"),
        (("ftp://example.invalid/",), "not an http:// or https:// URL"),
        (("http://127.0.0.1/", "--timeout", "zero"), "not a number of seconds: 'zero'"),
        (("http://127.0.0.1/", "--timeout=-1"), "must be more than zero seconds: '-1'"),
        (("http://127.0.0.1/", "--token", ""), "argument --token: needs a token of one line"),
        (("http://127.0.0.1/", "--bogus"), "unrecognized arguments: --bogus"),
    ],
)
def test_probe_usage_errors_exit_1_and_say_why(args: tuple[str, ...], message: str) -> None:
    result = run("probe", *args)
    assert result.returncode == 1
    assert message in result.stderr


@pytest.mark.parametrize("args", [("--help",), ("probe", "--help"), ("nagios", "--help")])
def test_help_is_plain_text(args: tuple[str, ...]) -> None:
    result = run(*args)

    assert result.returncode == 0
    assert result.stdout.startswith("usage: flask-healthcheck")
    for markup in ("``", ":mod:", ":func:", "::", ".. "):
        assert markup not in result.stdout


def test_help_lists_the_commands() -> None:
    result = run("--help")

    commands = result.stdout.split("commands:", 1)[1]
    assert re.findall(r"^    (\w+) ", commands, re.MULTILINE) == ["probe", "nagios", "worker"]


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


def test_an_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert console.main(["bogus"]) == 2
    assert "invalid choice: 'bogus'" in capsys.readouterr().err
    assert console.main([]) == 2
    assert console.main(["--token", "x", "probe"]) == 2
    assert console.main(["--help"]) == 0


def test_version_is_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert console.main(["--version"]) == 0
    assert capsys.readouterr().out == f"flask-healthcheck {__version__}\n"
    assert console.main(["nagios", "-V"]) == 0
    assert capsys.readouterr().out == f"flask-healthcheck nagios {__version__}\n"


# -- nagios with check_http's options ------------------------------------------------------


def host_and_port(base: str) -> tuple[str, str]:
    parts = urlsplit(base)
    return str(parts.hostname), str(parts.port)


def test_nagios_takes_check_http_host_port_and_path(server: tuple[str, Path]) -> None:
    base, _ = server
    host, port = host_and_port(base)

    by_url = run("nagios", f"{base}/healthz/database", "--timeout", "5")
    by_host = run("nagios", "-H", host, "-p", port, "-u", "/healthz/database", "-t", "5")
    long_options = run("nagios", f"--hostname={host}", f"--port={port}", "--url=/healthz/database")

    for result in (by_url, by_host, long_options):
        assert result.returncode == PluginStatus.OK, result.stdout
        assert result.stdout.startswith("HEALTHCHECK OK - 1 check passed | 'database'=")


def test_nagios_with_only_a_host_asks_the_default_path(server: tuple[str, Path]) -> None:
    base, _ = server
    host, port = host_and_port(base)

    result = run("nagios", "-H", host, "-p", port)

    assert result.returncode == PluginStatus.WARNING, result.stdout  # /healthz: search fails
    assert "'switch'=" in result.stdout


@pytest.mark.parametrize(
    ("args", "url"),
    [
        (["-H", "app.internal"], "http://app.internal/healthz"),
        (["-H", "app.internal", "-S"], "https://app.internal/healthz"),
        (
            ["-H", "10.0.0.5", "-p", "8000", "-u", "healthz/ready"],
            "http://10.0.0.5:8000/healthz/ready",
        ),
        (["-H", "::1", "-p", "8000"], "http://[::1]:8000/healthz"),
        (["-H", "[::1]", "--ssl", "-u", "/h?x=1"], "https://[::1]/h?x=1"),
        (["http://app/healthz/ready"], "http://app/healthz/ready"),
    ],
)
def test_nagios_endpoint_from_check_http_options(args: list[str], url: str) -> None:
    options = http_probe._nagios_parser().parse_args(args)

    assert http_probe._endpoint(options) == url


def test_nagios_thresholds_make_a_slow_answer_warning_or_critical(
    server: tuple[str, Path],
) -> None:
    base, _ = server
    url = f"{base}/healthz/database"
    never_slow = run("nagios", url, "-w", "60", "-c", "120")
    # No answer over a socket takes less than a microsecond: these are always exceeded.
    warning = run("nagios", url, "-w", "0.000001")
    critical = run("nagios", url, "--warning=0.000001", "--critical=0.000002")

    assert never_slow.returncode == PluginStatus.OK, never_slow.stdout
    assert re.search(r" time=\d+\.\d{3,6}s;60\.000;120\.000;0$", never_slow.stdout.strip())
    assert warning.returncode == PluginStatus.WARNING, warning.stdout
    assert warning.stdout.startswith("HEALTHCHECK WARNING - 1 check passed; answered in "), (
        warning.stdout
    )
    assert "above the warning threshold of 0.000001 s" in warning.stdout
    assert re.search(r" time=\d+\.\d{3,6}s;0\.000001;;0$", warning.stdout.strip())
    assert critical.returncode == PluginStatus.CRITICAL, critical.stdout
    assert "above the critical threshold of 0.000002 s" in critical.stdout
    assert critical.stdout.strip().endswith("s;0.000001;0.000002;0")


def test_nagios_thresholds_never_improve_a_failing_report(server: tuple[str, Path]) -> None:
    base, switch = server
    switch.unlink()
    try:
        result = run("nagios", f"{base}/healthz", "-w", "0.000001", "-c", "60")
    finally:
        switch.touch()

    assert result.returncode == PluginStatus.CRITICAL, result.stdout
    assert result.stdout.startswith("HEALTHCHECK CRITICAL - switch failed: switched off")
    assert "above the warning threshold" in result.stdout


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ((), "give the URL, or the host with -H"),
        (("http://a/", "-H", "a"), "give the URL or -H, not both"),
        (("http://a/", "-p", "80", "-S"), "-p, -S cannot go with a URL, only with -H"),
        (("-H", "a", "-w", "2", "-c", "1"), "the warning threshold (-w) is above the critical"),
        (("-H", "a", "-w", "1:2"), "argument -w/--warning: not a number of seconds: '1:2'"),
        (("-H", "a", "-p", "http"), "argument -p/--port: not a port number: 'http'"),
        (("-H", "a/b"), "argument -H/--hostname: not a host name or address: 'a/b'"),
        (("-H", "a", "--bogus"), "unrecognized arguments: --bogus"),
    ],
)
def test_nagios_usage_errors_are_one_unknown_line(args: tuple[str, ...], reason: str) -> None:
    result = run("nagios", *args)

    assert result.returncode == PluginStatus.UNKNOWN
    assert result.stdout.count("\n") == 1
    assert result.stdout.startswith("HEALTHCHECK UNKNOWN - usage error: ")
    assert reason in result.stdout
    assert result.stderr.startswith("usage: flask-healthcheck nagios")


def test_nagios_timeout_short_option() -> None:
    with black_hole() as hole:
        result = run("nagios", "-H", "127.0.0.1", "-p", str(hole.port), "-t", "0.5")

    assert result.returncode == PluginStatus.UNKNOWN
    assert "within 0.5 s" in result.stdout


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
