"""``flask healthcheck lint``: each rule catches its mistake at the right line and lets a right
manifest pass; the rules work without Flask; the sample's manifests and the output of
``flask healthcheck k8s`` pass."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskCliRunner

from flask_healthcheck import HealthCheck, LintError, Settings
from flask_healthcheck.cli import healthcheck
from flask_healthcheck.kubernetes import grace_period, stop_seconds, to_yaml, web_probes
from flask_healthcheck.lint import (
    LIVENESS,
    ONE_CHECK,
    READINESS,
    REPORT,
    START_UP,
    AppView,
    Finding,
    HttpCall,
    Match,
    Probe,
    Workload,
    check_grace,
    check_liveness,
    check_paths,
    check_probe_port,
    check_startup,
    check_timeouts,
    duration,
    http_call,
    lint_text,
)

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "sample_app" / "deploy"


@pytest.fixture(autouse=True)
def keep_sigterm() -> Iterator[None]:
    """An app that drains takes SIGTERM over at init_app; the test process gets its own back."""
    previous = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, previous)


def make_app(**config: object) -> Flask:
    """An app with a dependency check, a check tagged live, a route of its own (``/ping``),
    deadline 3 s and, unless told otherwise, drain 15 s."""
    app = Flask("lint_app")
    app.config.update({"HEALTHCHECK_DRAIN_SECONDS": 15, **config})
    app.add_url_rule("/ping", "ping", lambda: "pong")
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


def line_of(text: str, needle: str) -> int:
    """The 1-based line of the first line of *text* that holds *needle*."""
    return next(number for number, line in enumerate(text.splitlines(), 1) if needle in line)


def lint(app: Flask, text: str, file: str = "web.yaml") -> list[Finding]:
    with app.app_context():
        return lint_text(text, file, app)


def rules(findings: list[Finding]) -> list[tuple[str, int]]:
    return [(finding.rule, finding.line) for finding in findings]


def test_a_manifest_that_agrees_with_the_app_passes(app: Flask) -> None:
    assert lint(app, GOOD) == []


# -- probe-timeout --------------------------------------------------------------------------


def test_probe_timeout_no_longer_than_the_deadline(app: Flask) -> None:
    [finding] = lint(app, edit(GOOD, 19, "timeoutSeconds: 3"))

    assert (finding.rule, finding.line) == ("probe-timeout", 19)
    assert "gives up after 3 s" in finding.message
    assert "HEALTHCHECK_DEADLINE, 3 s" in finding.message
    assert "set timeoutSeconds to 4" in finding.message
    assert str(finding).startswith("web.yaml:19: error: probe-timeout: Deployment web, container")


def test_an_absent_timeout_is_kubernetes_one_second(app: Flask) -> None:
    # At the probe's own line, for want of a timeoutSeconds line.
    assert rules(lint(app, edit(GOOD, 15, None))) == [("probe-timeout", 13)]


def test_a_longer_deadline_needs_a_longer_timeout() -> None:
    assert rules(lint(make_app(HEALTHCHECK_DEADLINE=4), GOOD)) == [
        ("probe-timeout", 15),
        ("probe-timeout", 19),
        ("probe-timeout", 24),
    ]


# -- liveness-dependency --------------------------------------------------------------------


def test_liveness_of_a_live_check_needs_no_long_timeout_but_of_a_dependency_fails(
    app: Flask,
) -> None:
    # /healthz/live runs the live-tagged check: its timeout matters too.
    assert rules(lint(app, edit(GOOD, 24, "timeoutSeconds: 2"))) == [("probe-timeout", 24)]

    on_ready = edit(GOOD, 22, "httpGet: {path: /healthz/ready, port: http}")
    assert rules(lint(app, on_ready)) == [("liveness-dependency", 21)]
    on_report = edit(GOOD, 22, "httpGet: {path: /healthz, port: http}")
    assert rules(lint(app, on_report)) == [("liveness-dependency", 21)]
    [finding] = lint(app, edit(GOOD, 22, "httpGet: {path: /healthz/database, port: http}"))
    assert finding.rule == "liveness-dependency"
    assert "check 'database', not tagged live" in finding.message
    assert "ask /healthz/live" in finding.message
    assert lint(app, edit(GOOD, 22, "httpGet: {path: /healthz/threads, port: http}")) == []


def test_liveness_of_the_apps_own_route_is_not_judged(app: Flask) -> None:
    assert lint(app, edit(GOOD, 22, "httpGet: {path: /ping, port: http}")) == []


# -- missing-startup ------------------------------------------------------------------------

WITHOUT_STARTUP = edit(edit(edit(GOOD, 15, None), 14, None), 13, None)


def test_missing_startup_probe_when_liveness_waits_for_start_up() -> None:
    gated = make_app(HEALTHCHECK_STARTUP_GATE=["live", "ready"])

    [finding] = lint(gated, WITHOUT_STARTUP)
    assert (finding.rule, finding.line) == ("missing-startup", 18)
    assert "add a startupProbe of /healthz/startup" in finding.message
    assert lint(gated, GOOD) == []
    assert lint(make_app(), WITHOUT_STARTUP) == []  # liveness is not gated by default


# -- grace-period and drain-notice ----------------------------------------------------------


def test_grace_period_shorter_than_the_drain_and_its_default(app: Flask) -> None:
    # 15 s of drain and a last answer of up to 4 s need 19 s.
    [finding] = lint(app, edit(GOOD, 8, "terminationGracePeriodSeconds: 18"))
    assert (finding.rule, finding.line) == ("grace-period", 8)
    assert "set terminationGracePeriodSeconds to 30" in finding.message  # as k8s prints
    assert lint(app, edit(GOOD, 8, "terminationGracePeriodSeconds: 19")) == []

    long_drain = make_app(HEALTHCHECK_DRAIN_SECONDS=30)
    # Kubernetes' 30 s when absent, against 34 s; at the pod spec's first line.
    assert rules(lint(long_drain, edit(GOOD, 8, None))) == [("grace-period", 8)]


@pytest.mark.parametrize("drain", [0.5, 15, 29.5, 30, 31, 120])
@pytest.mark.parametrize("deadline", [0.5, 3, 9.9])
def test_the_grace_lint_asks_is_what_k8s_prints_and_no_more(drain: float, deadline: float) -> None:
    settings = Settings(drain_seconds=drain, deadline=deadline)
    assert grace_period(settings) >= stop_seconds(settings)
    view = pure_view(drain_seconds=drain, deadline=deadline)
    workload = pure_workload(http_probe("livenessProbe", "/healthz/live"))

    at_least = stop_seconds(settings)
    assert list(check_grace(pure_workload(*workload.probes, grace=at_least), view)) == []
    [finding] = check_grace(pure_workload(*workload.probes, grace=at_least - 0.5), view)
    assert f"to {grace_period(settings)}" in finding.message


def test_a_drain_shorter_than_readiness_takes_to_notice(app: Flask) -> None:
    slow = edit(GOOD, 20, "failureThreshold: 4")  # 5 s x 4 = 20 s, past the 15 s drain

    assert rules(lint(app, slow)) == [("drain-notice", 16)]


# -- unknown-path ---------------------------------------------------------------------------


def test_unknown_paths_under_the_base_path(app: Flask) -> None:
    [finding] = lint(app, edit(GOOD, 17, "httpGet: {path: /healthz/redy, port: http}"))
    assert (finding.rule, finding.line) == ("unknown-path", 17)
    assert "no check named 'redy' (database, threads)" in finding.message

    deeper = edit(GOOD, 17, "httpGet: {path: /healthz/ready/now, port: http}")
    assert rules(lint(app, deeper)) == [("unknown-path", 17)]


def test_a_query_string_is_not_part_of_the_path(app: Flask) -> None:
    verbose = edit(GOOD, 17, 'httpGet: {path: "/healthz/ready?verbose", port: http}')

    assert lint(app, verbose) == []


def test_the_apps_own_paths_are_checked_against_its_url_map(app: Flask) -> None:
    # On the port where the health endpoints are, every path is the app's.
    [finding] = lint(app, edit(GOOD, 17, "httpGet: {path: /ready, port: http}"))
    assert (finding.rule, finding.line) == ("unknown-path", 17)
    assert "the app has no route for it" in finding.message
    assert lint(app, edit(GOOD, 17, "httpGet: {path: /ping, port: http}")) == []
    # Another port of the container (a server the app is not) is not the app's to judge.
    assert lint(app, edit(GOOD, 17, "httpGet: {path: /ready, port: 9090}")) == []


def test_a_block_style_probe_is_reported_at_the_line_of_its_path(app: Flask) -> None:
    block = edit(GOOD, 17, "httpGet:\n                  path: /healthz/nope/x\n"
                 "                  port: http")  # fmt: skip

    assert rules(lint(app, block)) == [("unknown-path", 18)]


def test_a_container_with_another_health_path_is_routed_as_the_app_would(app: Flask) -> None:
    renamed = edit(
        GOOD.replace("/healthz/", "/health/"),
        11,
        'env:\n            - {name: HEALTHCHECK_PATH, value: "/health"}\n          ports:',
    )

    assert lint(app, renamed) == []
    assert rules(lint(app, renamed.replace("/health/ready", "/health/redy"))) == [
        ("unknown-path", line_of(renamed, "/health/ready"))
    ]


# -- probe-port -----------------------------------------------------------------------------

#: GOOD, in a container that sets the probe port (the app in the test starts no server on it).
WITH_PROBE_PORT = edit(
    GOOD, 11, 'env:\n            - {name: HEALTHCHECK_PROBE_PORT, value: "8081"}\n          ports:'
)
ON_PROBE_PORT = edit(
    WITH_PROBE_PORT.replace("port: http}", "port: probes}"),
    14,
    "- {name: http, containerPort: 8000}\n            - {name: probes, containerPort: 8081}",
)


def test_probe_port_set_but_probes_on_the_app_port_warn(app: Flask) -> None:
    findings = lint(app, WITH_PROBE_PORT)

    assert [(finding.rule, finding.severity) for finding in findings] == [
        ("probe-port", "warning")
    ] * 3
    assert "goes to port 8000, not the probe port (HEALTHCHECK_PROBE_PORT, 8081)" in (
        findings[0].message
    )
    assert lint(app, ON_PROBE_PORT) == []


def test_the_probe_port_serves_its_short_paths_and_no_other(app: Flask) -> None:
    # On the probe port /ready is the app's /healthz/ready: its timeout is held to the deadline.
    short = edit(ON_PROBE_PORT, 20, "httpGet: {path: /ready, port: probes}")
    short = edit(short, 22, "timeoutSeconds: 2")
    assert rules(lint(app, short)) == [("probe-timeout", 22)]
    # The full report and one check are the main port's only.
    report = edit(ON_PROBE_PORT, 20, "httpGet: {path: /healthz/database, port: probes}")
    [finding] = lint(app, report)
    assert (finding.rule, finding.line) == ("unknown-path", 20)
    assert "the probe port (HEALTHCHECK_PROBE_PORT, 8081) answers only /live" in finding.message


# -- the container's environment ------------------------------------------------------------


def test_the_container_environment_is_over_the_app_settings(app: Flask) -> None:
    with_env = edit(
        GOOD,
        11,
        'env:\n            - {name: HEALTHCHECK_DRAIN_SECONDS, value: "40"}\n'
        '            - {name: HEALTHCHECK_DEADLINE, value: "soon"}\n          ports:',
    )

    # 40 s of drain need 44 s; a deadline the extension would refuse is named at its line.
    assert rules(lint(app, with_env)) == [("grace-period", 8), ("bad-setting", 13)]


# -- exec probes and compose tests ----------------------------------------------------------


def pod_with_command(command: str) -> str:
    """A Pod whose readiness probe runs *command* in a shell, at line 12."""
    return textwrap.dedent(
        f"""\
        kind: Pod
        metadata: {{name: web}}
        spec:
          terminationGracePeriodSeconds: 40
          containers:
            - name: web
              readinessProbe:
                exec:
                  command:
                    - sh
                    - -c
                    - {json.dumps(command)}
                periodSeconds: 5
                timeoutSeconds: 10
                failureThreshold: 2
        """
    )


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        # flask-healthcheck probe waits 3 s unless told: no longer than the deadline.
        ("flask-healthcheck probe http://127.0.0.1:8000/healthz/ready", [("probe-timeout", 12)]),
        ("flask-healthcheck probe --timeout 4 http://127.0.0.1:8000/healthz/ready", []),
        ("curl -fsS --max-time 2 http://localhost:8000/healthz/ready", [("probe-timeout", 12)]),
        ("curl -fsm 5 http://localhost:8000/healthz/ready", []),
        ("curl -fsS http://localhost:8000/healthz/ready", []),  # the probe's 10 s bound it
        ("wget -q -T 3 -O- http://localhost:8000/healthz/ready", [("probe-timeout", 12)]),
        ("curl -f 'http://localhost:8000/healthz/redy?x=1' || exit 1", [("unknown-path", 12)]),
        ("curl -f http://localhost:8000/ping && echo up", []),
        ("curl -f http://cache:8000/nothing", []),  # another host's path is its own
        ("pg_isready --host localhost", []),
    ],
)
def test_exec_probes_are_judged_by_the_url_they_ask(
    app: Flask, command: str, expected: list[tuple[str, int]]
) -> None:
    assert rules(lint(app, pod_with_command(command))) == expected


def test_the_client_timeout_finding_says_which_option_to_raise(app: Flask) -> None:
    command = "flask-healthcheck probe http://127.0.0.1:8000/healthz/ready"
    [finding] = lint(app, pod_with_command(command))

    assert "flask-healthcheck probe gives up on /healthz/ready after 3 s (--timeout)" in (
        finding.message
    )
    assert "give it --timeout 4" in finding.message


@pytest.mark.parametrize(
    ("command", "call"),
    [
        (
            ["CMD", "flask-healthcheck", "probe", "http://127.0.0.1:8000/healthz/live"],
            HttpCall("/healthz/live", 8000, True, "flask-healthcheck probe", 3.0, "--timeout"),
        ),
        (
            ["CMD-SHELL", "curl -f --max-time=7 http://localhost/healthz || exit 1"],
            HttpCall("/healthz", 80, True, "curl", 7.0, "--max-time"),
        ),
        (
            "wget --timeout=5 -qO- https://[::1]:8443/healthz/ready?verbose",
            HttpCall("/healthz/ready", 8443, True, "wget", 5.0, "--timeout"),
        ),
        (
            ["python", "-c", "import urllib.request as u; u.urlopen('http://db:5000/x')"],
            HttpCall("/x", 5000, False),
        ),
        (["CMD", "redis-cli", "ping"], None),
    ],
)
def test_the_request_of_a_command(command: object, call: HttpCall | None) -> None:
    assert http_call(command) == call


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
          test: ["CMD", "flask-healthcheck", "probe", "http://127.0.0.1:8000/healthz/ready", "--timeout", "4"]
          timeout: 2500ms
          start_period: 1m
      db:
        healthcheck:
          test: ["CMD", "pg_isready"]
    """  # noqa: E501
)


