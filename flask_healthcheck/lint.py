"""``flask healthcheck lint``: probe definitions checked against the app they probe.

A Kubernetes manifest or a compose file says how long a probe waits, which path it asks and
how long a pod has to stop; the app's settings say how long its endpoints may take, which paths
exist and how long it drains. When the two disagree, the failure shows only in production: a
probe that gives up before the endpoint answers restarts or drains a healthy pod and names
nothing. This module reads the files, with the line of every value, and reports each
disagreement with its file and line:

``probe-timeout``
    a probe of an endpoint that runs checks waits no longer than ``HEALTHCHECK_DEADLINE``
    (Kubernetes' ``timeoutSeconds``, 1 when absent; compose's ``timeout``, 30 s when absent);
``liveness-dependency``
    a liveness probe asks an endpoint that runs dependency checks (the full report,
    readiness, start-up, or one check not tagged ``live``): a database outage would restart
    every pod;
``missing-startup``
    a container has a liveness probe but no startup probe while the app gates liveness on
    start-up (``HEALTHCHECK_STARTUP_GATE`` names ``live``): a slow start is restarted in a loop;
``grace-period``
    the pod's ``terminationGracePeriodSeconds`` (30 when absent; compose's
    ``stop_grace_period``, 10 s) is shorter than the SIGTERM drain and a last answer (the
    advice is :func:`~flask_healthcheck.kubernetes.grace_period`, the number
    ``flask healthcheck k8s`` prints);
``drain-notice``
    the drain ends before the readiness probe can have noticed it (its period times its
    failure threshold): the pod exits while still in the Service;
``unknown-path``
    a probe asks a path under ``HEALTHCHECK_PATH`` that the app does not serve (a typo, or a
    check that is not registered);
``probe-port``
    with ``HEALTHCHECK_PROBE_PORT`` set, a probe of a health endpoint goes to another port,
    where it waits behind the app's own requests (a warning).

The settings are the app's, with the literal ``HEALTHCHECK_*`` values of the container's
environment over them (a container that sets ``HEALTHCHECK_DRAIN_SECONDS`` drains that long).
The rules are pure functions of the files and a :class:`AppView`, so each is tested alone.
PyYAML is needed (the ``lint`` extra) and imported only when a file is read.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from .config import Settings
from .exceptions import ConfigurationError, LintError, MissingDependencyError
from .kubernetes import grace_period, probe_timeout
from .registry import LIVE

#: What each endpoint of the blueprint is, by its view name.
_RUNS_CHECKS = {"healthcheck.report", "healthcheck.ready", "healthcheck.startup"}
#: Kubernetes' defaults, when a field is absent.
K8S_TIMEOUT = 1
K8S_PERIOD = 10
K8S_FAILURES = 3
K8S_GRACE = 30
#: Docker's defaults for a compose service.
COMPOSE_TIMEOUT = 30.0
COMPOSE_INTERVAL = 30.0
COMPOSE_RETRIES = 3
COMPOSE_GRACE = 10.0
#: The kinds of Kubernetes objects that hold a pod template, and where.
_POD_SPECS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
#: The endpoints that answer 503 "draining" after SIGTERM.
_DRAINED = {"healthcheck.ready", "healthcheck.startup"}
_URL = re.compile(r"https?://[^\s\"'<>]+")


@dataclass(frozen=True)
class Finding:
    """One disagreement, at *line* of *file*: ``error`` or ``warning``."""

    file: str
    line: int
    rule: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.severity}: {self.rule}: {self.message}"


# -- YAML with lines ------------------------------------------------------------------------


class Node(dict[Any, Any]):
    """A YAML mapping that knows its line and the line of each key (1-based)."""

    line: int = 0
    lines: dict[Any, int]

    def line_of(self, key: str) -> int:
        return self.lines.get(key, self.line)


def load_documents(text: str, name: str) -> list[Any]:
    """The YAML documents of *text*, mappings as :class:`Node`; raises :class:`LintError`
    naming the line of a YAML error."""
    try:
        import yaml
    except ImportError as exc:  # pragma: no cover - the dev group installs it
        raise MissingDependencyError("pyyaml", "lint", "flask healthcheck lint") from exc
    constructor = yaml.constructor.SafeConstructor()

    def plain(node: Any) -> Any:
        if isinstance(node, yaml.MappingNode):
            constructor.flatten_mapping(node)  # merge keys (<<: *defaults), as compose uses
            mapping = Node()
            mapping.line = node.start_mark.line + 1
            mapping.lines = {}
            for key_node, value_node in node.value:
                key = plain(key_node)
                mapping[key] = plain(value_node)
                mapping.lines[key] = key_node.start_mark.line + 1
            return mapping
        if isinstance(node, yaml.SequenceNode):
            return [plain(item) for item in node.value]
        return constructor.construct_object(node, deep=True)

    try:
        return [plain(node) for node in yaml.compose_all(text, Loader=yaml.SafeLoader)]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise LintError(f"{name}{line}: not valid YAML: {problem}") from None


# -- what the files say ---------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """A probe of a container, or a compose service's health check, as far as the rules need.

    *kind* is ``startupProbe``, ``readinessProbe``, ``livenessProbe`` or ``healthcheck``.
    *path* is the HTTP path it asks (of an ``httpGet``, or of the URL in its command), *port*
    the port of an ``httpGet`` (a number or a container port's name).
    """

    kind: str
    line: int
    timeout: float
    timeout_line: int
    path: str | None = None
    path_line: int = 0
    port: int | str | None = None
    period: float = K8S_PERIOD
    failures: int = K8S_FAILURES


@dataclass(frozen=True)
class Workload:
    """A container of a pod template, or a compose service: its probes and how it stops."""

    file: str
    name: str
    line: int
    probes: tuple[Probe, ...]
    grace: float
    grace_line: int
    environment: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    ports: Mapping[str, int] = field(default_factory=dict)
    #: A Kubernetes container, else a compose service.
    kubernetes: bool = True

    def probe(self, kind: str) -> Probe | None:
        return next((probe for probe in self.probes if probe.kind == kind), None)


def _dig(node: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _number(value: Any, default: float) -> float:
    return (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default
    )


def _command_path(command: Any) -> str | None:
    """The path of the first URL in an exec command or a compose ``test``."""
    words = command if isinstance(command, list) else [command]
    for word in words:
        found = _URL.search(str(word))
        if found:
            return urlsplit(found.group(0)).path or "/"
    return None


def _k8s_probe(kind: str, spec: Node, line: int) -> Probe:
    """The probe *kind* of a container, whose key is at *line*."""
    timeout = _number(spec.get("timeoutSeconds"), K8S_TIMEOUT)
    http = spec.get("httpGet")
    path = port = None
    path_line = line
    if isinstance(http, dict):
        path = str(http.get("path", "/"))
        port = http.get("port")
        path_line = spec.line_of("httpGet")
    elif isinstance(spec.get("exec"), dict):
        path = _command_path(spec["exec"].get("command"))
        path_line = spec.line_of("exec")
    return Probe(
        kind=kind,
        line=line,
        timeout=timeout,
        timeout_line=spec.lines.get("timeoutSeconds", line),
        path=path,
        path_line=path_line,
        port=port,
        period=_number(spec.get("periodSeconds"), K8S_PERIOD),
        failures=int(_number(spec.get("failureThreshold"), K8S_FAILURES)),
    )


def kubernetes_workloads(documents: list[Any], file: str) -> Iterator[Workload]:
    """The containers of the pod templates in *documents*."""
    for document in documents:
        if not isinstance(document, Node):
            continue
        path = _POD_SPECS.get(str(document.get("kind")))
        pod = _dig(document, path) if path else None
        if not isinstance(pod, Node):
            continue
        grace = _number(pod.get("terminationGracePeriodSeconds"), K8S_GRACE)
        grace_line = pod.line_of("terminationGracePeriodSeconds")
        for container in pod.get("containers") or []:
            if not isinstance(container, Node):
                continue
            probes = tuple(
                _k8s_probe(kind, container[kind], container.line_of(kind))
                for kind in ("startupProbe", "readinessProbe", "livenessProbe")
                if isinstance(container.get(kind), Node)
            )
            environment = {
                str(variable["name"]): (str(variable["value"]), variable.line)
                for variable in container.get("env") or []
                if isinstance(variable, Node) and "value" in variable and "name" in variable
            }
            ports = {
                str(port["name"]): int(port["containerPort"])
                for port in container.get("ports") or []
                if isinstance(port, Node) and "name" in port and "containerPort" in port
            }
            yield Workload(
                file=file,
                name=f"{document.get('kind')} {_dig(document, ('metadata', 'name'))}, "
                f"container {container.get('name')}",
                line=container.line,
                probes=probes,
                grace=grace,
                grace_line=grace_line,
                environment=environment,
                ports=ports,
            )


def duration(value: Any) -> float | None:
    """Seconds of a compose duration (``1m30s``, ``500ms``, ``10s``), or None."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    parts = re.findall(r"(\d+(?:\.\d+)?)(us|ms|s|m|h)", text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        return None
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(number) * scale[unit] for number, unit in parts)


