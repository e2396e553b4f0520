"""Every option of the extension in one place: its ``HEALTHCHECK_*`` key, default and validation.

A constructor option ``HealthCheck(timeout=5)`` and the key ``HEALTHCHECK_TIMEOUT`` are the same
setting. The constructor gives the default; a value in ``app.config`` wins over it, so a
deployment can change what the code chose.
"""

from __future__ import annotations

import difflib
import math
import socket
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, fields
from typing import Any

from .endpoints import GATEABLE, Endpoint
from .exceptions import ConfigurationError

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


def _http_status(key: str, value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 200 <= value <= 599:
        return value
    raise ConfigurationError(f"{key} must be an HTTP status code from 200 to 599; got {value!r}")


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


def _flag(key: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    raise ConfigurationError(f"{key} must be True or False; got {value!r}")


@dataclass(frozen=True)
class Settings:
    """The options of one app, validated. Field ``timeout`` is key ``HEALTHCHECK_TIMEOUT``."""

    #: Base path of the endpoints.
    path: str = "/healthz"
    #: Seconds a check may run before it is reported failed "timed out", unless it sets its own.
    timeout: float = 2.0
    #: Seconds a request waits for its checks at most; later checks are reported timed out.
    deadline: float = 3.0
    #: Seconds a passing result is reused before the check runs again (0: never reused).
    success_ttl: float = 10.0
    #: Seconds a failing result is reused before the check runs again (0: never reused).
    failed_ttl: float = 3.0
    #: Status of an answer whose critical checks all pass.
    success_status: int = 200
    #: Status of an answer with a failing critical check.
    failed_status: int = 503
    #: Bearer token that unlocks full details (exception texts); None: details are never shown.
    token: str | None = None
    #: Host name shown in reports; None: the machine's host name.
    hostname: str | None = None
    #: Send failing transitions and check exceptions to Sentry when sentry_sdk is initialised.
    sentry: bool = True
    #: Endpoints that fail until every critical check has passed once: ``live``, ``ready``.
    #: Validated into :class:`~flask_healthcheck.Endpoint` members, which equal these values.
    startup_gate: tuple[str, ...] = ("live", "ready")
    #: Seconds readiness says "draining" after SIGTERM before the process exits (0: no handler).
    drain_seconds: float = 0.0
    #: Liveness fails while a request has run longer than this many seconds (0: off).
    request_watchdog: float = 0.0
    #: Readiness fails while more requests than this are in flight in the process (0: off).
    max_in_flight: int = 0
    #: Serve Prometheus metrics at ``{path}/metrics`` (needs the ``prometheus`` extra).
    metrics: bool = True

    #: Port of a server thread answering live, ready and startup beside the app (None: off).
    probe_port: int | None = None
    #: Address the probe port listens on.
    probe_host: str = "0.0.0.0"  # noqa: S104 (probes come from outside the container)

    @classmethod
    def key(cls, option: str) -> str:
        """The config key of an option: ``timeout`` is ``HEALTHCHECK_TIMEOUT``."""
        return PREFIX + option.upper()

    @classmethod
    def option_names(cls) -> frozenset[str]:
        """The names of the constructor options, the fields of this class."""
        return frozenset(field.name for field in fields(cls))

    @classmethod
    def from_config(cls, config: MutableMapping[str, Any], defaults: Mapping[str, Any]) -> Settings:
        """Apply *defaults* to *config* with ``setdefault``, then read and validate every key."""
        values: dict[str, Any] = {}
        for field in fields(cls):
            key = cls.key(field.name)
            config.setdefault(key, defaults.get(field.name, field.default))
            values[field.name] = _VALIDATORS[field.name](key, config[key])
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
        return cls(**values)


_VALIDATORS: dict[str, Callable[[str, object], Any]] = {
    "path": _path,
    "timeout": _seconds(allow_zero=False),
    "deadline": _seconds(allow_zero=False),
    "success_ttl": _seconds(allow_zero=True),
    "failed_ttl": _seconds(allow_zero=True),
    "success_status": _http_status,
    "failed_status": _http_status,
    "token": _optional_text,
    "hostname": _optional_text,
    "sentry": _flag,
    "startup_gate": _endpoints,
    "drain_seconds": _seconds(allow_zero=True),
    "request_watchdog": _seconds(allow_zero=True),
    "max_in_flight": _count(allow_zero=True),
    "metrics": _flag,
    "probe_port": _optional_port,
    "probe_host": _host,
}


def validate_check_seconds(option: str, value: object, *, allow_zero: bool) -> float | None:
    """Validate a per-check ``timeout``/``success_ttl``/``failed_ttl``; None means the app's."""
    if value is None:
        return None
    try:
        return _seconds(allow_zero=allow_zero)(option, value)
    except ConfigurationError as exc:
        raise ValueError(str(exc)) from None