def test_compose_durations_merge_keys_and_rules(app: Flask) -> None:
    [finding] = lint(app, COMPOSE, "compose.yml")

    assert (finding.rule, finding.line) == ("probe-timeout", 10)
    assert "gives up after 2.5 s" in finding.message
    assert "set timeout to 4" in finding.message
    # The drain of 5 s comes from the merged x-env block; 9 s are needed to stop.
    right = edit(edit(COMPOSE, 10, "timeout: 4s"), 7, "stop_grace_period: 5s")
    [finding] = lint(app, right, "compose.yml")
    assert (finding.rule, finding.line) == ("grace-period", 7)
    assert "set stop_grace_period to 14s" in finding.message
    assert lint(app, edit(COMPOSE, 10, "timeout: 4s"), "compose.yml") == []


def test_compose_health_check_of_a_gated_endpoint_needs_a_start_period(app: Flask) -> None:
    right = edit(COMPOSE, 10, "timeout: 4s")
    without = edit(right, 11, None)

    [finding] = lint(app, without, "compose.yml")
    assert (finding.rule, finding.line) == ("missing-startup", 8)
    assert "has no start_period" in finding.message
    # Liveness is not gated by default; it is when the gate names it.
    on_live = without.replace("/healthz/ready", "/healthz/live")
    assert lint(app, on_live, "compose.yml") == []
    gated = make_app(HEALTHCHECK_STARTUP_GATE=["live", "ready"])
    assert rules(lint(gated, on_live, "compose.yml")) == [("missing-startup", 8)]


