"""Nagios plugin output: one status line with performance data, and the plugin's exit code.

This follows the Monitoring Plugins development guidelines: exit ``0`` OK, ``1`` WARNING, ``2``
CRITICAL, ``3`` UNKNOWN; one line of text, ``SERVICE STATUS - text``, then ``|`` and a
performance datum per check, ``'label'=value[UOM];[warn];[crit];[min];[max]``::

    HEALTHCHECK CRITICAL - database failed: refused | 'database'=0.002s;;;0 'redis'=0.001s;;;0

A failing critical check makes it CRITICAL; a failing non-critical check, or a check that
passed with a warning, makes it WARNING; otherwise it is OK. The same rules apply to a
:class:`~flask_healthcheck.Report` built in-process (``flask healthcheck run --format nagios``)
and to the JSON body an endpoint answered (for a plugin that asks over HTTP). The plugin that
asks over HTTP adds the time the endpoint took to answer, ``time=0.012s;1.000;2.000;0``, with
the warning and critical thresholds of ``check_http``'s ``-w`` and ``-c``: an answer slower than
one of them makes the status at least WARNING or CRITICAL.

This module imports nothing from Flask, so a command-line probe can use it without loading the
app.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from .results import Report

#: The service name at the start of the status line.
SERVICE = "HEALTHCHECK"


class PluginStatus(enum.IntEnum):
    """A plugin's exit code, after the Monitoring Plugins development guidelines."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


class PluginOutput(NamedTuple):
    """What a plugin prints (one line) and the code it exits with."""

    status: PluginStatus
    text: str


@dataclass(frozen=True)
class _Check:
    name: str
    passed: bool
    critical: bool
    warning: bool
    output: str
    response_time: float | None


_WHITESPACE = re.compile(r"\s+")


def _clean(text: str) -> str:
    """One line without ``|``, which would start the performance data."""
    return _WHITESPACE.sub(" ", text).replace("|", "/").strip()


def _seconds(value: float) -> str:
    # Performance data takes plain decimals: never "1e-05".
    text = f"{max(value, 0.0):.6f}".rstrip("0").rstrip(".")
    return text or "0"


def _decimal(value: float) -> str:
    # check_http's style, "1.000": at least three decimals, at most six, never "1e-05".
    whole, _, decimals = f"{value:.6f}".partition(".")
    return f"{whole}.{decimals.rstrip('0').ljust(3, '0')}"


@dataclass(frozen=True)
class ResponseTime:
    """How long an endpoint took to answer, in seconds, with optional thresholds on it.

    *warning* and *critical* are the ``-w`` and ``-c`` thresholds of ``check_http``: an answer
    that took longer than one of them makes the plugin WARNING or CRITICAL, whatever the checks
    say. They also go into the performance datum, ``time=0.012s;1.000;2.000;0``.
    """

    seconds: float
    warning: float | None = None
    critical: float | None = None

    @property
    def status(self) -> PluginStatus:
        """CRITICAL above *critical*, else WARNING above *warning*, else OK."""
        if self.critical is not None and self.seconds > self.critical:
            return PluginStatus.CRITICAL
        if self.warning is not None and self.seconds > self.warning:
            return PluginStatus.WARNING
        return PluginStatus.OK

    def problem(self) -> str | None:
        """The words for the status line when the answer was too slow, else ``None``."""
        status = self.status
        threshold = self.critical if status is PluginStatus.CRITICAL else self.warning
        if status is PluginStatus.OK or threshold is None:
            return None
        return (
            f"answered in {self.seconds:.3f} s, above the {status.name.lower()} threshold of "
            f"{_seconds(threshold)} s"
        )

    def perfdatum(self) -> str:
        """``time=<seconds>s;<warning>;<critical>;0``, thresholds empty when not set."""
        warning = "" if self.warning is None else _decimal(self.warning)
        critical = "" if self.critical is None else _decimal(self.critical)
        return f"time={_decimal(max(self.seconds, 0.0))}s;{warning};{critical};0"


def _perfdata(checks: Sequence[_Check], response_time: ResponseTime | None = None) -> str:
    data = []
    for check in checks:
        if check.response_time is None:
            continue
        label = check.name.replace("'", "''").replace("=", "_")
        data.append(f"'{label}'={_seconds(check.response_time)}s;;;0")
    if response_time is not None:
        data.append(response_time.perfdatum())
    return " ".join(data)


