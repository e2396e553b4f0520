"""``flask healthcheck lint``: probe definitions checked against the app they probe.

A Kubernetes manifest or a compose file says how long a probe waits, which path it asks and
how long a pod has to stop; the app's settings say how long its endpoints may take, which paths
exist and how long it drains. When the two disagree, the failure shows only in production: a
probe that gives up before the endpoint answers restarts or drains a healthy pod and names
nothing. This module reads the files, with the line of every value, and reports each
disagreement with its file and line:

``probe-timeout``
    a probe of an endpoint that runs checks waits no longer than ``HEALTHCHECK_DEADLINE``
    (Kubernetes' ``timeoutSeconds``, 1 when absent; compose's ``timeout``, 30 s when absent;
    and the timeout of the HTTP client an exec probe or a compose test runs:
    ``flask-healthcheck probe --timeout``, 3 s when absent, ``curl --max-time``,
    ``wget --timeout``);
``liveness-dependency``
    a liveness probe asks an endpoint that runs dependency checks (the full report,
    readiness, start-up, or one check not tagged ``live``): a database outage would restart
    every pod;
``missing-startup``
    a probe that would act on a slow start asks an endpoint that fails until the app has
    started (``/startup``, or one ``HEALTHCHECK_STARTUP_GATE`` names) with nothing to hold it
    back: a container's liveness probe without a startup probe (restarted in a loop), a compose
    health check without ``start_period`` (unhealthy, and its dependents fail to start);
``grace-period``
    the pod's ``terminationGracePeriodSeconds`` (30 when absent; compose's
    ``stop_grace_period``, 10 s) is shorter than the SIGTERM drain and a last answer
    (:func:`~flask_healthcheck.kubernetes.stop_seconds`; the advice is
    :func:`~flask_healthcheck.kubernetes.grace_period`, the number ``flask healthcheck k8s``
    prints);
``drain-notice``
    the drain ends before the readiness probe can have noticed it (its period times its
    failure threshold): the pod exits while still in the Service;
``unknown-path``
    a probe of the app asks a path its URL map routes nowhere (query strings aside), a check
    that is not registered, or, on the probe port, a path that port does not serve;
``probe-port``
    with ``HEALTHCHECK_PROBE_PORT`` set, a probe of a health endpoint goes to another port,
    where it waits behind the app's own requests (a warning: the answer is the same);
``bad-setting``
    a container's literal ``HEALTHCHECK_*`` value that ``init_app`` would refuse.

A file with no probe at all gets a note (``no-probes``), which never fails the command.

The settings are the app's, with the literal ``HEALTHCHECK_*`` values of the container's
environment over them (a container that sets ``HEALTHCHECK_DRAIN_SECONDS`` drains that long).
The rules are pure functions of a :class:`Workload` (its :class:`Probe` objects) and an
:class:`AppView`, so each is tested without Flask. PyYAML is needed (the ``lint`` extra) and
imported only when a file is read.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from .config import Settings
from .endpoints import Endpoint
from .exceptions import ConfigurationError, LintError, MissingDependencyError
from .http_probe import DEFAULT_TIMEOUT as PROBE_COMMAND_TIMEOUT
from .kubernetes import DEFAULT_GRACE, GRACE_MARGIN, grace_period, probe_timeout, stop_seconds
from .probe_port import ENDPOINTS as PROBE_PORT_ENDPOINTS
from .registry import LIVE
from .views import BLUEPRINT_NAME

#: Kubernetes' defaults, when a field is absent.
K8S_TIMEOUT = 1
K8S_PERIOD = 10
K8S_FAILURES = 3
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
_URL = re.compile(r"https?://[^\s\"'<>`),;]+")
#: Hosts that are the container itself, for a command run in it.
_LOOPBACK = {"localhost", "0.0.0.0", "::1"}  # noqa: S104 (a host asked, not an address bound)
_SHELL_SEPARATORS = {"&&", "||", ";", "|", "&"}


@dataclass(frozen=True)
class Finding:
    """One disagreement, at *line* of *file*: ``error``, ``warning`` or ``note``."""

    file: str
    line: int
    rule: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.severity}: {self.rule}: {self.message}"

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "severity": self.severity,
            "rule": self.rule,
            "message": self.message,
        }


# -- YAML with lines ------------------------------------------------------------------------


class Node(dict[Any, Any]):
    """A YAML mapping that knows its line and the line of each key (1-based)."""

    line: int = 0
    lines: dict[Any, int]

    def line_of(self, key: str) -> int:
        return self.lines.get(key, self.line)


class Items(list[Any]):
    """A YAML sequence that knows its line and the line of each item (1-based)."""

    line: int = 0
    lines: list[int]


def require_yaml() -> Any:
    """The ``yaml`` module; raises :class:`~flask_healthcheck.MissingDependencyError` naming
    the ``lint`` extra when PyYAML is not installed."""
    try:
        import yaml
    except ImportError as exc:
        raise MissingDependencyError("pyyaml", "lint", "flask healthcheck lint") from exc
    return yaml


def load_documents(text: str, name: str) -> list[Any]:
    """The YAML documents of *text*, mappings as :class:`Node`, sequences as :class:`Items`;
    raises :class:`~flask_healthcheck.LintError` naming the line of a YAML error."""
    yaml = require_yaml()
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
            items = Items(plain(item) for item in node.value)
            items.line = node.start_mark.line + 1
            items.lines = [item.start_mark.line + 1 for item in node.value]
            return items
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
    *path* is the HTTP path it asks, without its query (of an ``httpGet``, or of the URL in its
    command), *port* the port (a number, or a container port's name). *local* is False for a
    probe of another host (an ``httpGet`` ``host``, a URL that is not the loopback). *client*
    is the HTTP client a command runs (``flask-healthcheck probe``, ``curl``, ``wget``) and
    *client_timeout* the seconds it waits at most (None: no limit of its own), set by
    *client_option*. *start_period* is a compose health check's (None when absent).
    """

    kind: str
    line: int
    timeout: float
    timeout_line: int
    path: str | None = None
    path_line: int = 0
    port: int | str | None = None
    local: bool = True
    period: float = K8S_PERIOD
    failures: int = K8S_FAILURES
    client: str | None = None
    client_timeout: float | None = None
    client_option: str | None = None
    start_period: float | None = None


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