def test_compose_string_test_and_disabled_checks(app: Flask) -> None:
    compose = textwrap.dedent(
        """\
        services:
          web:
            healthcheck:
              test: curl -f http://localhost:8000/healthz/nope/x || exit 1
              timeout: 5s
          worker:
            healthcheck:
              test: ["NONE"]
        """
    )

    # Docker gives 10 s to stop when stop_grace_period is absent: reported at the service.
    assert rules(lint(app, compose, "compose.yml")) == [("grace-period", 2), ("unknown-path", 4)]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10s", 10.0), ("1m30s", 90.0), ("500ms", 0.5), ("1h", 3600.0), (7, 7.0), ("ten", None)],
)
def test_compose_durations(text: object, seconds: float | None) -> None:
    assert duration(text) == seconds


# -- files ----------------------------------------------------------------------------------

MULTI = textwrap.dedent(
    """\
    apiVersion: v1
    kind: Service
    metadata: {name: web}
    spec: {ports: [{port: 80}]}
    ---
    apiVersion: apps/v1
    kind: StatefulSet
    metadata: {name: db-web}
    spec:
      template:
        spec:
          containers:
            - name: web
              livenessProbe:
                httpGet: {path: /healthz/ready, port: 8000}
                timeoutSeconds: 4
    ---
    apiVersion: batch/v1
    kind: CronJob
    metadata: {name: nightly}
    spec:
      jobTemplate:
        spec:
          template:
            spec:
              containers:
                - name: web
                  readinessProbe:
                    httpGet: {path: /healthz/nope/x, port: 8000}
                    timeoutSeconds: 4
    """
)