def compose_workloads(document: Node, file: str) -> Iterator[Workload]:
    """The services of a compose file."""
    services = document.get("services")
    if not isinstance(services, Node):
        return
    for name, service in services.items():
        if not isinstance(service, Node):
            continue
        grace = duration(service.get("stop_grace_period", COMPOSE_GRACE)) or COMPOSE_GRACE
        check = service.get("healthcheck")
        probes: tuple[Probe, ...] = ()
        if isinstance(check, Node) and not check.get("disable"):
            probes = (
                Probe(
                    kind="healthcheck",
                    line=service.line_of("healthcheck"),
                    timeout=duration(check.get("timeout", COMPOSE_TIMEOUT)) or COMPOSE_TIMEOUT,
                    timeout_line=check.lines.get("timeout", service.line_of("healthcheck")),
                    path=_command_path(check.get("test")),
                    path_line=check.line_of("test"),
                    period=duration(check.get("interval", COMPOSE_INTERVAL)) or COMPOSE_INTERVAL,
                    failures=int(_number(check.get("retries"), COMPOSE_RETRIES)),
                ),
            )
        environment: dict[str, tuple[str, int]] = {}
        given = service.get("environment")
        if isinstance(given, Node):
            environment = {
                str(key): (str(value), given.line_of(key))
                for key, value in given.items()
                if value is not None
            }
        elif isinstance(given, list):
            for entry in given:
                key, equals, value = str(entry).partition("=")
                if equals:
                    environment[key] = (value, service.line_of("environment"))
        yield Workload(
            file=file,
            name=f"service {name}",
            line=services.line_of(name),
            probes=probes,
            grace=grace,
            grace_line=service.line_of("stop_grace_period"),
            environment=environment,
            kubernetes=False,
        )


