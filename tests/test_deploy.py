"""The sample app's deployment examples hold together: every probe of the Kubernetes manifests
and of docker-compose.yml points at a path the app serves or at a real ``flask-healthcheck``
command with valid options, and the probes' timings fit the app's settings."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import re
import shlex
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import yaml
from flask import Flask
from werkzeug.serving import make_server

from flask_healthcheck import LIVE, Settings, console
from flask_healthcheck.contrib._celery_files import LIVENESS_FILE_ENV, READINESS_FILE_ENV
from flask_healthcheck.probe_port import ENDPOINTS as PROBE_PORT_ENDPOINTS
from flask_healthcheck.worker_probe import worker_parser, worker_probe_from_options
from sample_app import create_app
from sample_app.settings import healthcheck_settings
from sample_app.tasks import WORKER_PROBE_INTERVAL

from .sample_env import isolate

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "sample_app" / "deploy"
KUBERNETES = sorted((DEPLOY / "kubernetes").glob("*.yaml"))
COMPOSE = DEPLOY / "docker-compose.yml"

PROBES = ("startupProbe", "readinessProbe", "livenessProbe")
#: Endpoints of the extension that run checks, and so may take up to HEALTHCHECK_DEADLINE.
CHECKING_ENDPOINTS = {
    "healthcheck.report",
    "healthcheck.ready",
    "healthcheck.startup",
    "healthcheck.check",
}
#: Seconds an exec probe needs at least to start a Python interpreter on a busy node.
INTERPRETER_START = 2


# -- reading the files ----------------------------------------------------------------------


@dataclass(frozen=True)
class Container:
    """A container of a Deployment in one manifest file."""

    manifest: str
    pod: dict[str, Any]
    spec: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.manifest}:{self.spec['name']}"

    @property
    def where(self) -> str:
        return f"{self.manifest}: container {self.spec['name']}"

    @property
    def environment(self) -> dict[str, str]:
        """The literal values of its environment (values from Secrets are left out)."""
        return {
            entry["name"]: str(entry["value"])
            for entry in self.spec.get("env", [])
            if "value" in entry
        }

    @property
    def command(self) -> list[str]:
        return [*self.spec.get("command", []), *self.spec.get("args", [])]

    def port(self, name_or_number: str | int) -> int:
        for port in self.spec.get("ports", []):
            if name_or_number in (port.get("name"), port["containerPort"]):
                return int(port["containerPort"])
        raise AssertionError(f"{self.where}: no containerPort {name_or_number!r}")


def containers() -> list[Container]:
    found = []
    for manifest in KUBERNETES:
        for document in yaml.safe_load_all(manifest.read_text()):
            if document and document["kind"] == "Deployment":
                pod = document["spec"]["template"]["spec"]
                found += [Container(manifest.name, pod, spec) for spec in pod["containers"]]
    return found


CONTAINERS = containers()
#: Web containers have HTTP probes, workers exec probes.
WEB = [container for container in CONTAINERS if "httpGet" in container.spec["livenessProbe"]]
WORKERS = [container for container in CONTAINERS if "exec" in container.spec["livenessProbe"]]


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def option(command: list[str], name: str) -> str | None:
    """The value of ``--name=value`` or ``--name value`` in *command*."""
    for index, argument in enumerate(command):
        if argument.startswith(f"{name}="):
            return argument.split("=", 1)[1]
        if argument == name and index + 1 < len(command):
            return command[index + 1]
    return None


def seconds(duration: str | int) -> float:
    """A compose duration (``10s``, ``1m30s``) in seconds."""
    if isinstance(duration, int):
        return float(duration)
    parts = re.fullmatch(r"(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?", duration)
    assert duration, "an empty duration"
    assert parts, f"not a duration: {duration!r}"
    return int(parts[1] or 0) * 60 + float(parts[2] or 0)


def settings_of(environment: Mapping[str, str]) -> Settings:
    """The extension's settings a container with *environment* runs with, validated."""
    return Settings.from_config(healthcheck_settings(environment), {})


def listening_port(command: list[str]) -> int:
    """The port gunicorn binds in *command*."""
    bind = option(command, "--bind") or option(command, "-b")
    assert bind, f"no --bind in {command}"
    return int(bind.rsplit(":", 1)[1])


# -- the app as each container configures it -------------------------------------------------