def test_every_document_of_a_file_at_its_own_lines(app: Flask) -> None:
    findings = lint(app, MULTI)

    assert rules(findings) == [
        ("liveness-dependency", line_of(MULTI, "livenessProbe")),
        ("unknown-path", line_of(MULTI, "/healthz/nope/x")),
    ]
    assert "StatefulSet db-web, container web" in findings[0].message
    assert "CronJob nightly, container web" in findings[1].message


def test_a_file_without_probes_gets_a_note(app: Flask) -> None:
    [finding] = lint(app, "kind: Secret\nmetadata: {name: s}\n")

    assert (finding.rule, finding.severity) == ("no-probes", "note")
    assert "no pod template nor compose service" in finding.message
    [finding] = lint(app, "services:\n  db:\n    image: postgres\n")
    assert "no container or compose service here has a probe" in finding.message


def test_invalid_yaml_names_its_line(app: Flask) -> None:
    with pytest.raises(LintError, match=r"web\.yaml:3: not valid YAML"):
        lint(app, "a: 1\nb: [2\nc: 3\n")


# -- the rules without Flask ----------------------------------------------------------------


def pure_view(**settings: Any) -> AppView:
    """The view of an app with checks ``database`` and ``threads`` (tagged live), its routes
    written out: no Flask."""
    base = settings.get("path", "/healthz")
    fixed = {base: REPORT, f"{base}/live": LIVENESS, f"{base}/ready": READINESS,
             f"{base}/startup": START_UP}  # fmt: skip

    def routes(path: str) -> Match:
        if path in fixed:
            return fixed[path], {}
        name = path.removeprefix(base + "/")
        if name != path and "/" not in name:
            return ONE_CHECK, {"name": name}
        return None

    return AppView(
        Settings(**settings), routes, frozenset({"threads"}), frozenset({"database", "threads"})
    )