def _problem(check: _Check) -> str:
    word = "warn" if check.passed else "failed" if check.critical else "failed (non-critical)"
    output = _clean(check.output)
    return f"{check.name} {word}: {output}" if output else f"{check.name} {word}"


def _render(
    checks: Sequence[_Check],
    service: str,
    failed: bool = False,
    response_time: ResponseTime | None = None,
) -> PluginOutput:
    critical = [check for check in checks if not check.passed and check.critical]
    degraded = [check for check in checks if check.warning or not (check.passed or check.critical)]
    if critical or failed:
        status = PluginStatus.CRITICAL
        summary = "; ".join(_problem(check) for check in (*critical, *degraded))
        summary = summary or "the endpoint reported failure"
    elif degraded:
        status = PluginStatus.WARNING
        summary = "; ".join(_problem(check) for check in degraded)
    else:
        status = PluginStatus.OK
        count = len(checks)
        summary = f"{count} check{'s' if count != 1 else ''} passed" if count else "no checks"
    slow = response_time.problem() if response_time is not None else None
    if response_time is not None and slow is not None:
        status = max(status, response_time.status)
        summary = f"{summary}; {slow}"
    line = f"{service} {status.name} - {summary}"
    perfdata = _perfdata(checks, response_time)
    return PluginOutput(status, f"{line} | {perfdata}" if perfdata else line)


def unknown(reason: str, *, service: str = SERVICE) -> PluginOutput:
    """UNKNOWN with *reason*: the plugin could not find out (unreachable, timeout, bad input)."""
    return PluginOutput(PluginStatus.UNKNOWN, f"{service} UNKNOWN - {_clean(reason)}")


def from_report(
    report: Report, *, show_details: bool = False, service: str = SERVICE
) -> PluginOutput:
    """The plugin output for a report built in-process.

    *show_details* shows the withheld text of failures (exception messages) instead of the
    public output, as an authorised request would see it.
    """
    checks = [
        _Check(
            name=result.name,
            passed=result.passed,
            critical=result.critical,
            warning=result.warning,
            output=result.visible_output(show_details),
            response_time=result.response_time,
        )
        for result in report.results
    ]
    return _render(checks, service)


def _checks_of(results: Iterable[object]) -> list[_Check] | None:
    checks = []
    for entry in results:
        if not isinstance(entry, Mapping):
            return None
        name, passed = entry.get("checker"), entry.get("passed")
        if not isinstance(name, str) or not isinstance(passed, bool):
            return None
        critical = entry.get("critical", True)
        output = entry.get("output", "")
        response_time = entry.get("response_time")
        if not isinstance(response_time, int | float) or isinstance(response_time, bool):
            response_time = None
        checks.append(
            _Check(
                name=name,
                passed=passed,
                critical=critical is not False,
                warning=passed and entry.get("status") == "warn",
                output=_text_of(output),
                response_time=response_time,
            )
        )
    return checks


def _text_of(output: object) -> str:
    """A check's output in a JSON body as text: a structured output as compact JSON."""
    if isinstance(output, str) or output is None:
        return output or ""
    return json.dumps(output, separators=(",", ":"), ensure_ascii=False)


def from_json(
    body: object, *, service: str = SERVICE, response_time: ResponseTime | None = None
) -> PluginOutput:
    """The plugin output for the JSON body of an endpoint (the default ``json`` format).

    *body* is the decoded JSON: ``{"status": "success"|"failure", "results": [...]}``. An error
    answer (``{"error": ...}``, as for an invalid token) or a body of another shape is UNKNOWN:
    it says nothing about the checks. With *response_time*, the time the endpoint took to
    answer, the line has a ``time`` performance datum and an answer slower than its thresholds
    raises the status to WARNING or CRITICAL.
    """
    if not isinstance(body, Mapping):
        return unknown("the answer is not a JSON object", service=service)
    error = body.get("error")
    if isinstance(error, str):
        return unknown(f"the endpoint answered an error: {error}", service=service)
    status, results = body.get("status"), body.get("results")
    checks = _checks_of(results) if isinstance(results, list) else None
    if status not in ("success", "failure") or checks is None:
        return unknown(
            "the answer is not a flask_healthcheck report (no 'status' and 'results')",
            service=service,
        )
    return _render(checks, service, failed=status == "failure", response_time=response_time)