def _port(value: Any) -> int | str | None:
    """A port as Kubernetes writes it: a number, a digit string, or a port's name."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        return int(value) if value.isdigit() else value
    return None


@dataclass(frozen=True)
class HttpCall:
    """The HTTP request a command makes: what an exec probe or a compose test asks."""

    path: str
    port: int | None
    local: bool
    client: str | None = None
    timeout: float | None = None
    option: str | None = None


def _words(command: Any) -> list[str]:
    """The words of an exec command or a compose ``test`` (list or string form), shell
    strings split as the shell would."""
    items = command if isinstance(command, list) else [command]
    words: list[str] = []
    for item in items:
        text = str(item)
        if any(character.isspace() for character in text):
            try:
                words += shlex.split(text)
            except ValueError:
                words += text.split()
        else:
            words.append(text)
    if words and words[0] in ("CMD", "CMD-SHELL"):
        words = words[1:]
    return words


def _option(words: list[str], long: str, short: str | None) -> str | None:
    """The value of ``--long=V``, ``--long V``, ``-sV`` or ``-s V`` (also last in a cluster of
    short flags, ``-fsm 5``) in *words*."""
    for index, word in enumerate(words):
        following = words[index + 1] if index + 1 < len(words) else None
        if word == long:
            return following
        if word.startswith(long + "="):
            return word.partition("=")[2]
        if short and word.startswith("-") and not word.startswith("--") and short in word:
            rest = word[word.index(short) + 1 :]
            if not rest:
                return following
            if re.fullmatch(r"\d+(\.\d+)?", rest):
                return rest
    return None


#: The HTTP clients whose timeout a probe's command can set: the option, its short form and
#: the client's own limit when the option is absent (None: it waits for ever).
_CLIENTS: dict[str, tuple[str, str | None, float | None]] = {
    "flask-healthcheck probe": ("--timeout", None, PROBE_COMMAND_TIMEOUT),
    "flask-healthcheck nagios": ("--timeout", "t", PROBE_COMMAND_TIMEOUT),
    "curl": ("--max-time", "m", None),
    "wget": ("--timeout", "T", 900.0),
}


def http_call(command: Any) -> HttpCall | None:
    """The request of the first URL in an exec command or a compose ``test``, and the timeout
    of the client that makes it when it is one this module knows; None without a URL."""
    words = _words(command)
    segment: list[str] = []
    for word in [*words, ";"]:
        if word not in _SHELL_SEPARATORS:
            segment.append(word)
            continue
        url = next((found.group(0) for w in segment if (found := _URL.search(w))), None)
        if url is not None:
            return _call(url, segment)
        segment = []
    return None


def _call(url: str, words: list[str]) -> HttpCall:
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = None
    host = (parts.hostname or "").lower()
    local = host in _LOOPBACK or host.startswith("127.")
    programs = [word.rsplit("/", 1)[-1] for word in words]
    client = None
    for index, program in enumerate(programs):
        if program == "flask-healthcheck" and index + 1 < len(words):
            client = f"flask-healthcheck {words[index + 1]}"
        elif program in ("curl", "wget"):
            client = program
        if client is not None:
            break
    if client not in _CLIENTS:
        return HttpCall(parts.path or "/", port, local)
    long, short, default = _CLIENTS[client]
    given = _option(words, long, short)
    timeout = default
    if given is not None:
        try:
            timeout = float(given)
        except ValueError:
            timeout = default
    return HttpCall(parts.path or "/", port, local, client, timeout, long)


def _line_of_url(command: Any, default: int) -> int:
    """The line of the item of *command* that holds a URL, for a command written one item a
    line; else *default*."""
    if isinstance(command, Items):
        for item, line in zip(command, command.lines, strict=True):
            if _URL.search(str(item)):
                return line
    return default


def _k8s_probe(kind: str, spec: Node, line: int) -> Probe:
    """The probe *kind* of a container, whose key is at *line*."""
    common: dict[str, Any] = {
        "kind": kind,
        "line": line,
        "timeout": _number(spec.get("timeoutSeconds"), K8S_TIMEOUT),
        "timeout_line": spec.lines.get("timeoutSeconds", line),
        "period": _number(spec.get("periodSeconds"), K8S_PERIOD),
        "failures": int(_number(spec.get("failureThreshold"), K8S_FAILURES)),
    }
    http = spec.get("httpGet")
    if isinstance(http, Node):
        host = str(http.get("host") or "").lower()
        return Probe(
            **common,
            path=urlsplit(str(http.get("path", "/"))).path or "/",
            path_line=http.lines.get("path", spec.line_of("httpGet")),
            port=_port(http.get("port")),
            local=not host or host in _LOOPBACK or host.startswith("127."),
        )
    command = _dig(spec, ("exec", "command"))
    call = http_call(command) if command else None
    if call is not None:
        return Probe(
            **common,
            path=call.path,
            path_line=_line_of_url(command, spec["exec"].line_of("command")),
            port=call.port,
            local=call.local,
            client=call.client,
            client_timeout=call.timeout,
            client_option=call.option,
        )
    return Probe(**common)


def _environment(container: Node) -> dict[str, tuple[str, int]]:
    return {
        str(variable["name"]): (str(variable["value"]), variable.line)
        for variable in container.get("env") or []
        if isinstance(variable, Node) and "value" in variable and "name" in variable
    }


def kubernetes_workloads(documents: list[Any], file: str) -> Iterator[Workload]:
    """The containers of the pod templates in *documents* (and in the items of a ``List``)."""
    for document in documents:
        if not isinstance(document, Node):
            continue
        if document.get("kind") == "List" and isinstance(document.get("items"), list):
            yield from kubernetes_workloads(document["items"], file)
            continue
        path = _POD_SPECS.get(str(document.get("kind")))
        pod = _dig(document, path) if path else None
        if not isinstance(pod, Node):
            continue
        grace = _number(pod.get("terminationGracePeriodSeconds"), DEFAULT_GRACE)
        grace_line = pod.line_of("terminationGracePeriodSeconds")
        # Sidecars (init containers that keep running) have probes too.
        sidecars = [
            container
            for container in pod.get("initContainers") or []
            if isinstance(container, Node) and container.get("restartPolicy") == "Always"
        ]
        for container in [*(pod.get("containers") or []), *sidecars]:
            if not isinstance(container, Node):
                continue
            probes = tuple(
                _k8s_probe(kind, container[kind], container.line_of(kind))
                for kind in ("startupProbe", "readinessProbe", "livenessProbe")
                if isinstance(container.get(kind), Node)
            )
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
                environment=_environment(container),
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


def _compose_probe(check: Node, line: int) -> Probe | None:
    """The health check of a compose service, whose key is at *line*; None when disabled."""
    test = check.get("test")
    if check.get("disable") or (isinstance(test, list) and test[:1] == ["NONE"]):
        return None
    call = http_call(test) if test else None
    start_period = duration(check["start_period"]) if "start_period" in check else None
    return Probe(
        kind="healthcheck",
        line=line,
        timeout=duration(check.get("timeout", COMPOSE_TIMEOUT)) or COMPOSE_TIMEOUT,
        timeout_line=check.lines.get("timeout", line),
        path=call.path if call else None,
        path_line=_line_of_url(test, check.line_of("test")),
        port=call.port if call else None,
        local=call.local if call else True,
        period=duration(check.get("interval", COMPOSE_INTERVAL)) or COMPOSE_INTERVAL,
        failures=int(_number(check.get("retries"), COMPOSE_RETRIES)),
        client=call.client if call else None,
        client_timeout=call.timeout if call else None,
        client_option=call.option if call else None,
        start_period=start_period or None,
    )


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
        probe = (
            _compose_probe(check, service.line_of("healthcheck"))
            if isinstance(check, Node)
            else None
        )
        environment: dict[str, tuple[str, int]] = {}
        given = service.get("environment")
        if isinstance(given, Node):
            environment = {
                str(key): (str(value), given.line_of(key))
                for key, value in given.items()
                if value is not None
            }
        elif isinstance(given, Items):
            for entry, line in zip(given, given.lines, strict=True):
                key, equals, value = str(entry).partition("=")
                if equals:
                    environment[key] = (value, line)
        yield Workload(
            file=file,
            name=f"service {name}",
            line=services.line_of(name),
            probes=(probe,) if probe else (),
            grace=grace,
            grace_line=service.lines.get("stop_grace_period", services.line_of(name)),
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

#: The view names of the extension's endpoints.
REPORT = f"{BLUEPRINT_NAME}.{Endpoint.REPORT.value}"
LIVENESS = f"{BLUEPRINT_NAME}.{Endpoint.LIVE.value}"
READINESS = f"{BLUEPRINT_NAME}.{Endpoint.READY.value}"
START_UP = f"{BLUEPRINT_NAME}.{Endpoint.STARTUP.value}"
ONE_CHECK = f"{BLUEPRINT_NAME}.{Endpoint.CHECK.value}"
METRICS = f"{BLUEPRINT_NAME}.metrics"
NOT_FOUND = f"{BLUEPRINT_NAME}.not_found"
#: Endpoints that run dependency checks (a scrape of the metrics runs the full report).
_DEPENDENCIES = {REPORT, READINESS, START_UP, METRICS}
#: The endpoints that answer 503 "draining" after SIGTERM.
_DRAINED = {READINESS, START_UP}
#: A view name and its arguments, as ``MapAdapter.match`` gives them; None: no route.
Match = tuple[str, Mapping[str, Any]] | None


@dataclass(frozen=True)
class Target:
    """What a probe asks of the app: the view that answers it and the check it names, or,
    when the app does not serve the path, why (*problem*)."""

    path: str
    endpoint: str | None = None
    check: str | None = None
    problem: str | None = None


@dataclass(frozen=True)
class AppView:
    """What the rules need of the app: its settings, its routes, which checks are tagged
    ``live``. *routes* finds the view of a path of the app's (:meth:`of` builds it from the
    app's URL map); *routed_path* is the base path those routes are under, when a container
    sets another ``HEALTHCHECK_PATH`` than the app was loaded with."""

    settings: Settings
    routes: Callable[[str], Match]
    live_checks: frozenset[str]
    check_names: frozenset[str]
    routed_path: str | None = None

    @classmethod
    def of(cls, app: Flask, settings: Settings) -> AppView:
        extension = app.extensions["healthcheck"]
        checks = list(extension.checks)
        return cls(
            settings=settings,
            routes=url_map_routes(app),
            live_checks=frozenset(check.name for check in checks if LIVE in check.tags),
            check_names=frozenset(check.name for check in checks),
            routed_path=extension.state(app).settings.path,
        )

    def is_health_path(self, path: str) -> bool:
        base = self.settings.path
        return path == base or path.startswith(base.rstrip("/") + "/")

    def resolve(self, path: str) -> Target:
        """What *path* reaches on the app's port."""
        routed = path
        base, loaded = self.settings.path, self.routed_path
        if loaded is not None and loaded != base and self.is_health_path(path):
            routed = loaded + path[len(base) :]
        found = self.routes(routed)
        if found is None:
            return Target(path, problem="the app has no route for it")
        endpoint, arguments = found
        if endpoint == NOT_FOUND:
            return Target(path, problem="the app has no such health endpoint")
        if endpoint == ONE_CHECK:
            name = str(arguments.get("name"))
            if name not in self.check_names:
                known = ", ".join(sorted(self.check_names)) or "none"
                return Target(
                    path, check=name, problem=f"the app has no check named {name!r} ({known})"
                )
            return Target(path, endpoint, name)
        return Target(path, endpoint)

    def on_probe_port(self, path: str) -> Target:
        """What *path* reaches on the probe port, which answers only ``/live``, ``/ready`` and
        ``/startup``, under the base path too."""
        base = self.settings.path
        served = {
            f"/{endpoint.value}": f"{base}/{endpoint.value}" for endpoint in PROBE_PORT_ENDPOINTS
        }
        served.update({app_path: app_path for app_path in list(served.values())})
        if path not in served:
            listed = ", ".join(served)
            return Target(
                path,
                problem=f"the probe port (HEALTHCHECK_PROBE_PORT, {self.settings.probe_port}) "
                f"answers only {listed}",
            )
        return self.resolve(served[path])

    def runs_checks(self, target: Target) -> bool:
        """True when *target* runs checks, and so may take up to the deadline."""
        if target.endpoint == LIVENESS:
            return bool(self.live_checks)
        return target.endpoint == ONE_CHECK or target.endpoint in _DEPENDENCIES

    def runs_dependencies(self, target: Target) -> bool:
        """True when *target* runs checks a liveness probe must not depend on."""
        if target.endpoint == ONE_CHECK:
            return target.check not in self.live_checks
        return target.endpoint in _DEPENDENCIES

    def waits_for_start_up(self, target: Target) -> bool:
        """True when *target* fails until the app has started: the start-up endpoint, and those
        ``HEALTHCHECK_STARTUP_GATE`` names."""
        gated = {f"{BLUEPRINT_NAME}.{endpoint}" for endpoint in self.settings.startup_gate}
        return target.endpoint == START_UP or target.endpoint in gated


