"""``flask healthcheck list`` and ``run``, through Flask's CLI runner and in a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask

from flask_healthcheck import CheckError, HealthCheck, Outcome
from flask_healthcheck.cli import healthcheck

ROOT = Path(__file__).resolve().parent.parent
FLASK = str(Path(sys.executable).with_name("flask"))
CLI_APP = "tests.apps.cli_app:create_app"


def invoke(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(healthcheck, list(args))


@pytest.fixture
def checked_app(health: HealthCheck, make_app: Callable[..., Flask]) -> Flask:
    """``database`` (critical) and ``redis`` (non-critical, tagged cache) pass; ``disk`` is live."""
    health.add_check(lambda: (True, "database ok"), name="database")
    health.add_check(
        lambda: (True, "redis ok"), name="redis", critical=False, tags=["ready", "cache"]
    )
    health.add_check(lambda: (True, "disk ok"), name="disk", tags="live", timeout=0.5)
    return make_app()


def test_list_prints_each_check_with_tags_criticality_and_timeout(checked_app: Flask) -> None:
    result = invoke(checked_app, "list")

    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.output.splitlines()]
    assert lines == [
        ["NAME", "TAGS", "CRITICAL", "TIMEOUT"],
        ["database", "ready", "yes", "2s"],
        ["redis", "cache,ready", "no", "2s"],
        ["disk", "live", "yes", "0.5s"],
    ]


def test_list_says_so_when_no_check_is_registered(app: Flask) -> None:
    result = invoke(app, "list")

    assert result.exit_code == 0
    assert result.output == "no checks registered\n"


def test_run_exits_0_and_prints_the_text_report_when_every_check_passes(
    checked_app: Flask,
) -> None:
    result = invoke(checked_app, "run")

    assert result.exit_code == 0, result.output
    assert result.output == (
        "[+]database ok: database ok\n[+]redis ok: redis ok\n[+]disk ok: disk ok\n"
        "run check passed\n"
    )


def test_run_exits_1_when_a_critical_check_fails(health: HealthCheck, checked_app: Flask) -> None:
    health.add_check(lambda: (False, "queue is full"), name="queue")

    result = invoke(checked_app, "run")

    assert result.exit_code == 1
    assert "[-]queue failed: queue is full" in result.output


def test_run_exits_0_when_only_a_non_critical_check_fails(
    health: HealthCheck, checked_app: Flask
) -> None:
    health.add_check(lambda: (False, "slow"), name="search", critical=False)

    result = invoke(checked_app, "run")

    assert result.exit_code == 0
    assert "[-]search failed (non-critical): slow" in result.output
    assert result.output.endswith("run check passed, degraded\n")


def test_run_runs_only_the_named_checks(checked_app: Flask) -> None:
    result = invoke(checked_app, "run", "disk", "database", "--format", "json")

    assert result.exit_code == 0
    assert [check["checker"] for check in json.loads(result.output)["results"]] == [
        "disk",
        "database",
    ]


def test_run_runs_only_the_checks_with_the_tag(checked_app: Flask) -> None:
    result = invoke(checked_app, "run", "--tag", "cache", "--format", "json")

    assert [check["checker"] for check in json.loads(result.output)["results"]] == ["redis"]


def test_run_json_has_the_shape_of_the_endpoint_json(checked_app: Flask) -> None:
    cli_body = json.loads(invoke(checked_app, "run", "--format", "json").output)
    http_body = checked_app.test_client().get("/healthz").json

    assert http_body is not None
    assert cli_body.keys() == http_body.keys()
    assert cli_body["status"] == "success"
    assert [check.keys() for check in cli_body["results"]] == [
        check.keys() for check in http_body["results"]
    ]


def test_run_health_json_format_is_available(checked_app: Flask) -> None:
    result = invoke(checked_app, "run", "--format", "health+json")

    assert json.loads(result.output)["status"] == "pass"


def test_unknown_check_name_is_a_usage_error_naming_the_registered_checks(
    checked_app: Flask,
) -> None:
    result = invoke(checked_app, "run", "databse")

    assert result.exit_code == 2
    assert "unknown check 'databse'; registered checks: database, disk, redis" in result.output


def test_unknown_tag_is_a_usage_error_naming_the_tags(checked_app: Flask) -> None:
    result = invoke(checked_app, "run", "--tag", "reddy")

    assert result.exit_code == 2
    assert "no check has the tag 'reddy'; the tags are: cache, live, ready" in result.output


def test_names_and_tag_together_are_a_usage_error(checked_app: Flask) -> None:
    result = invoke(checked_app, "run", "disk", "--tag", "live")

    assert result.exit_code == 2
    assert "give check names or --tag, not both" in result.output


def test_app_without_the_extension_is_a_usage_error_saying_what_to_do() -> None:
    app = Flask("bare")

    result = app.test_cli_runner().invoke(healthcheck, ["run"])

    assert result.exit_code == 2
    assert "has no HealthCheck; create one with HealthCheck(app)" in result.output


def test_exception_text_is_shown_only_with_details(
    health: HealthCheck, make_app: Callable[..., Flask]
) -> None:
    def broken() -> tuple[bool, str]:
        raise RuntimeError("quota exceeded on /srv/private")

    health.add_check(broken, name="broken")
    app = make_app()

    public = invoke(app, "run", "--format", "nagios")
    detailed = invoke(app, "run", "--format", "nagios", "--details")

    assert "/srv/private" not in public.output
    assert "broken failed: raised RuntimeError (details withheld)" in public.output
    assert "broken failed: raised RuntimeError: quota exceeded on /srv/private" in detailed.output


def test_hung_check_is_reported_timed_out_and_the_command_returns(
    health: HealthCheck, make_app: Callable[..., Flask], release: threading.Event
) -> None:
    health.add_check(lambda: (release.wait(60), "late"), name="hung", timeout=0.2)
    app = make_app()

    started = time.monotonic()
    result = invoke(app, "run")

    assert time.monotonic() - started < 5
    assert result.exit_code == 1
    assert "[-]hung failed: timed out after 0.2 s" in result.output


@pytest.mark.parametrize(
    ("outcomes", "status", "words"),
    [
        ({}, 0, "HEALTHCHECK OK - 3 checks passed"),
        ({"redis": False}, 1, "HEALTHCHECK WARNING - redis failed (non-critical): redis is down"),
        ({"disk": "warn"}, 1, "HEALTHCHECK WARNING - disk warn: disk is filling up"),
        (
            {"database": False, "redis": False},
            2,
            "HEALTHCHECK CRITICAL - database failed: database is down; "
            "redis failed (non-critical): redis is down",
        ),
    ],
)
def test_nagios_format_exits_as_a_plugin_with_one_status_line(
    health: HealthCheck,
    make_app: Callable[..., Flask],
    outcomes: dict[str, object],
    status: int,
    words: str,
) -> None:
    def check(name: str) -> Callable[[], Outcome]:
        def run() -> Outcome:
            if outcomes.get(name) is False:
                raise CheckError(f"{name} is down")
            if outcomes.get(name) == "warn":
                return Outcome(True, f"{name} is filling up", warning=True)
            return Outcome(True, f"{name} ok")

        return run

    health.add_check(check("database"), name="database")
    health.add_check(check("redis"), name="redis", critical=False)
    health.add_check(check("disk"), name="disk")
    app = make_app()

    result = invoke(app, "run", "--format", "nagios")

    assert result.exit_code == status
    line, perfdata = result.output.rstrip("\n").split(" | ")
    assert "\n" not in result.output.rstrip("\n")
    assert line == words
    names = [datum.split("=")[0] for datum in perfdata.split()]
    assert names == ["'database'", "'redis'", "'disk'"]
    for datum in perfdata.split():
        value = datum.split("=")[1]
        assert value.endswith("s;;;0")
        float(value.removesuffix("s;;;0"))


def test_nagios_usage_error_is_unknown_on_stdout(checked_app: Flask) -> None:
    result = invoke(checked_app, "run", "nope", "--format", "nagios")

    assert result.exit_code == 3
    assert result.stdout.startswith("HEALTHCHECK UNKNOWN - unknown check 'nope'")


def run_flask(*args: str, **environment: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **environment}
    env.pop("FLASK_APP", None)
    return subprocess.run(
        [FLASK, "--app", CLI_APP, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_group_is_installed_as_a_flask_command() -> None:
    listed = run_flask("--help")
    checks = run_flask("healthcheck", "list")

    assert "healthcheck" in listed.stdout
    assert checks.returncode == 0, checks.stderr
    assert checks.stdout.split("\n")[1].split() == ["database", "ready", "yes", "2s"]


def test_a_real_flask_process_exits_with_each_nagios_status() -> None:
    cases = [
        ({}, 0, "HEALTHCHECK OK - 3 checks passed"),
        ({"CLI_APP_FAIL": "redis"}, 1, "HEALTHCHECK WARNING - redis failed (non-critical)"),
        ({"CLI_APP_FAIL": "database"}, 2, "HEALTHCHECK CRITICAL - database failed"),
    ]
    for environment, status, words in cases:
        completed = run_flask("healthcheck", "run", "--format", "nagios", **environment)
        assert completed.returncode == status, completed.stdout + completed.stderr
        assert completed.stdout.startswith(words)
    unknown = run_flask("healthcheck", "run", "nope", "--format", "nagios")
    assert unknown.returncode == 3
    assert unknown.stdout.startswith("HEALTHCHECK UNKNOWN - unknown check 'nope'")


def test_a_real_flask_process_exits_1_on_a_critical_failure_and_2_on_usage() -> None:
    failing = run_flask("healthcheck", "run", CLI_APP_FAIL="database")
    passing = run_flask("healthcheck", "run", "disk", "--format", "json")
    usage = run_flask("healthcheck", "run", "nope")

    assert failing.returncode == 1
    assert "[-]database failed: database is down" in failing.stdout
    assert passing.returncode == 0
    assert json.loads(passing.stdout)["results"][0]["checker"] == "disk"
    assert usage.returncode == 2
    assert "unknown check 'nope'" in usage.stderr


BROKEN_APPS = {
    "import_error": "import no_such_dependency_of_the_app\n",
    "no_app": "VALUE = 1\n",
    "factory_raises": (
        "def create_app():\n"
        "    raise RuntimeError('cannot reach postgresql://app:s3cret@db.internal/prod')\n"
    ),
    "module_raises": "raise ValueError('DATABASE_PASSWORD=s3cret is not accepted')\n",
    "exits": "import sys\nsys.exit('DATABASE_URL=postgresql://app:s3cret@db/x is unreachable')\n",
}


def run_flask_in(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLASK_")}
    return subprocess.run(
        [FLASK, *args],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("module", "kind"),
    [
        ("no_such_module", "its module was not found"),
        ("import_error", "its module raised ImportError"),
        ("no_app", "Flask found no app in its module"),
        ("factory_raises", "its code raised RuntimeError"),
        ("module_raises", "its code raised ValueError"),
        ("exits", "its code raised SystemExit"),
    ],
)
def test_nagios_format_on_an_app_that_cannot_be_loaded_is_one_unknown_line(
    tmp_path: Path, module: str, kind: str
) -> None:
    if module in BROKEN_APPS:
        (tmp_path / f"{module}.py").write_text(BROKEN_APPS[module])

    completed = run_flask_in(tmp_path, "--app", module, "healthcheck", "run", "--format", "nagios")

    assert completed.returncode == 3, completed.stdout + completed.stderr
    assert completed.stdout == f"HEALTHCHECK UNKNOWN - cannot load the app: {kind}\n"
    assert "s3cret" not in completed.stdout + completed.stderr
    assert completed.stderr.startswith("cannot load the app: ")  # the details, masked


def test_nagios_format_without_any_app_is_unknown(tmp_path: Path) -> None:
    completed = run_flask_in(tmp_path, "healthcheck", "run", "--format", "nagios")

    assert completed.returncode == 3
    assert completed.stdout == (
        "HEALTHCHECK UNKNOWN - cannot load the app: "
        "no app given (--app, FLASK_APP, wsgi.py or app.py)\n"
    )


def test_other_formats_report_an_app_that_cannot_be_loaded_as_flask_does(tmp_path: Path) -> None:
    (tmp_path / "no_app.py").write_text(BROKEN_APPS["no_app"])

    completed = run_flask_in(tmp_path, "--app", "no_app", "healthcheck", "run")

    assert completed.returncode == 2
    assert completed.stdout == ""
    assert "Failed to find Flask application or factory in module 'no_app'" in completed.stderr
