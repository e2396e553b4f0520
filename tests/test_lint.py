"""``flask healthcheck lint``: each rule catches its mistake at the right line and lets a right
manifest pass; the sample's manifests and the output of ``flask healthcheck k8s`` pass."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskCliRunner

from flask_healthcheck import HealthCheck, LintError
from flask_healthcheck.cli import healthcheck
from flask_healthcheck.kubernetes import to_yaml, web_probes
from flask_healthcheck.lint import Finding, duration, lint_text

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "sample_app" / "deploy"


def make_app(**config: object) -> Flask:
    """An app with a dependency check, a check tagged live, deadline 3 s, drain 15 s."""
    app = Flask("lint_app")
    app.config.update({"HEALTHCHECK_DRAIN_SECONDS": 15, **config})
    health = HealthCheck()
    health.add_check(lambda: (True, "ok"), name="database")
    health.add_check(lambda: (True, "ok"), name="threads", tags=["live"])
    health.init_app(app)
    return app


@pytest.fixture
def app() -> Flask:
    return make_app()


#: A Deployment that agrees with :func:`make_app`; the tests break one line of it at a time.
GOOD = textwrap.dedent(
    """\
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
    spec:
      template:
        spec:
          terminationGracePeriodSeconds: 40
          containers:
            - name: web
              ports:
                - {name: http, containerPort: 8000}
              startupProbe:
                httpGet: {path: /healthz/startup, port: http}
                timeoutSeconds: 4
              readinessProbe:
                httpGet: {path: /healthz/ready, port: http}
                periodSeconds: 5
                timeoutSeconds: 4
                failureThreshold: 2
              livenessProbe:
                httpGet: {path: /healthz/live, port: http}
                periodSeconds: 10
                timeoutSeconds: 4
    """
)


def edit(text: str, line: int, new: str | None) -> str:
    """*text* with its line *line* (1-based) replaced by *new* (kept indented), or removed."""
    lines = text.splitlines(keepends=True)
    old = lines[line - 1]
    indent = old[: len(old) - len(old.lstrip())]
    lines[line - 1] = "" if new is None else indent + new + "\n"
    return "".join(lines)


def lint(app: Flask, text: str, file: str = "web.yaml") -> list[Finding]:
    with app.app_context():
        return lint_text(text, file, app)


def rules(findings: list[Finding]) -> list[tuple[str, int]]:
    return [(finding.rule, finding.line) for finding in findings]


def test_a_manifest_that_agrees_with_the_app_passes(app: Flask) -> None:
    assert lint(app, GOOD) == []


def test_probe_timeout_no_longer_than_the_deadline(app: Flask) -> None:
    [finding] = lint(app, edit(GOOD, 19, "timeoutSeconds: 3"))

    assert (finding.rule, finding.line) == ("probe-timeout", 19)
    assert "gives up after 3 s" in finding.message
    assert "HEALTHCHECK_DEADLINE, 3 s" in finding.message
    assert "wait 4 s" in finding.message
    assert str(finding).startswith("web.yaml:19: error: probe-timeout: Deployment web, container")


def test_an_absent_timeout_is_kubernetes_one_second(app: Flask) -> None:
    # At the probe's own line, for want of a timeoutSeconds line.
    assert rules(lint(app, edit(GOOD, 15, None))) == [("probe-timeout", 13)]


def test_liveness_of_a_live_check_needs_no_long_timeout_but_of_a_dependency_fails(
    app: Flask,
) -> None:
    # /healthz/live runs the live-tagged check: its timeout matters too.
    assert rules(lint(app, edit(GOOD, 24, "timeoutSeconds: 2"))) == [("probe-timeout", 24)]

    on_ready = edit(GOOD, 22, "httpGet: {path: /healthz/ready, port: http}")
    assert rules(lint(app, on_ready)) == [("liveness-dependency", 21)]
    [finding] = lint(app, edit(GOOD, 22, "httpGet: {path: /healthz/database, port: http}"))
    assert finding.rule == "liveness-dependency"
    assert "check 'database', not tagged live" in finding.message
    assert lint(app, edit(GOOD, 22, "httpGet: {path: /healthz/threads, port: http}")) == []


def test_missing_startup_probe_when_liveness_waits_for_start_up() -> None:
    gated = make_app(HEALTHCHECK_STARTUP_GATE=["live", "ready"])
    without = edit(edit(edit(GOOD, 15, None), 14, None), 13, None)

    assert rules(lint(gated, without)) == [("missing-startup", 18)]
    assert lint(gated, GOOD) == []
    assert lint(make_app(), without) == []  # liveness is not gated by default


def test_grace_period_shorter_than_the_drain_and_its_default(app: Flask) -> None:
    # 15 s of drain and a last answer of up to 4 s need 19 s.
    [finding] = lint(app, edit(GOOD, 8, "terminationGracePeriodSeconds: 18"))
    assert (finding.rule, finding.line) == ("grace-period", 8)
    assert "give it 30 s" in finding.message  # as flask healthcheck k8s prints
    assert lint(app, edit(GOOD, 8, "terminationGracePeriodSeconds: 19")) == []

    long_drain = make_app(HEALTHCHECK_DRAIN_SECONDS=30)
    # Kubernetes' 30 s when absent, against 34 s; at the pod spec's first line.
    assert rules(lint(long_drain, edit(GOOD, 8, None))) == [("grace-period", 8)]


def test_a_drain_shorter_than_readiness_takes_to_notice(app: Flask) -> None:
    slow = edit(GOOD, 20, "failureThreshold: 4")  # 5 s x 4 = 20 s, past the 15 s drain

    assert rules(lint(app, slow)) == [("drain-notice", 16)]


def test_unknown_paths_under_the_base_path(app: Flask) -> None:
    [finding] = lint(app, edit(GOOD, 17, "httpGet: {path: /healthz/redy, port: http}"))
    assert (finding.rule, finding.line) == ("unknown-path", 17)
    assert "no check named 'redy'" in finding.message

    deeper = edit(GOOD, 17, "httpGet: {path: /healthz/ready/now, port: http}")
    assert rules(lint(app, deeper)) == [("unknown-path", 17)]
    # The app's own paths, and other containers', are not the library's to judge.
    assert lint(app, edit(GOOD, 17, "httpGet: {path: /ready, port: http}")) == []


#: GOOD, in a container that sets the probe port (the app in the test starts no server on it).
WITH_PROBE_PORT = edit(
    GOOD, 11, 'env:\n            - {name: HEALTHCHECK_PROBE_PORT, value: "8081"}\n          ports:'
)


def test_probe_port_set_but_probes_on_the_app_port_warn(app: Flask) -> None:
    findings = lint(app, WITH_PROBE_PORT)

    assert [(finding.rule, finding.severity) for finding in findings] == [
        ("probe-port", "warning")
    ] * 3
    on_probe_port = WITH_PROBE_PORT.replace("port: http}", "port: probes}")
    on_probe_port = edit(
        on_probe_port,
        14,
        "- {name: http, containerPort: 8000}\n            - {name: probes, containerPort: 8081}",
    )
    assert lint(app, on_probe_port) == []
    # On the probe port /ready is the app's /healthz/ready: its timeout is held to the deadline.
    short = edit(on_probe_port, 20, "httpGet: {path: /ready, port: probes}")
    short = edit(short, 22, "timeoutSeconds: 2")
    assert rules(lint(app, short)) == [("probe-timeout", 22)]


def test_the_container_environment_is_over_the_app_settings(app: Flask) -> None:
    with_env = edit(
        GOOD,
        11,
        'env:\n            - {name: HEALTHCHECK_DRAIN_SECONDS, value: "40"}\n'
        '            - {name: HEALTHCHECK_DEADLINE, value: "soon"}\n          ports:',
    )

    # 40 s of drain need 44 s; a deadline the extension would refuse is named at its line.
    assert rules(lint(app, with_env)) == [("grace-period", 8), ("bad-setting", 13)]


COMPOSE = textwrap.dedent(
    """\
    x-env: &env
      HEALTHCHECK_DRAIN_SECONDS: "5"
    services:
      web:
        environment:
          <<: *env
        stop_grace_period: 30s
        healthcheck:
          test: ["CMD", "flask-healthcheck", "probe", "http://127.0.0.1:8000/healthz/ready"]
          timeout: 2500ms
      db:
        healthcheck:
          test: ["CMD", "pg_isready"]
    """
)


def test_compose_durations_merge_keys_and_rules(app: Flask) -> None:
    [finding] = lint(app, COMPOSE, "compose.yml")

    assert (finding.rule, finding.line) == ("probe-timeout", 10)
    assert "gives up after 2.5 s" in finding.message
    # The drain of 5 s comes from the merged x-env block; 9 s are needed to stop.
    right = edit(edit(COMPOSE, 10, "timeout: 4s"), 7, "stop_grace_period: 5s")
    [finding] = lint(app, right, "compose.yml")
    assert (finding.rule, finding.line) == ("grace-period", 7)
    assert "give it 14 s" in finding.message


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10s", 10.0), ("1m30s", 90.0), ("500ms", 0.5), ("1h", 3600.0), (7, 7.0), ("ten", None)],
)
def test_compose_durations(text: object, seconds: float | None) -> None:
    assert duration(text) == seconds


def test_invalid_yaml_names_its_line(app: Flask) -> None:
    with pytest.raises(LintError, match=r"web\.yaml:3: not valid YAML"):
        lint(app, "a: 1\nb: [2\nc: 3\n")


# -- the command ----------------------------------------------------------------------------


def invoke(app: Flask, *args: str) -> Result:
    return FlaskCliRunner(app).invoke(healthcheck, ["lint", *args])


def test_the_command_prints_findings_and_exits_1_0_or_2(app: Flask, tmp_path: Path) -> None:
    good, bad, broken = tmp_path / "good.yaml", tmp_path / "bad.yaml", tmp_path / "broken.yaml"
    good.write_text(GOOD)
    bad.write_text(edit(GOOD, 17, "httpGet: {path: /healthz/redy, port: http}"))
    broken.write_text("a: [\n")

    passed = invoke(app, str(good))
    assert passed.exit_code == 0, passed.output
    failed = invoke(app, str(good), str(bad))
    assert failed.exit_code == 1
    assert f"{bad}:17: error: unknown-path:" in failed.output
    assert "2 files: 1 error, 0 warnings" in failed.output
    unreadable = invoke(app, str(broken))
    assert unreadable.exit_code == 2
    assert "not valid YAML" in unreadable.output
    missing = invoke(app, str(tmp_path / "nope.yaml"))
    assert missing.exit_code == 2
    assert invoke(app).exit_code == 2  # no file


def test_warnings_fail_only_with_strict(app: Flask, tmp_path: Path) -> None:
    manifest = tmp_path / "web.yaml"
    manifest.write_text(WITH_PROBE_PORT)

    assert invoke(app, str(manifest)).exit_code == 0
    assert invoke(app, "--strict", str(manifest)).exit_code == 1


def test_what_flask_healthcheck_k8s_prints_passes(app: Flask) -> None:
    with app.app_context():
        probes = web_probes(app.extensions["healthcheck"].state(app).settings, "http")
    grace = probes.pop("terminationGracePeriodSeconds")
    manifest = (
        "kind: Pod\nmetadata: {name: web}\nspec:\n"
        f"  terminationGracePeriodSeconds: {grace}\n  containers:\n    - name: web\n"
        "      ports: [{name: http, containerPort: 8000}]\n" + to_yaml(probes, 6) + "\n"
    )

    assert lint(app, manifest) == []


def test_the_sample_manifests_pass_with_the_sample_app() -> None:
    files = [
        DEPLOY / "docker-compose.yml",
        *sorted((DEPLOY / "kubernetes").rglob("*.yaml")),
    ]
    environment = {"PATH": str(Path(sys.executable).parent), "HOME": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "sample_app:create_app", "healthcheck", "lint",
         "--strict", *map(str, files)],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    assert run.returncode == 0, run.stdout + run.stderr
    assert f"{len(files)} files: 0 errors, 0 warnings" in run.stderr