def pure_workload(*probes: Probe, grace: float = 30, kubernetes: bool = True) -> Workload:
    return Workload("f.yaml", "web", 1, probes, grace, 2, kubernetes=kubernetes)


def http_probe(kind: str, path: str, timeout: float = 4, **fields: Any) -> Probe:
    return Probe(kind, 10, timeout, 11, path, 12, fields.pop("port", 8000), **fields)


@pytest.mark.parametrize(
    ("rule", "probes", "settings", "expected"),
    [
        (check_timeouts, [http_probe("readinessProbe", "/healthz/ready", 3)], {}, [11]),
        (check_timeouts, [http_probe("readinessProbe", "/healthz/ready", 3.5)], {}, []),
        (check_timeouts, [http_probe("livenessProbe", "/healthz/live", 1)], {}, [11]),
        (
            check_timeouts,
            [http_probe("startupProbe", "/healthz/startup", 8)],
            {"deadline": 8},
            [11],
        ),
        (check_liveness, [http_probe("livenessProbe", "/healthz/startup")], {}, [10]),
        (check_liveness, [http_probe("livenessProbe", "/healthz/threads")], {}, []),
        (
            check_startup,
            [http_probe("livenessProbe", "/healthz/live")],
            {"startup_gate": ("live",)},
            [10],
        ),
        (check_startup, [http_probe("livenessProbe", "/healthz/live")], {}, []),
        (check_paths, [http_probe("readinessProbe", "/healthz/nope/x")], {}, [12]),
        (check_paths, [http_probe("readinessProbe", "/healthz/database")], {}, []),
        (
            check_probe_port,
            [http_probe("readinessProbe", "/healthz/ready")],
            {"probe_port": 8081},
            [10],
        ),
        (
            check_probe_port,
            [http_probe("readinessProbe", "/ready", port=8081)],
            {"probe_port": 8081},
            [],
        ),
        (
            check_grace,
            [http_probe("readinessProbe", "/healthz/ready", period=5, failures=2)],
            {"drain_seconds": 30},
            [2],
        ),
        (
            check_grace,
            [http_probe("readinessProbe", "/healthz/ready", period=10, failures=3)],
            {"drain_seconds": 20},
            [10],
        ),  # drain-notice
    ],
)
def test_each_rule_alone(
    rule: Any, probes: list[Probe], settings: dict[str, Any], expected: list[int]
) -> None:
    findings = list(rule(pure_workload(*probes), pure_view(**settings)))

    assert [finding.line for finding in findings] == expected