@pytest.fixture
def app_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Build the sample app with a container's ``HEALTHCHECK_*`` settings, on embedded services.

    The probe port and the drain handler are settings of the process; the app built here leaves
    them off (so the test process binds no port and keeps its SIGTERM handler), and the tests
    check their values with :func:`settings_of`.
    """
    isolate(monkeypatch, tmp_path)
    built: list[Flask] = []

    def build(environment: Mapping[str, str]) -> Flask:
        config = healthcheck_settings(environment)
        config.update(HEALTHCHECK_PROBE_PORT=None, HEALTHCHECK_DRAIN_SECONDS=0)
        app = create_app(config)
        # Started, as a pod is once its startup probe passed; the probe is tried again while
        # a background check (the models comparison) has no result yet, as the kubelet would.
        startup = f"{app.config['HEALTHCHECK_PATH']}/startup"
        deadline = time.monotonic() + 15
        while app.test_client().get(startup).status_code != 200:
            assert time.monotonic() < deadline, f"{startup} did not pass"
            time.sleep(0.05)
        built.append(app)
        return app

    yield build
    for app in built:
        with app.app_context():
            from sample_app.models import db

            for engine in db.engines.values():
                engine.dispose()


def http_endpoint(app: Flask, path: str) -> str:
    """The health endpoint *path* routes to on *app*; fails unless it is a real one."""
    endpoint, arguments = app.url_map.bind("localhost").match(path, method="GET")
    assert endpoint.startswith("healthcheck."), f"{path} routes to {endpoint}, not a health check"
    assert endpoint != "healthcheck.not_found", f"{path} is not a health endpoint of the app"
    if endpoint == "healthcheck.check":
        names = [check.name for check in app.extensions["healthcheck"].checks]
        assert arguments["name"] in names, f"{path}: no check {arguments['name']!r} ({names})"
    response = app.test_client().get(path)
    assert response.status_code == 200, f"{path} answered {response.status_code}: {response.json}"
    return endpoint


def runs_checks(app: Flask, endpoint: str) -> bool:
    if endpoint == "healthcheck.live":
        return any(LIVE in check.tags for check in app.extensions["healthcheck"].checks)
    return endpoint in CHECKING_ENDPOINTS


def probe_port_path(settings: Settings, path: str) -> str:
    """The app's path that *path* on the probe port answers for."""
    served = {f"/{name}": f"{settings.path}/{name}" for name in PROBE_PORT_ENDPOINTS}
    served.update({target: target for target in list(served.values())})
    assert path in served, f"the probe port serves {sorted(served)}, not {path}"
    return served[path]


@contextlib.contextmanager
def serving(app: Flask) -> Iterator[int]:
    """Serve *app* on a free loopback port in a thread; yield the port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        thread.join(10)


def worker_command_passes(
    arguments: list[str],
    environment: Mapping[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Parse ``flask-healthcheck worker`` *arguments* as the command does in a container with
    *environment*, then run it against fresh probe files; it must pass."""
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    options = worker_parser().parse_args(arguments)
    probe = worker_probe_from_options(options)
    assert probe.broker_url is None, "the sample's worker probes read files; no broker ping"
    if probe.liveness_file is not None:
        assert probe.max_age >= 2 * WORKER_PROBE_INTERVAL, (
            f"--max-age {probe.max_age:g} is less than twice the worker's "
            f"{WORKER_PROBE_INTERVAL:g} s touch interval"
        )
    # The same command, with the files where this test can make them.
    tmp_path.mkdir(parents=True, exist_ok=True)
    for variable in (LIVENESS_FILE_ENV, READINESS_FILE_ENV):
        path = tmp_path / variable.lower()
        path.touch()
        monkeypatch.setenv(variable, str(path))
    assert console.main(["worker", *arguments]) == 0


# -- Kubernetes -----------------------------------------------------------------------------


def test_kubernetes_manifests_have_web_and_worker_deployments_with_every_probe() -> None:
    names = {(container.manifest, container.spec["name"]) for container in CONTAINERS}
    assert names == {
        ("web.yaml", "web"),
        ("web-probe-port.yaml", "web"),
        ("worker.yaml", "worker"),
    }
    for container in CONTAINERS:
        for kind in PROBES:
            assert kind in container.spec, f"{container.where} has no {kind}"
            assert "timeoutSeconds" in container.spec[kind], f"{container.where} {kind}"


