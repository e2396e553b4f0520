"""Health checks for Flask: concurrent, deadline-bound and cached, behind probe endpoints.

The names below are imported on first use, so ``flask_healthcheck.console`` (the exec probe and
worker commands) can run without importing Flask.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0.dev0"

_EXPORTS = {
    "AvailabilityState": ".availability",
    "Endpoint": ".endpoints",
    "StatusChange": ".events",
    "CheckError": ".exceptions",
    "ConfigurationError": ".exceptions",
    "HealthCheckError": ".exceptions",
    "LintError": ".exceptions",
    "MissingDependencyError": ".exceptions",
    "UnknownCheckError": ".exceptions",
    "UnknownFormatError": ".exceptions",
    "HealthCheck": ".extension",
    "EnvironmentDump": ".environment",
    "AppState": ".state",
    "Settings": ".config",
    "CheckSpec": ".registry",
    "LIVE": ".registry",
    "READY": ".registry",
    "STARTUP": ".registry",
    "CheckResult": ".results",
    "Outcome": ".results",
    "Report": ".results",
    "Sample": ".results",
    "ServiceInfo": ".results",
    "Status": ".results",
    "time_left": ".budget",
}

__all__ = [
    "LIVE",
    "READY",
    "STARTUP",
    "AppState",
    "AvailabilityState",
    "CheckError",
    "CheckResult",
    "CheckSpec",
    "ConfigurationError",
    "Endpoint",
    "EnvironmentDump",
    "HealthCheck",
    "HealthCheckError",
    "LintError",
    "MissingDependencyError",
    "Outcome",
    "Report",
    "Sample",
    "ServiceInfo",
    "Settings",
    "Status",
    "StatusChange",
    "UnknownCheckError",
    "UnknownFormatError",
    "__version__",
    "time_left",
]

if TYPE_CHECKING:
    from .availability import AvailabilityState
    from .budget import time_left
    from .config import Settings
    from .endpoints import Endpoint
    from .environment import EnvironmentDump
    from .events import StatusChange
    from .exceptions import (
        CheckError,
        ConfigurationError,
        HealthCheckError,
        LintError,
        MissingDependencyError,
        UnknownCheckError,
        UnknownFormatError,
    )
    from .extension import HealthCheck
    from .registry import LIVE, READY, STARTUP, CheckSpec
    from .results import CheckResult, Outcome, Report, Sample, ServiceInfo, Status
    from .state import AppState


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'flask_healthcheck' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