def url_map_routes(app: Flask) -> Callable[[str], Match]:
    """The view of a GET of a path, by the app's URL map; a redirect (a missing slash) is
    followed, as the kubelet does."""
    adapter = app.url_map.bind("localhost")

    def match(path: str) -> Match:
        for _ in range(5):
            try:
                endpoint, arguments = adapter.match(path, method="GET")
            except RequestRedirect as redirect:
                path = urlsplit(redirect.new_url).path
                continue
            except HTTPException:
                return None
            return str(endpoint), arguments
        return None

    return match


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


def _port_of(workload: Workload, probe: Probe) -> int | str | None:
    if isinstance(probe.port, str):
        return workload.ports.get(probe.port, probe.port)
    return probe.port


def _app_ports(workload: Workload, view: AppView) -> set[int | str | None]:
    """The ports on which *workload*'s probes ask health paths: the app's, in its container."""
    return {
        _port_of(workload, probe)
        for probe in workload.probes
        if probe.local and probe.path is not None and view.is_health_path(probe.path)
    } - {view.settings.probe_port}


def target(workload: Workload, probe: Probe, view: AppView) -> Target | None:
    """What *probe* asks of the app, or None for a probe that is not the app's to judge: no
    HTTP path, another host, or a path outside ``HEALTHCHECK_PATH`` on a port where no probe
    asks a health path (a database, a sidecar, another server in the container)."""
    if probe.path is None or not probe.local:
        return None
    port = _port_of(workload, probe)
    if view.settings.probe_port is not None and port == view.settings.probe_port:
        return view.on_probe_port(probe.path)
    if view.is_health_path(probe.path) or port in _app_ports(workload, view):
        return view.resolve(probe.path)
    return None


