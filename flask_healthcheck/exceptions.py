"""The exceptions flask_healthcheck defines, and the one checks raise to fail with a safe message.

Every one derives from :class:`HealthCheckError` and is exported by ``flask_healthcheck``, so
``except HealthCheckError`` catches whatever the library itself signals. A misuse of the API
(an unknown option, a duplicate check name, a second ``HealthCheck`` on one app) raises the
built-in ``TypeError``, ``ValueError`` or ``RuntimeError`` instead, as Python code does.
This module imports nothing, so every other module, even the command-line probes that must
not import Flask, can use it.
"""

from __future__ import annotations

from collections.abc import Collection


class HealthCheckError(Exception):
    """Base class of every exception this library defines."""


class ConfigurationError(HealthCheckError, ValueError):
    """A ``HEALTHCHECK_*`` key or a constructor option has a value the library cannot use.

    Raised by :meth:`~flask_healthcheck.HealthCheck.init_app`, so a typo fails at start-up
    instead of at the first probe. The message names the key and the values it accepts.
    """


class CheckError(HealthCheckError):
    """Raise from a check to fail it with a message that is safe to show publicly.

    Unlike any other exception, whose text is withheld from public responses, the message of a
    :class:`CheckError` is the check's output (with URL credentials masked). Chain the original
    exception with ``raise CheckError("cannot reach the database") from exc``: the cause is logged
    and sent to Sentry, never shown.

    *detail* is what only a request bearing the token sees instead of the message (with
    credentials masked): say the kind of failure in the message ("connection refused") and the
    internal topology (host, port, database name, file path) in *detail*, as Kubernetes' public
    "reason withheld" answers do.
    """

    def __init__(self, message: str = "", *, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail


class MissingDependencyError(HealthCheckError, ImportError):
    """An integration was used without the optional package it needs installed."""

    def __init__(self, package: str, extra: str, needed_by: str = "this check") -> None:
        super().__init__(
            f"{needed_by} needs the {package!r} package, which is not installed; "
            f"install it with: pip install 'flask-health-checks[{extra}]'"
        )
        self.package = package
        self.extra = extra


class UnknownCheckError(HealthCheckError, LookupError):
    """A request or a call named checks that are not registered.

    ``health.run(["typo"])`` raises it; an endpoint answers it with ``400`` (``?exclude=``)
    or ``404`` (``/healthz/<name>``). Also a ``LookupError``, as it was before it derived
    from :class:`HealthCheckError`. *names* are the unknown names.
    """

    def __init__(self, names: Collection[str], known: Collection[str]) -> None:
        listed = ", ".join(repr(name) for name in sorted(names))
        available = ", ".join(sorted(known)) or "none"
        noun = "check" if len(names) == 1 else "checks"
        super().__init__(f"unknown {noun} {listed}; registered checks: {available}")
        self.names = frozenset(names)


class UnknownFormatError(HealthCheckError, ValueError):
    """``?format=`` named a report format that does not exist; an endpoint answers ``400``.

    *known* are the formats there are, which the message lists.
    """

    def __init__(self, requested: str, known: Collection[str]) -> None:
        super().__init__(f"unknown format {requested!r}; use one of: {', '.join(known)}")
        self.requested = requested


class LintError(HealthCheckError, ValueError):
    """``flask healthcheck lint`` was given a file it cannot read, or that is not YAML; the
    message names the file and the line."""