# -- the command ----------------------------------------------------------------------------


def invoke(app: Flask, *args: str) -> Result:
    return FlaskCliRunner(app).invoke(healthcheck, ["lint", *args])


def test_the_command_prints_findings_and_exits_1_0_or_2(app: Flask, tmp_path: Path) -> None:
    good, bad, broken = tmp_path / "good.yaml", tmp_path / "bad.yaml", tmp_path / "broken.yaml"
    good.write_text(GOOD)
    bad.write_text(edit(GOOD, 17, "httpGet: {path: /healthz/redy, port: http}"))
    broken.write_text("a: 1\nb: [\n")

    passed = invoke(app, str(good))
    assert passed.exit_code == 0, passed.output
    assert "1 file: 0 errors, 0 warnings" in passed.output
    failed = invoke(app, str(good), str(bad))
    assert failed.exit_code == 1
    assert f"{bad}:17: error: unknown-path:" in failed.output
    assert "2 files: 1 error, 0 warnings" in failed.output
    # A file that is not YAML is a usage error at its line; the other files are still read.
    unreadable = invoke(app, str(bad), str(broken))
    assert unreadable.exit_code == 2
    assert f"error: {broken}:3: not valid YAML" in unreadable.output
    assert f"{bad}:17: error: unknown-path:" in unreadable.output
    missing = invoke(app, str(tmp_path / "nope.yaml"))
    assert missing.exit_code == 2
    assert "nope.yaml: cannot be read" in missing.output
    assert invoke(app).exit_code == 2  # no file


def test_warnings_fail_only_with_strict_and_notes_never(app: Flask, tmp_path: Path) -> None:
    manifest, secret = tmp_path / "web.yaml", tmp_path / "secret.yaml"
    manifest.write_text(WITH_PROBE_PORT)
    secret.write_text("kind: Secret\nmetadata: {name: s}\n")

    assert invoke(app, str(manifest)).exit_code == 0
    assert invoke(app, "--strict", str(manifest)).exit_code == 1
    noted = invoke(app, "--strict", str(secret))
    assert noted.exit_code == 0
    assert f"{secret}:1: note: no-probes:" in noted.output
    assert "1 file: 0 errors, 0 warnings, 1 note" in noted.output