def workloads(text: str, file: str) -> list[Workload]:
    """Every container or service of the file *file* holding *text*."""
    documents = [document for document in load_documents(text, file) if document is not None]
    if len(documents) == 1 and isinstance(documents[0], Node) and "services" in documents[0]:
        return list(compose_workloads(documents[0], file))
    return list(kubernetes_workloads(documents, file))


# -- what the app says ----------------------------------------------------------------------


@dataclass(frozen=True)
class AppView:
    """What the rules need of the app: its settings, what each path is, which checks are
    tagged ``live``."""

    settings: Settings
    endpoints: Mapping[str, tuple[str, str | None]]
    live_checks: frozenset[str]
    check_names: frozenset[str]

    @classmethod
    def of(cls, app: Flask, settings: Settings) -> AppView:
        extension = app.extensions["healthcheck"]
        checks = list(extension.checks)
        return cls(
            settings=settings,
            endpoints=_health_routes(app),
            live_checks=frozenset(check.name for check in checks if LIVE in check.tags),
            check_names=frozenset(check.name for check in checks),
        )

    def endpoint(self, path: str) -> tuple[str, str | None] | None:
        """The health endpoint *path* reaches and the check it names, ``("unknown", None)``
        for a path under the base path that the app does not serve, None for the app's own
        paths."""
        base = self.settings.path
        if path != base and not path.startswith(base + "/"):
            return None
        found = self.endpoints.get(path.rstrip("/") or "/")
        if found is None and path.startswith(base + "/"):
            name = path[len(base) + 1 :].rstrip("/")
            if name and "/" not in name:
                return ("healthcheck.check", name)
            return ("unknown", None)
        return found

    def runs_checks(self, endpoint: str, check: str | None) -> bool:
        if endpoint == "healthcheck.live":
            return bool(self.live_checks)
        if endpoint == "healthcheck.check":
            return True
        return endpoint in _RUNS_CHECKS


