"""Kubernetes probe definitions that follow from an app's settings, for ``flask healthcheck k8s``.

The numbers a probe needs are the library's own: a probe's ``timeoutSeconds`` longer than
``HEALTHCHECK_DEADLINE`` (a slow check then answers ``503`` naming it, rather than a probe
timeout naming nothing), the probe port when ``HEALTHCHECK_PROBE_PORT`` is set, a grace period
longer than the SIGTERM drain (``HEALTHCHECK_DRAIN_SECONDS``) plus a last answer. Printing them
from the settings keeps manifests from contradicting the app. The output is YAML, written here
(for this one shape of mappings, lists, strings and numbers) so that no YAML package is needed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from .config import Settings

#: Seconds between two probes of the web container; Kubernetes' default is 10.
PERIOD = 10
#: Failed probes in a row before Kubernetes acts; its default.
FAILURES = 3
#: How long a new process may take to start before Kubernetes restarts it: five minutes.
STARTUP_SECONDS = 300
#: Seconds of an exec probe's timeout: a Python interpreter starts in one to two on a busy node.
EXEC_TIMEOUT = 5
#: Seconds of grace a pod gets beyond the drain and a last answer, for the server to exit.
GRACE_MARGIN = 5
#: Kubernetes' ``terminationGracePeriodSeconds`` when a pod spec has none.
DEFAULT_GRACE = 30
#: Seconds the worker's probes may take between two looks, and the liveness file's maximum age.
WORKER_PERIOD = 30
WORKER_MAX_AGE = 120


def probe_timeout(settings: Settings) -> int:
    """Whole seconds longer than the deadline, so an answer always comes before the probe
    gives up."""
    return math.floor(settings.deadline) + 1


def web_probes(settings: Settings, port: int | str) -> dict[str, Any]:
    """The startup, readiness and liveness probes of the web container, and its grace period
    when the app drains on SIGTERM. *port* is the container's port (a number or its name); the
    probe port wins when ``HEALTHCHECK_PROBE_PORT`` is set."""
    target: int | str = settings.probe_port if settings.probe_port is not None else port
    timeout = probe_timeout(settings)

    def probe(endpoint: str, period: int, failures: int) -> dict[str, Any]:
        return {
            "httpGet": {"path": f"{settings.path}/{endpoint}", "port": target},
            "periodSeconds": period,
            "timeoutSeconds": timeout,
            "failureThreshold": failures,
        }

    startup_period = 5
    probes: dict[str, Any] = {
        "startupProbe": probe("startup", startup_period, STARTUP_SECONDS // startup_period),
        "readinessProbe": probe("ready", *readiness_pace(settings)),
        "livenessProbe": probe("live", PERIOD, FAILURES),
    }
    if settings.drain_seconds:
        probes["terminationGracePeriodSeconds"] = grace_period(settings)
    return probes


def readiness_pace(settings: Settings) -> tuple[int, int]:
    """The readiness probe's period and failure threshold: Kubernetes' defaults, unless the
    app drains on SIGTERM, when the probe must notice the drain (period times failures) well
    before it ends, or the pod exits while still in the Service."""
    drain = settings.drain_seconds
    if not drain or drain / 1.5 > PERIOD * FAILURES:
        return PERIOD, FAILURES
    failures = 2
    return max(1, min(PERIOD, math.floor(drain / 1.5 / failures))), failures


def stop_seconds(settings: Settings) -> int:
    """Seconds a process of the app needs at least between SIGTERM and being killed: the drain
    (``HEALTHCHECK_DRAIN_SECONDS``) and a last answer of a probe. Less, and it is killed while
    it drains. ``flask healthcheck lint`` holds grace periods to it."""
    return math.ceil(settings.drain_seconds) + probe_timeout(settings)


def grace_period(settings: Settings) -> int:
    """The ``terminationGracePeriodSeconds`` to give a pod: :func:`stop_seconds` and a margin;
    never below Kubernetes' own 30 s. Always at least :func:`stop_seconds`, so what
    ``flask healthcheck k8s`` prints passes ``flask healthcheck lint``, whose advice it is."""
    return max(DEFAULT_GRACE, stop_seconds(settings) + GRACE_MARGIN)


def worker_probes() -> dict[str, Any]:
    """The exec probes of a Celery worker's container (``flask-healthcheck worker``)."""

    def probe(*arguments: str) -> dict[str, Any]:
        return {
            "exec": {"command": ["flask-healthcheck", "worker", *arguments]},
            "periodSeconds": WORKER_PERIOD,
            "timeoutSeconds": EXEC_TIMEOUT,
            "failureThreshold": FAILURES,
        }

    return {
        "readinessProbe": probe("--readiness"),
        "livenessProbe": probe("--liveness", "--max-age", str(WORKER_MAX_AGE)),
    }


def to_yaml(value: Mapping[str, Any], indent: int = 0) -> str:
    """*value* as block YAML; strings are quoted JSON-style where YAML would misread them."""
    lines: list[str] = []
    pad = " " * indent
    for key, item in value.items():
        if isinstance(item, Mapping):
            lines.append(f"{pad}{key}:")
            lines.append(to_yaml(item, indent + 2))
        elif isinstance(item, list):
            lines.append(f"{pad}{key}: [{', '.join(_scalar(element) for element in item)}]")
        else:
            lines.append(f"{pad}{key}: {_scalar(item)}")
    return "\n".join(lines)


def _scalar(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"no YAML for {value!r}")
    if isinstance(value, int):
        return str(value)
    plain = value and all(char.isalnum() or char in "/-_." for char in value)
    return value if plain and not value[0].isdigit() else json.dumps(value)