def check_timeouts(workload: Workload, view: AppView) -> Iterator[Finding]:
    deadline = view.settings.deadline
    wanted = probe_timeout(view.settings)
    for probe in workload.probes:
        asked = target(workload, probe, view)
        if asked is None or not view.runs_checks(asked):
            continue
        reason = (
            f"no later than the endpoint's deadline (HEALTHCHECK_DEADLINE, {deadline:g} s): "
            "a slow check fails the probe naming nothing"
        )
        if probe.timeout <= deadline:
            what = "timeoutSeconds" if workload.kubernetes else "timeout"
            yield Finding(
                workload.file,
                probe.timeout_line,
                "probe-timeout",
                f"{_where(workload, probe)} of {probe.path} gives up after {probe.timeout:g} s, "
                f"{reason}; set {what} to {wanted} or more",
            )
        if probe.client_timeout is not None and probe.client_timeout <= deadline:
            yield Finding(
                workload.file,
                probe.path_line,
                "probe-timeout",
                f"{_where(workload, probe)}: {probe.client} gives up on {probe.path} after "
                f"{probe.client_timeout:g} s ({probe.client_option}), {reason}; give it "
                f"{probe.client_option} {wanted}, and the probe longer still",
            )


def check_liveness(workload: Workload, view: AppView) -> Iterator[Finding]:
    probe = workload.probe("livenessProbe")
    asked = target(workload, probe, view) if probe is not None else None
    if probe is None or asked is None or not view.runs_dependencies(asked):
        return
    what = f"check {asked.check!r}, not tagged live" if asked.check else f"{probe.path}"
    yield Finding(
        workload.file,
        probe.line,
        "liveness-dependency",
        f"{_where(workload, probe)} asks {what}, which runs dependency checks: an outage "
        f"of a dependency would restart every pod; ask {view.settings.path}/live",
    )


