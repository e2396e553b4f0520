"""Every option of the extension in one place: its ``HEALTHCHECK_*`` key, default and validation.

A constructor option ``HealthCheck(timeout=5)`` and the key ``HEALTHCHECK_TIMEOUT`` are the same
setting. The constructor gives the default; a value in ``app.config`` wins over it, so a
deployment can change what the code chose.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import math
import socket
import sys
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, fields
from typing import Any

from .endpoints import GATEABLE, Endpoint
from .exceptions import ConfigurationError
from .redact import MASK, is_secret_name, mask_credentials

PREFIX = "HEALTHCHECK_"


def _seconds(*, allow_zero: bool) -> Callable[[str, object], float]:
    def validate(key: str, value: object) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = float(value)
            if math.isfinite(seconds) and (seconds > 0 or (allow_zero and seconds == 0)):
                return seconds
        bound = "zero or more" if allow_zero else "more than zero"
        raise ConfigurationError(f"{key} must be a number of seconds, {bound}; got {value!r}")

    return validate


def _ttl(key: str, value: object) -> float:
    """Seconds a result is reused; None is 0 (never reused), as the Runscope library read it."""
    return 0.0 if value is None else _seconds(allow_zero=True)(key, value)


def _status(low: int, high: int, why: str) -> Callable[[str, object], int]:
    def validate(key: str, value: object) -> int:
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            return value
        raise ConfigurationError(
            f"{key} must be an HTTP status code from {low} to {high}, {why}; got {value!r}"
        )

    return validate


# Kubernetes, load balancers and monitors read a status from 200 to 399 as a pass and any other
# as a failure: a success status outside that range, or a failure status inside it, would make
# every probe read the opposite of the report (and the two could never be told apart).
_success_status = _status(200, 399, "which probes read as a pass")
_any_status = _status(200, 599, "such as 429, which Consul reads as a warning")


def _optional_status(key: str, value: object) -> int | None:
    return None if value is None else _any_status(key, value)


_failed_status = _status(400, 599, "which probes read as a failure (below 400 they read a pass)")


def _path(key: str, value: object) -> str:
    if isinstance(value, str) and value.startswith("/"):
        stripped = value.rstrip("/")
        # "?" and "#" would end the path in a request; "<" would start a URL variable.
        if stripped and not any(char.isspace() or char in "?#<>" for char in stripped):
            return stripped
    raise ConfigurationError(
        f"{key} must be a URL path that starts with '/' and is not '/' itself, "
        f"such as '/healthz'; got {value!r}"
    )


def _optional_text(key: str, value: object) -> str | None:
    if value is None or (isinstance(value, str) and value):
        return value
    raise ConfigurationError(f"{key} must be a non-empty string or None; got {value!r}")


def _endpoints(key: str, value: object) -> tuple[Endpoint, ...]:
    """Endpoints given by value (``"live"``) or as :class:`Endpoint` members, in a fixed order."""
    if isinstance(value, str):
        value = (value,)
    if isinstance(value, list | tuple | set | frozenset) and all(
        item in GATEABLE for item in value
    ):
        return tuple(endpoint for endpoint in GATEABLE if endpoint in value)
    allowed = [endpoint.value for endpoint in GATEABLE]
    raise ConfigurationError(
        f"{key} must be a list of endpoints from {allowed} (or empty); got {value!r}"
    )


def _count(*, allow_zero: bool) -> Callable[[str, object], int]:
    def validate(key: str, value: object) -> int:
        whole = isinstance(value, int) and not isinstance(value, bool)
        if whole and (value > 0 or (allow_zero and value == 0)):  # type: ignore[operator]
            return value  # type: ignore[return-value]
        bound = "0 or more" if allow_zero else "1 or more"
        raise ConfigurationError(f"{key} must be a whole number, {bound}; got {value!r}")

    return validate


def _optional_port(key: str, value: object) -> int | None:
    if value is None or (
        isinstance(value, int) and not isinstance(value, bool) and 0 < value < 65536
    ):
        return value
    raise ConfigurationError(
        f"{key} must be a TCP port from 1 to 65535, or None (off); got {value!r}"
    )


def _host(key: str, value: object) -> str:
    if isinstance(value, str) and value and not any(char.isspace() for char in value):
        return value
    raise ConfigurationError(
        f"{key} must be a host name or address to listen on, such as '0.0.0.0' (every IPv4 "
        f"interface), '::' or '127.0.0.1'; got {value!r}"
    )


def _output_limit(key: str, value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 100:
        return value
    raise ConfigurationError(
        f"{key} must be a whole number of characters, 100 or more; got {value!r}"
    )


#: The most runs a check's history may keep: it is read and written whole with each result.
MAX_HISTORY = 1000


def _history_size(key: str, value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_HISTORY:
        return value
    raise ConfigurationError(
        f"{key} must be a whole number of runs from 0 (no history) to {MAX_HISTORY}; got {value!r}"
    )


def _flag(key: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    raise ConfigurationError(f"{key} must be True or False; got {value!r}")


@dataclass(frozen=True, repr=False)
class Settings:
    """The options of one app, validated. Field ``timeout`` is key ``HEALTHCHECK_TIMEOUT``.

    Its ``repr()`` shows a secret setting (the token) as ``***``.
    """

    #: Base path of the endpoints.
    path: str = "/healthz"
    #: Seconds a check may run before it is reported failed "timed out", unless it sets its own.
    timeout: float = 2.0
    #: Seconds a request waits for its checks at most; later checks are reported timed out.
    deadline: float = 3.0
    #: Seconds a passing result is reused before the check runs again (0 or None: never).
    success_ttl: float = 10.0
    #: Seconds a failing result is reused before the check runs again (0 or None: never).
    failed_ttl: float = 3.0
    #: Status of an answer whose critical checks all pass: 200 to 399.
    success_status: int = 200
    #: Status of an answer with a failing critical check: 400 to 599.
    failed_status: int = 503
    #: Status of a degraded answer (critical checks pass, a warning or a non-critical failure);
    #: None: the success status. ``429`` is what Consul reads as "warning".
    degraded_status: int | None = None
    #: Send ``x-envoy-degraded`` on a degraded answer, which Envoy's health checker reads as a
    #: degraded host (it routes to it only when no healthy host is left).
    envoy_degraded: bool = False
    #: Bearer token that unlocks full details (exception texts); None: details are never shown.
    token: str | None = None
    #: Host name shown in reports; None: the machine's host name.
    hostname: str | None = None
    #: Send failing transitions and check exceptions to Sentry when sentry_sdk is initialised.
    sentry: bool = True
    #: Endpoints that fail until every critical check has passed once (``live``, ``ready``).
    #: Liveness is left out by default: no dependency ever fails it, at start-up neither.
    #: Validated into :class:`~flask_healthcheck.Endpoint` members, which equal these values.
    startup_gate: tuple[str, ...] = ("ready",)
    #: Seconds readiness says "draining" after SIGTERM before the process exits (0: no handler).
    drain_seconds: float = 0.0
    #: Liveness fails while a request has run longer than this many seconds (0: off).
    request_watchdog: float = 0.0
    #: Readiness fails while more requests than this are in flight in the process (0: off).
    max_in_flight: int = 0
    #: Serve Prometheus metrics at ``{path}/metrics`` (needs the ``prometheus`` extra).
    metrics: bool = True
    #: Count the answers of each worker of a server in a ``worker`` label, not summed.
    metrics_per_worker: bool = False

    #: Base directory of the state the workers of a pre-fork server share; None: the
    #: environment variable ``HEALTHCHECK_SHARED_DIR``, else one in the temporary directory.
    #: Outside a pre-fork server nothing is shared unless this (or the variable) is set.
    shared_dir: str | None = None

    #: Port of a server thread answering live, ready and startup beside the app (None: off).
    probe_port: int | None = None
    #: Address the probe port listens on.
    probe_host: str = "0.0.0.0"  # noqa: S104 (probes come from outside the container)

    #: Characters of a check's output (and of its detail) kept; the rest is cut, with a marker
    #: that says how much.
    output_limit: int = 4096
    #: Seconds after which the HTML page reloads itself (a ``Refresh`` header); 0: never.
    page_refresh: int = 30
    #: Log the succeeded answers of the health endpoints in the servers' access logs
    #: (gunicorn's, the development server's); False keeps them out, failing ones are logged.
    log_probes: bool = False
    #: Runs of each check kept in its history (``{path}/history``, the page's sparklines);
    #: 0: no history.
    history_size: int = 60
    #: health+json ``serviceId``; None: the app's name.
    service_id: str | None = None
    #: health+json ``version``; None: the app's package's ``__version__`` or installed
    #: version, else left out.
    version: str | None = None
    #: health+json ``releaseId``; None: left out.
    release_id: str | None = None
    #: health+json ``description``; None: the endpoint and the host (``readyz of web-7f9c``).
    description: str | None = None

    #: The fleet store where the servers of a service share their checks' verdicts
    #: (``redis://host:6379/0``; needs the ``fleet`` extra); None: off, each server decides
    #: alone (:mod:`~flask_healthcheck.fleet`).
    fleet_url: str | None = None
    #: The service's name in the fleet store; None: the ``service_id`` (the app's name).
    fleet_name: str | None = None
    #: Share of the live servers, above 0 and at most 1, that must fail a shared check (two
    #: at least) for a fleet-wide outage, during which every server stays ready, degraded.
    fleet_outage_share: float = 0.5
    #: Seconds the fleet store may take to answer before this server decides alone.
    fleet_timeout: float = 0.25
    #: Seconds after its last result a server counts as gone from the fleet; longer than the
    #: TTLs, since a server publishes when a check runs.
    fleet_pod_ttl: float = 30.0

    def __repr__(self) -> str:
        shown = (
            f"{field.name}={MASK!r}"
            if is_secret_name(field.name) and getattr(self, field.name) is not None
            else f"{field.name}={_masked(getattr(self, field.name))!r}"
            for field in fields(self)
        )
        return f"{type(self).__name__}({', '.join(shown)})"

    @classmethod
    def key(cls, option: str) -> str:
        """The config key of an option: ``timeout`` is ``HEALTHCHECK_TIMEOUT``."""
        return PREFIX + option.upper()

    @classmethod
    def option_names(cls) -> frozenset[str]:
        """The names of the constructor options, the fields of this class."""
        return frozenset(field.name for field in fields(cls))

    @classmethod
    def from_config(
        cls,
        config: Mapping[str, Any],
        defaults: Mapping[str, Any],
        *,
        app_name: str | None = None,
        import_name: str | None = None,
    ) -> Settings:
        """Read and validate every key of *config*, with *defaults* for the keys it lacks.

        *config* is not changed (:meth:`write_defaults` does that once the app is set up), so
        a failed ``init_app`` leaves it as it was. *app_name* is the default ``service_id``;
        the package of *import_name* may tell the ``version``.
        """
        values: dict[str, Any] = {}
        for field in fields(cls):
            key = cls.key(field.name)
            value = config[key] if key in config else defaults.get(field.name, field.default)
            values[field.name] = _VALIDATORS[field.name](key, value)
        known = {cls.key(field.name) for field in fields(cls)}
        for key in config:
            if isinstance(key, str) and key.startswith(PREFIX) and key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f"; did you mean {close[0]}?" if close else ""
                raise ConfigurationError(
                    f"{key} is not a setting of flask_healthcheck{hint} (the settings are "
                    f"{', '.join(sorted(known))})"
                )
        if values["hostname"] is None:
            values["hostname"] = socket.gethostname()
        if values["service_id"] is None and app_name is not None:
            values["service_id"] = app_name
        if values["version"] is None and import_name is not None:
            values["version"] = discover_version(import_name)
        if values["fleet_name"] is None:
            values["fleet_name"] = values["service_id"] or "app"
        longest = max(values["success_ttl"], values["failed_ttl"])
        if values["fleet_url"] is not None and values["fleet_pod_ttl"] <= longest:
            raise ConfigurationError(
                f"{cls.key('fleet_pod_ttl')} ({values['fleet_pod_ttl']:g} s) must be longer than "
                f"the TTLs ({longest:g} s): a server publishes when a check runs, and would "
                "count as gone between two runs"
            )
        return cls(**values)

    @classmethod
    def write_defaults(cls, config: MutableMapping[str, Any], defaults: Mapping[str, Any]) -> None:
        """Put every key *config* lacks into it, with its value from *defaults* or the
        default, so that ``app.config`` shows what the app runs with."""
        for field in fields(cls):
            config.setdefault(cls.key(field.name), defaults.get(field.name, field.default))


def _masked(value: object) -> object:
    return mask_credentials(value) if isinstance(value, str) else value


def _fleet_url(key: str, value: object) -> str | None:
    if value is None or (
        isinstance(value, str) and value.startswith(("redis://", "rediss://", "unix://"))
    ):
        return value
    raise ConfigurationError(
        f"{key} must be a Redis URL (redis://, rediss:// or unix://), or None (off); "
        f"got {_masked(value)!r}"
    )


def _share(key: str, value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= 1:
        return float(value)
    raise ConfigurationError(
        f"{key} must be a share above 0 and at most 1, such as 0.5; got {value!r}"
    )


def discover_version(import_name: str) -> str | None:
    """The version of the app's top-level package: its ``__version__``, else the version of
    the installed distribution of that name; None when neither is known."""
    top = import_name.partition(".")[0]
    version = getattr(sys.modules.get(top), "__version__", None)
    if isinstance(version, str) and version:
        return version
    if top == "__main__":
        return None
    try:
        return importlib.metadata.version(top)
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return None


_VALIDATORS: dict[str, Callable[[str, object], Any]] = {
    "path": _path,
    "timeout": _seconds(allow_zero=False),
    "deadline": _seconds(allow_zero=False),
    "success_ttl": _ttl,
    "failed_ttl": _ttl,
    "success_status": _success_status,
    "failed_status": _failed_status,
    "degraded_status": _optional_status,
    "envoy_degraded": _flag,
    "token": _optional_text,
    "hostname": _optional_text,
    "sentry": _flag,
    "startup_gate": _endpoints,
    "drain_seconds": _seconds(allow_zero=True),
    "request_watchdog": _seconds(allow_zero=True),
    "max_in_flight": _count(allow_zero=True),
    "metrics": _flag,
    "metrics_per_worker": _flag,
    "shared_dir": _optional_text,
    "probe_port": _optional_port,
    "probe_host": _host,
    "output_limit": _output_limit,
    "page_refresh": _count(allow_zero=True),
    "history_size": _history_size,
    "log_probes": _flag,
    "service_id": _optional_text,
    "version": _optional_text,
    "release_id": _optional_text,
    "description": _optional_text,
    "fleet_url": _fleet_url,
    "fleet_name": _optional_text,
    "fleet_outage_share": _share,
    "fleet_timeout": _seconds(allow_zero=False),
    "fleet_pod_ttl": _seconds(allow_zero=False),
}


def validate_check_seconds(option: str, value: object, *, allow_zero: bool) -> float | None:
    """Validate a per-check ``timeout``/``success_ttl``/``failed_ttl``; None means the app's."""
    if value is None:
        return None
    try:
        return _seconds(allow_zero=allow_zero)(option, value)
    except ConfigurationError as exc:
        raise ValueError(str(exc)) from None


def validate_setting(option: str, value: object, key: str | None = None) -> Any:
    """*value* validated as the setting *option* (``"token"``, ``"path"``) is; the
    :class:`~flask_healthcheck.ConfigurationError` names *key*, by default the option's
    ``HEALTHCHECK_*`` key."""
    return _VALIDATORS[option](key or Settings.key(option), value)