def _health_routes(app: Flask) -> dict[str, tuple[str, str | None]]:
    """The fixed paths of the health blueprint (without the one-check route)."""
    routes: dict[str, tuple[str, str | None]] = {}
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("healthcheck.") or rule.arguments:
            continue
        path = rule.rule.rstrip("/") or "/"
        try:
            endpoint, _ = adapter.match(path, method="GET")
        except (HTTPException, RequestRedirect):
            continue
        routes[path] = (endpoint, None)
    return routes


def settings_for(app: Flask, workload: Workload) -> tuple[Settings, list[Finding]]:
    """The app's settings with the literal ``HEALTHCHECK_*`` values of *workload*'s
    environment over them; a value the extension would refuse is a finding."""
    known = {Settings.key(option) for option in Settings.option_names()}
    config = {key: value for key, value in app.config.items() if key in known}
    findings: list[Finding] = []
    for key, (text, line) in workload.environment.items():
        if key not in known or key == "HEALTHCHECK_SHARED_DIR":
            continue
        try:
            value: Any = json.loads(text)
        except ValueError:
            value = text
        trial = {**config, key: value}
        try:
            Settings.from_config(trial, {})
        except ConfigurationError as exc:
            findings.append(Finding(workload.file, line, "bad-setting", str(exc)))
            continue
        config = trial
    return Settings.from_config(config, {}), findings


# -- the rules ------------------------------------------------------------------------------


def _where(workload: Workload, probe: Probe) -> str:
    return f"{workload.name}: {probe.kind}"


#: The paths the probe port answers besides the app's own (``/live`` for ``{path}/live``).
_PROBE_PORT_PATHS = ("live", "ready", "startup")


def _port_of(workload: Workload, probe: Probe) -> int | None:
    if isinstance(probe.port, str):
        return workload.ports.get(probe.port)
    return probe.port


def _target(workload: Workload, probe: Probe, view: AppView) -> tuple[str, str | None] | None:
    """The health endpoint *probe* asks, and the check it names (see :meth:`AppView.endpoint`);
    on the probe port, ``/ready`` is the app's ``{path}/ready``."""
    if probe.path is None:
        return None
    path = probe.path
    probe_port = view.settings.probe_port
    if probe_port is not None and _port_of(workload, probe) == probe_port:
        short = path.strip("/")
        if short in _PROBE_PORT_PATHS:
            path = f"{view.settings.path}/{short}"
    return view.endpoint(path)


def check_timeouts(workload: Workload, view: AppView) -> Iterator[Finding]:
    deadline = view.settings.deadline
    for probe in workload.probes:
        found = _target(workload, probe, view)
        if found is None or found[0] == "unknown" or not view.runs_checks(*found):
            continue
        if probe.timeout <= deadline:
            wanted = probe_timeout(view.settings)
            yield Finding(
                workload.file,
                probe.timeout_line,
                "probe-timeout",
                f"{_where(workload, probe)} of {probe.path} gives up after {probe.timeout:g} s, "
                f"no later than the endpoint's deadline (HEALTHCHECK_DEADLINE, {deadline:g} s): "
                f"a slow check fails the probe naming nothing; wait {wanted} s or more",
            )


def check_liveness(workload: Workload, view: AppView) -> Iterator[Finding]:
    probe = workload.probe("livenessProbe")
    found = _target(workload, probe, view) if probe is not None else None
    if probe is None or found is None:
        return
    endpoint, check = found
    if endpoint == "healthcheck.check" and check in view.live_checks:
        return
    if endpoint in _RUNS_CHECKS or endpoint == "healthcheck.check":
        what = f"check {check!r}, not tagged live" if check else f"{probe.path}"
        yield Finding(
            workload.file,
            probe.line,
            "liveness-dependency",
            f"{_where(workload, probe)} asks {what}, which runs dependency checks: an outage "
            f"of a dependency would restart every pod; ask {view.settings.path}/live",
        )