def check_startup(workload: Workload, view: AppView) -> Iterator[Finding]:
    if workload.kubernetes:
        liveness = workload.probe("livenessProbe")
        if liveness is None or workload.probe("startupProbe") is not None:
            return
        asked = target(workload, liveness, view)
        # A liveness probe of another endpoint is a liveness-dependency already.
        if asked is None or asked.endpoint != LIVENESS or not view.waits_for_start_up(asked):
            return
        yield Finding(
            workload.file,
            liveness.line,
            "missing-startup",
            f"{workload.name}: the livenessProbe asks {liveness.path}, which fails until the "
            f"app has started (every critical check passed once, HEALTHCHECK_STARTUP_GATE), "
            "and no startupProbe holds it back: a slow start is restarted in a loop; add a "
            f"startupProbe of {view.settings.path}/startup",
        )
        return
    for probe in workload.probes:
        asked = target(workload, probe, view)
        if asked is None or probe.start_period or not view.waits_for_start_up(asked):
            continue
        yield Finding(
            workload.file,
            probe.line,
            "missing-startup",
            f"{_where(workload, probe)} asks {probe.path}, which fails until the app has "
            "started (every critical check passed once, HEALTHCHECK_STARTUP_GATE), and has no "
            "start_period: a slow start turns the service unhealthy, and the services that "
            "wait for it fail to start; add a start_period as long as a start may take",
        )


