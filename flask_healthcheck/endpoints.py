"""The endpoints of the extension: one name for each, in the code, the outputs and the docs.

The same :class:`Endpoint` member is the endpoint a view answers, the ``endpoint`` label of
the metrics, what :meth:`~flask_healthcheck.HealthCheck.on_answer` and
:meth:`~flask_healthcheck.HealthCheck.on_change` listeners hear, the endpoint a
:class:`~flask_healthcheck.Report` was made for, and what ``HEALTHCHECK_STARTUP_GATE`` lists.
The text report and the HTML page show its Kubernetes-style name (``livez``).
"""

from __future__ import annotations

import enum


class Endpoint(str, enum.Enum):
    """An endpoint of the extension. A ``str``: ``Endpoint.LIVE == "live"``.

    The value is the name in configuration, metrics and listeners; :attr:`k8s_name` is the
    name Kubernetes gives the same endpoint (``/livez``), which the text report ends with
    (``livez check passed``). Under the base path, ``HEALTHCHECK_PATH`` (``/healthz``):

    ===========  ====================  =========================================
    Member       Path                  Answers
    ===========  ====================  =========================================
    ``REPORT``   ``/healthz``          every check: the full report
    ``LIVE``     ``/healthz/live``     liveness: the app's own state, no dependency
    ``READY``    ``/healthz/ready``    readiness: the checks tagged ``ready``
    ``STARTUP``  ``/healthz/startup``  start-up: passes once every check has passed
    ``CHECK``    ``/healthz/<name>``   one check by name
    ``RUN``      (none)                checks run from code: ``health.run()`` and
                                       ``flask healthcheck run``
    ===========  ====================  =========================================

    The metrics endpoint (``/healthz/metrics``) reports no checks and is not a member.
    """

    REPORT = "report"
    LIVE = "live"
    READY = "ready"
    STARTUP = "startup"
    CHECK = "check"
    RUN = "run"

    @property
    def k8s_name(self) -> str:
        """``healthz``, ``livez``, ``readyz``, ``startupz``; ``check`` and ``run``, which
        Kubernetes has no name for, keep their value."""
        return _K8S_NAMES.get(self, self.value)

    def __str__(self) -> str:
        # The value, as for a plain string: log lines and f-strings say "live", not
        # "Endpoint.LIVE".
        return self.value

    def __format__(self, format_spec: str) -> str:
        return format(self.value, format_spec)


_K8S_NAMES = {
    Endpoint.REPORT: "healthz",
    Endpoint.LIVE: "livez",
    Endpoint.READY: "readyz",
    Endpoint.STARTUP: "startupz",
}

#: The endpoints ``HEALTHCHECK_STARTUP_GATE`` may hold back until the app has started.
GATEABLE = (Endpoint.LIVE, Endpoint.READY)
