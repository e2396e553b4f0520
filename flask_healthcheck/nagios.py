"""Nagios plugin output: one status line with performance data, and the plugin's exit code.

This follows the Monitoring Plugins development guidelines: exit ``0`` OK, ``1`` WARNING, ``2``
CRITICAL, ``3`` UNKNOWN; one line of text, ``SERVICE STATUS - text``, then ``|`` and a
performance datum per check, ``'label'=value[UOM];[warn];[crit];[min];[max]``::

    HEALTHCHECK CRITICAL - database failed: refused | 'database'=0.002s;;;0 'redis'=0.001s;;;0

A failing critical check makes it CRITICAL; a failing non-critical check, or a check that
passed with a warning, makes it WARNING; otherwise it is OK. The same rules apply to a
:class:`~flask_healthcheck.Report` built in-process (``flask healthcheck run --format nagios``)
and to the JSON body an endpoint answered (for a plugin that asks over HTTP).

This module imports nothing from Flask, so a command-line probe can use it without loading the
app.
"""

from __future__ import annotations

import enum
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


def _perfdata(checks: Sequence[_Check]) -> str:
    data = []
    for check in checks:
        if check.response_time is None:
            continue
        label = check.name.replace("'", "''").replace("=", "_")
        data.append(f"'{label}'={_seconds(check.response_time)}s;;;0")
    return " ".join(data)


def _problem(check: _Check) -> str:
    word = "warn" if check.passed else "failed" if check.critical else "failed (non-critical)"
    output = _clean(check.output)
    return f"{check.name} {word}: {output}" if output else f"{check.name} {word}"


def _render(checks: Sequence[_Check], service: str, failed: bool = False) -> PluginOutput:
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
    line = f"{service} {status.name} - {summary}"
    perfdata = _perfdata(checks)
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
                output=output if isinstance(output, str) else "",
                response_time=response_time,
            )
        )
    return checks


def from_json(body: object, *, service: str = SERVICE) -> PluginOutput:
    """The plugin output for the JSON body of an endpoint (the default ``json`` format).

    *body* is the decoded JSON: ``{"status": "success"|"failure", "results": [...]}``. An error
    answer (``{"error": ...}``, as for an invalid token) or a body of another shape is UNKNOWN:
    it says nothing about the checks.
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
    return _render(checks, service, failed=status == "failure")