def check_grace(workload: Workload, view: AppView) -> Iterator[Finding]:
    settings = view.settings
    drain = settings.drain_seconds
    if not drain or all(target(workload, probe, view) is None for probe in workload.probes):
        return  # a container that does not run the app (a database, a sidecar) drains not
    least = stop_seconds(settings)
    if workload.grace < least:
        what = "terminationGracePeriodSeconds" if workload.kubernetes else "stop_grace_period"
        advised = grace_period(settings) if workload.kubernetes else least + GRACE_MARGIN
        yield Finding(
            workload.file,
            workload.grace_line,
            "grace-period",
            f"{workload.name}: {workload.grace:g} s to stop is shorter than the SIGTERM drain "
            f"(HEALTHCHECK_DRAIN_SECONDS, {drain:g} s) and a last answer: the process is killed "
            f"while it drains; set {what} to {advised}{'' if workload.kubernetes else 's'}",
        )
    readiness = workload.probe("readinessProbe")
    asked = target(workload, readiness, view) if readiness is not None else None
    if readiness is None or asked is None or asked.endpoint not in _DRAINED:
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
        asked = target(workload, probe, view)
        if asked is not None and asked.problem is not None:
            yield Finding(
                workload.file,
                probe.path_line,
                "unknown-path",
                f"{_where(workload, probe)} asks {probe.path}: {asked.problem}",
            )


