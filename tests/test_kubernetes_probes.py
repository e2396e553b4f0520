"""``flask healthcheck k8s``: probe definitions that follow from the app's settings, valid for
Kubernetes (checked against its schemas offline) and answered by the app itself."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
import yaml
from flask import Flask

from flask_healthcheck import HealthCheck, Settings
from flask_healthcheck.cli import healthcheck
from flask_healthcheck.kubernetes import to_yaml, web_probes
from flask_healthcheck.worker_probe import worker_parser, worker_probe_from_options

KUBERNETES_VERSION = "1.33.0"
WORKER_HEADING = "# The Celery worker container's probes"


def make_app(**config: Any) -> Flask:
    app = Flask("k8s_probes")
    app.config.update(config)
    health = HealthCheck(app)
    health.add_check(lambda: (True, "fine"), name="database")
    return app


def printed(app: Flask, *arguments: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The web container's probes and, with ``--worker``, the worker's, as parsed YAML."""
    result = app.test_cli_runner().invoke(healthcheck, ["k8s", *arguments])
    assert result.exit_code == 0, result.output
    web, _, worker = result.output.partition(WORKER_HEADING)
    return yaml.safe_load(web), (yaml.safe_load(worker.partition("\n")[2]) if worker else None)


def deployment(web: dict[str, Any], worker: dict[str, Any] | None) -> dict[str, Any]:
    """A Deployment with the printed probes under its containers, as a team would paste them."""
    grace = web.pop("terminationGracePeriodSeconds", None)
    containers = [{"name": "web", "image": "notes:local", "ports": [
        {"name": "http", "containerPort": 8000}], **web}]  # fmt: skip
    if worker is not None:
        containers.append({"name": "worker", "image": "notes:local", **worker})
    pod: dict[str, Any] = {"containers": containers}
    if grace is not None:
        pod["terminationGracePeriodSeconds"] = grace
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "notes"},
        "spec": {
            "selector": {"matchLabels": {"app": "notes"}},
            "template": {"metadata": {"labels": {"app": "notes"}}, "spec": pod},
        },
    }


def test_the_probes_are_valid_kubernetes_and_answered_by_the_app() -> None:
    app = make_app()
    web, worker = printed(app, "--worker")
    assert worker is not None
    paths = {name: probe["httpGet"]["path"] for name, probe in web.items()}
    assert paths == {
        "startupProbe": "/healthz/startup",
        "readinessProbe": "/healthz/ready",
        "livenessProbe": "/healthz/live",
    }
    kubernetes_validate.validate(deployment(web, worker), KUBERNETES_VERSION, strict=True)
    client = app.test_client()
    for path in paths.values():
        assert client.get(path).status_code == 200, path


@pytest.mark.parametrize(("deadline", "timeout"), [(3.0, 4), (2.5, 3), (0.5, 1), (9, 10)])
def test_every_probe_waits_longer_than_the_deadline(deadline: float, timeout: int) -> None:
    web, _ = printed(make_app(HEALTHCHECK_DEADLINE=deadline))
    assert {probe["timeoutSeconds"] for probe in web.values()} == {timeout}
    assert all(probe["timeoutSeconds"] > deadline for probe in web.values())


def test_the_probe_port_and_the_drain_shape_the_probes() -> None:
    # Settings alone: an app with them would open the port and take SIGTERM for the test run.
    settings = Settings(probe_port=8081, drain_seconds=40)
    web = yaml.safe_load(to_yaml(web_probes(settings, "http")))
    assert {probe["httpGet"]["port"] for name, probe in web.items() if name.endswith("Probe")} == {
        8081
    }
    assert web["terminationGracePeriodSeconds"] == 40 + 4 + 5  # drain, a last answer, margin
    kubernetes_validate.validate(deployment(web, None), KUBERNETES_VERSION, strict=True)


def test_a_named_port_and_another_path_are_kept() -> None:
    web, _ = printed(make_app(HEALTHCHECK_PATH="/health"), "--port", "http")
    assert web["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
    assert "terminationGracePeriodSeconds" not in web  # no drain: Kubernetes' default fits


def test_the_worker_probes_are_commands_the_worker_probe_accepts() -> None:
    _, worker = printed(make_app(), "--worker")
    assert worker is not None
    for name in ("readinessProbe", "livenessProbe"):
        program, subcommand, *arguments = worker[name]["exec"]["command"]
        assert (program, subcommand) == ("flask-healthcheck", "worker")
        probe = worker_probe_from_options(worker_parser().parse_args(arguments))
        assert probe is not None
        assert worker[name]["timeoutSeconds"] >= 2  # an interpreter starts on a busy node