def check_startup(workload: Workload, view: AppView) -> Iterator[Finding]:
    liveness = workload.probe("livenessProbe")
    if liveness is None or workload.probe("startupProbe") is not None:
        return
    if "live" not in view.settings.startup_gate:
        return
    if _target(workload, liveness, view) is None:
        return
    yield Finding(
        workload.file,
        liveness.line,
        "missing-startup",
        f"{workload.name}: liveness fails until the app has started (HEALTHCHECK_STARTUP_GATE "
        f"names live) and no startupProbe holds it back: a slow start is restarted in a loop; "
        f"add a startupProbe of {view.settings.path}/startup",
    )


def check_grace(workload: Workload, view: AppView) -> Iterator[Finding]:
    settings = view.settings
    drain = settings.drain_seconds
    if not drain or all(_target(workload, probe, view) is None for probe in workload.probes):
        return  # a container that does not run the app (a database, a sidecar) drains not
    # The drain and a last answer at least; flask healthcheck k8s adds a margin, and never
    # goes below Kubernetes' own 30 s.
    least = math.ceil(drain) + probe_timeout(settings)
    advised = grace_period(settings) if workload.kubernetes else least + 5
    if workload.grace < least:
        yield Finding(
            workload.file,
            workload.grace_line,
            "grace-period",
            f"{workload.name}: {workload.grace:g} s to stop is shorter than the SIGTERM drain "
            f"(HEALTHCHECK_DRAIN_SECONDS, {drain:g} s) and a last answer: the process is killed "
            f"while it drains; give it {advised} s",
        )
    readiness = workload.probe("readinessProbe")
    found = _target(workload, readiness, view) if readiness is not None else None
    if readiness is None or found is None or found[0] not in _DRAINED:
        return
    noticed = readiness.period * readiness.failures
    if noticed >= drain:
        yield Finding(
            workload.file,
            readiness.line,
            "drain-notice",
            f"{_where(workload, readiness)} notices a drain after {noticed:g} s (period times "
            f"failures), no sooner than the drain ends ({drain:g} s): the process exits while "
            "still in the Service; probe more often or drain longer",
        )


def check_paths(workload: Workload, view: AppView) -> Iterator[Finding]:
    for probe in workload.probes:
        found = _target(workload, probe, view)
        if found is None:
            continue
        endpoint, check = found
        if endpoint == "unknown" or (
            endpoint == "healthcheck.check" and check not in view.check_names
        ):
            what = f"no check named {check!r}" if check else "no such endpoint"
            yield Finding(
                workload.file,
                probe.path_line,
                "unknown-path",
                f"{_where(workload, probe)} asks {probe.path}: the app has {what}",
            )


def check_probe_port(workload: Workload, view: AppView) -> Iterator[Finding]:
    probe_port = view.settings.probe_port
    if probe_port is None:
        return
    for probe in workload.probes:
        found = _target(workload, probe, view)
        port = _port_of(workload, probe)
        if found is not None and port is not None and port != probe_port:
            yield Finding(
                workload.file,
                probe.line,
                "probe-port",
                f"{_where(workload, probe)} goes to port {port}, not the probe port "
                f"(HEALTHCHECK_PROBE_PORT, {probe_port}), where it waits behind the app's "
                "requests",
                severity="warning",
            )


RULES = (check_timeouts, check_liveness, check_startup, check_grace, check_paths, check_probe_port)


def lint_text(text: str, file: str, app: Flask) -> list[Finding]:
    """Every finding of the file *file* holding *text*, against *app*."""
    findings: list[Finding] = []
    for workload in workloads(text, file):
        if not workload.probes:
            continue
        settings, bad = settings_for(app, workload)
        findings += bad
        view = AppView.of(app, settings)
        for rule in RULES:
            findings += rule(workload, view)
    return sorted(findings, key=lambda finding: (finding.file, finding.line, finding.rule))


def lint_file(path: Path, app: Flask) -> list[Finding]:
    """:func:`lint_text` of the file at *path*; raises :class:`LintError` when it cannot be
    read."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LintError(f"{path}: cannot be read: {exc}") from None
    return lint_text(text, str(path), app)