@pytest.mark.parametrize(
    "container",
    [c for c in containers() if "httpGet" in c.spec["livenessProbe"]],
    ids=lambda c: c.name,
)
def test_web_http_probes_point_at_health_endpoints_and_wait_longer_than_the_deadline(
    container: Container, app_for: Any
) -> None:
    settings = settings_of(container.environment)
    app = app_for(container.environment)
    app_port = listening_port(container.command)
    for kind in PROBES:
        probe = container.spec[kind]
        port = container.port(probe["httpGet"]["port"])
        path = probe["httpGet"]["path"]
        if port == settings.probe_port:
            path = probe_port_path(settings, path)
        else:
            assert port == app_port, f"{container.where} {kind}: port {port} is not the app's"
        endpoint = http_endpoint(app, path)
        if runs_checks(app, endpoint):
            assert probe["timeoutSeconds"] > settings.deadline, (
                f"{container.where} {kind}: timeoutSeconds {probe['timeoutSeconds']} must be "
                f"above HEALTHCHECK_DEADLINE ({settings.deadline:g} s) for {path}"
            )


@pytest.mark.parametrize(
    "container",
    [c for c in containers() if "exec" in c.spec["livenessProbe"]],
    ids=lambda c: c.name,
)
def test_worker_exec_probes_run_the_worker_command_with_valid_options(
    container: Container, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    command = container.command
    assert option(command, "--app") == "sample_app.worker" or "sample_app.worker" in command
    assert importlib.util.find_spec("sample_app.worker") is not None
    environment = container.environment
    mounts = [mount["mountPath"] for mount in container.spec.get("volumeMounts", [])]
    for variable in (LIVENESS_FILE_ENV, READINESS_FILE_ENV):
        assert any(environment[variable].startswith(f"{mount}/") for mount in mounts), (
            f"{container.where}: ${variable} is not on a mounted volume"
        )
    for kind in PROBES:
        probe = container.spec[kind]
        program, subcommand, *arguments = probe["exec"]["command"]
        assert (program, subcommand) == ("flask-healthcheck", "worker")
        assert probe["timeoutSeconds"] >= INTERPRETER_START
        worker_command_passes(arguments, environment, tmp_path / kind, monkeypatch)


@pytest.mark.parametrize("container", CONTAINERS, ids=lambda container: container.name)
def test_probe_timings_are_consistent(container: Container) -> None:
    pod, spec = container.pod, container.spec
    liveness, readiness, startup = (spec[kind] for kind in reversed(PROBES))
    # A restart is worth at least three failures in a row, half a minute or more apart.
    assert liveness["failureThreshold"] >= 3
    assert 30 <= liveness["periodSeconds"] * liveness["failureThreshold"] <= 600
    # Time enough to apply the migrations and reach every dependency once.
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 60
    for probe in (liveness, readiness, startup):
        assert probe["timeoutSeconds"] <= probe["periodSeconds"]

    settings = settings_of(container.environment)
    grace = pod.get("terminationGracePeriodSeconds", 30)
    if settings.drain_seconds:
        noticed = readiness["periodSeconds"] * readiness["failureThreshold"]
        assert noticed < settings.drain_seconds < grace
        graceful_timeout = option(container.command, "--graceful-timeout")
        assert graceful_timeout is not None, f"{container.where}: drain without gunicorn's"
        assert settings.drain_seconds < float(graceful_timeout) < grace


@pytest.mark.parametrize(
    "container",
    [c for c in containers() if c.spec["command"][0] == "gunicorn"],
    ids=lambda c: c.name,
)
def test_web_containers_serve_the_sample_app_factory(container: Container) -> None:
    application = container.command[-1]
    module, _, call = application.partition(":")
    factory = getattr(importlib.import_module(module), call.removesuffix("()"))
    assert factory is create_app


def test_probe_port_variant_serves_its_probes_on_the_probe_port() -> None:
    (variant,) = [c for c in CONTAINERS if c.manifest == "web-probe-port.yaml"]
    settings = settings_of(variant.environment)
    assert settings.probe_port is not None
    for kind in PROBES:
        assert variant.port(variant.spec[kind]["httpGet"]["port"]) == settings.probe_port
    assert settings.probe_port != listening_port(variant.command)


# -- docker compose -------------------------------------------------------------------------


def test_compose_services_all_have_health_checks_that_dependents_wait_for() -> None:
    services = compose()["services"]
    for name, service in services.items():
        assert "healthcheck" in service, f"service {name} has no healthcheck"
        test = service["healthcheck"]["test"]
        assert test[0] == "CMD", f"service {name}: use the exec form, not a shell"
        for dependency, condition in service.get("depends_on", {}).items():
            assert condition == {"condition": "service_healthy"}
            assert "healthcheck" in services[dependency]


def test_compose_builds_the_image_from_the_dockerfile() -> None:
    for name, service in compose()["services"].items():
        if "build" in service:
            build = service["build"]
            dockerfile = (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve()
            assert dockerfile == DEPLOY / "Dockerfile", name
            assert (dockerfile.parent.parent.parent / "pyproject.toml").is_file()


def test_compose_web_probe_asks_a_path_the_app_serves(app_for: Any) -> None:
    web = compose()["services"]["web"]
    environment = {key: str(value) for key, value in web["environment"].items()}
    settings = settings_of(environment)
    healthcheck = web["healthcheck"]
    program, subcommand, url, *arguments = healthcheck["test"][1:]
    assert (program, subcommand) == ("flask-healthcheck", "probe")
    timeout = float(option(arguments, "--timeout") or 3)
    assert seconds(healthcheck["timeout"]) > timeout
    parts = urlsplit(url)
    assert parts.port == listening_port(web["command"])
    app = app_for(environment)
    endpoint = http_endpoint(app, parts.path)
    if runs_checks(app, endpoint):
        assert timeout > settings.deadline

    with serving(app) as port:
        local = urlunsplit(parts._replace(netloc=f"127.0.0.1:{port}"))
        assert console.main(["probe", local, *arguments]) == 0


def test_compose_worker_check_runs_the_worker_command_with_valid_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = compose()["services"]["worker"]
    assert worker["command"][:3] == ["celery", "-A", "sample_app.worker"]
    environment = {key: str(value) for key, value in worker["environment"].items()}
    program, subcommand, *arguments = worker["healthcheck"]["test"][1:]
    assert (program, subcommand) == ("flask-healthcheck", "worker")
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    for variable in (LIVENESS_FILE_ENV, READINESS_FILE_ENV):
        directory = str(Path(environment[variable]).parent)
        assert directory in dockerfile, f"the image does not create {directory}"
    worker_command_passes(arguments, environment, tmp_path, monkeypatch)


def test_compose_healthchecks_of_other_images_use_their_own_tools() -> None:
    tools = {
        name: shlex.join(service["healthcheck"]["test"][1:])
        for name, service in compose()["services"].items()
        if "build" not in service
    }
    assert tools == {
        "db": "pg_isready --username notes --dbname notes",
        "redis": "redis-cli ping",
        "rabbitmq": "rabbitmq-diagnostics --quiet ping",
    }


#: The ports the images of the backing services listen on.
SERVICE_PORTS = {"db": 5432, "redis": 6379, "rabbitmq": 5672}


def depends_on(services: Mapping[str, Any], name: str) -> set[str]:
    """The services *name* waits for, directly or through others."""
    found: set[str] = set()
    pending = list(services[name].get("depends_on", {}))
    while pending:
        dependency = pending.pop()
        if dependency not in found:
            found.add(dependency)
            pending += list(services[dependency].get("depends_on", {}))
    return found


def test_compose_runs_the_whole_stack_and_the_app_waits_for_every_backing_service() -> None:
    services = compose()["services"]
    assert set(services) == {"web", "worker", *SERVICE_PORTS}
    for name in ("web", "worker"):
        assert set(SERVICE_PORTS) <= depends_on(services, name), name
    assert "web" in depends_on(services, "worker")  # the web container applies the migrations
    for name, service in services.items():
        healthcheck = service["healthcheck"]
        assert seconds(healthcheck["timeout"]) <= seconds(healthcheck["interval"]), name
        assert healthcheck["retries"] >= 1, name


def test_compose_app_urls_reach_the_services_of_the_file() -> None:
    services = compose()["services"]
    for name in ("web", "worker"):
        environment = services[name]["environment"]
        urls = [value for key, value in environment.items() if key.endswith("_URL")]
        assert len(urls) == 3, environment
        for url in urls:
            parts = urlsplit(url)
            assert parts.hostname in SERVICE_PORTS, f"{name}: {url}"
            assert parts.port == SERVICE_PORTS[str(parts.hostname)], f"{name}: {url}"
    database = urlsplit(services["web"]["environment"]["DATABASE_URL"])
    postgres = services["db"]["environment"]
    assert database.username == postgres["POSTGRES_USER"]
    assert database.password == postgres["POSTGRES_PASSWORD"]
    assert database.path == f"/{postgres['POSTGRES_DB']}"


def test_compose_builds_the_image_the_kubernetes_manifests_run() -> None:
    built = {service["image"] for service in compose()["services"].values() if "build" in service}
    assert len(built) == 1
    (image,) = built
    assert {container.spec["image"] for container in CONTAINERS} == {image}