def check_probe_port(workload: Workload, view: AppView) -> Iterator[Finding]:
    probe_port = view.settings.probe_port
    if probe_port is None:
        return
    for probe in workload.probes:
        port = _port_of(workload, probe)
        if (
            probe.local
            and probe.path is not None
            and view.is_health_path(probe.path)
            and isinstance(port, int)
            and port != probe_port
        ):
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
    """Every finding of the file *file* holding *text*, against *app*; a file with no probe
    at all gets a note."""
    found = workloads(text, file)
    if not any(workload.probes for workload in found):
        what = (
            "no container or compose service here has a probe"
            if found
            else ("no pod template nor compose service")
        )
        return [Finding(file, 1, "no-probes", f"{what}: nothing to check", "note")]
    findings: list[Finding] = []
    for workload in found:
        if not workload.probes:
            continue
        settings, bad = settings_for(app, workload)
        findings += bad
        view = AppView.of(app, settings)
        for rule in RULES:
            findings += rule(workload, view)
    return sorted(findings, key=lambda finding: (finding.file, finding.line, finding.rule))


def lint_file(path: Path, app: Flask) -> list[Finding]:
    """:func:`lint_text` of the file at *path*; raises :class:`~flask_healthcheck.LintError`
    when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LintError(f"{path}: cannot be read: {exc}") from None
    return lint_text(text, str(path), app)