def test_json_for_ci_tools(app: Flask, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(edit(GOOD, 19, "timeoutSeconds: 3"))

    result = invoke(app, "--format", "json", str(bad))
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert (document["files"], document["errors"], document["warnings"]) == (1, 1, 0)
    [finding] = document["findings"]
    assert finding | {"message": ""} == {
        "file": str(bad), "line": 19, "severity": "error", "rule": "probe-timeout", "message": ""
    }  # fmt: skip
    assert document["unreadable"] == []


def test_without_pyyaml_the_command_names_the_extra(
    app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = tmp_path / "web.yaml"
    manifest.write_text(GOOD)
    monkeypatch.setitem(sys.modules, "yaml", None)  # import yaml raises ImportError

    result = invoke(app, str(manifest))
    assert result.exit_code == 2
    assert "pip install 'flask-health-checks[lint]'" in result.output


# -- what k8s prints, and the sample's files ------------------------------------------------

WORKER_HEADING = "# The Celery worker container's probes"


def manifest_of(printed: str, environment: dict[str, str] | None = None) -> str:
    """A Deployment with what ``flask healthcheck k8s --worker`` printed pasted in: the web
    probes under a web container, the grace period on the pod, the worker's probes under a
    worker container."""
    web, _, worker = printed.partition(WORKER_HEADING)
    lines = [line for line in web.splitlines() if line and not line.startswith("#")]
    grace = [line for line in lines if line.startswith("terminationGracePeriodSeconds")]
    probes = [line for line in lines if line not in grace]
    worker_lines = [line for line in worker.splitlines()[1:] if line]
    env = [f"            - {{name: {key}, value: {json.dumps(value)}}}"
           for key, value in (environment or {}).items()]  # fmt: skip
    return "\n".join(
        [
            "apiVersion: apps/v1",
            "kind: Deployment",
            "metadata: {name: web}",
            "spec:",
            "  template:",
            "    spec:",
            *[f"      {line}" for line in grace],
            "      containers:",
            "        - name: web",
            "          ports:",
            "            - {name: http, containerPort: 8000}",
            "            - {name: probes, containerPort: 8081}",
            *(["          env:", *env] if env else []),
            *[f"          {line}" for line in probes],
            "        - name: worker",
            *[f"          {line}" for line in worker_lines],
            "",
        ]
    )


@pytest.mark.parametrize(
    "config",
    [
        {"HEALTHCHECK_DRAIN_SECONDS": 0},
        {},
        {"HEALTHCHECK_DRAIN_SECONDS": 90, "HEALTHCHECK_DEADLINE": 7.5},
        {"HEALTHCHECK_DRAIN_SECONDS": 4, "HEALTHCHECK_DEADLINE": 0.5},
        {"HEALTHCHECK_STARTUP_GATE": ["live", "ready"]},
        {"HEALTHCHECK_PATH": "/health"},
    ],
    ids=["no-drain", "drain-15", "long-drain", "short-drain", "live-gated", "other-path"],
)
def test_what_flask_healthcheck_k8s_prints_passes(config: dict[str, Any], tmp_path: Path) -> None:
    app = make_app(**config)
    printed = app.test_cli_runner().invoke(healthcheck, ["k8s", "--port", "http", "--worker"])
    assert printed.exit_code == 0, printed.output
    manifest = tmp_path / "web.yaml"
    manifest.write_text(manifest_of(printed.output))

    result = invoke(app, "--strict", str(manifest))
    assert result.exit_code == 0, manifest.read_text() + result.output
    assert "1 file: 0 errors, 0 warnings" in result.output


def test_what_k8s_prints_for_the_probe_port_passes(app: Flask, tmp_path: Path) -> None:
    # An app with the probe port would open it in the test process: the container's
    # environment sets it, and the probes are what the command prints for those settings.
    settings = Settings(probe_port=8081, drain_seconds=40)
    manifest = tmp_path / "web.yaml"
    manifest.write_text(
        manifest_of(
            to_yaml(web_probes(settings, "http")),
            {"HEALTHCHECK_PROBE_PORT": "8081", "HEALTHCHECK_DRAIN_SECONDS": "40"},
        )
    )

    result = invoke(app, "--strict", str(manifest))
    assert result.exit_code == 0, manifest.read_text() + result.output


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
    # Only the Secret has no probe; every other file was checked.
    notes = [line for line in run.stdout.splitlines() if ": note: " in line]
    assert [note.split(":")[0] for note in notes] == [str(DEPLOY / "kubernetes" / "secret.yaml")]
