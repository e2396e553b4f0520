"""Report formats: Runscope-compatible JSON, IETF health+json, Kubernetes-style text and HTML.

A format turns a :class:`~flask_healthcheck.Report` into a body; it never runs checks. The
views pick one with :func:`choose` from ``?format=`` or the ``Accept`` header; docs/formats.rst
shows each.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .exceptions import UnknownFormatError
from .page import render_html
from .results import CheckResult, Report, Status


@dataclass(frozen=True)
class Format:
    """A report format: its name in ``?format=``, its MIME type, and its renderer, which takes
    the report and whether the request may see withheld details (it bears the token)."""

    name: str
    mimetype: str
    render: Callable[[Report, bool], str]


def _iso(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).isoformat()


def _output_json(result: CheckResult, show_details: bool) -> Any:
    """The output as the JSON report shows it: a structured output as JSON, else its text."""
    if result.output_json is not None and not (show_details and result.detail is not None):
        return json.loads(result.output_json)
    return result.visible_output(show_details)


def _result_json(result: CheckResult, show_details: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "checker": result.name,
        "output": _output_json(result, show_details),
        "passed": result.passed,
        "timestamp": result.timestamp,
        "expires": result.expires,
        "response_time": result.response_time,
        "status": result.status.value,
        "critical": result.critical,
        "tags": sorted(result.tags),
    }
    if result.since is not None:
        body["since"] = result.since
    if result.raw is not None:
        body["raw"] = {
            "passed": result.raw.passed,
            "output": _output_json(result.raw, show_details),
            "timestamp": result.raw.timestamp,
        }
    if result.observed_value is not None:
        body["observed_value"] = result.observed_value
        body["observed_unit"] = result.observed_unit
    if result.cause is not None:
        body["cause"] = result.cause
    return body


def _result_text(result: CheckResult, show_details: bool) -> str:
    """The JSON text of *result*, kept on it when it will be served again.

    A result from the cache or of a background check (its ``expires`` is after its
    ``timestamp``) is served by every answer until it expires, so it is encoded for its first
    answer only; a result made for one answer alone is not kept.
    """
    if result.expires <= result.timestamp:
        return json.dumps(_result_json(result, show_details))
    key = ("json", show_details)
    text = result.rendered.get(key)
    if text is None:
        text = result.rendered[key] = json.dumps(_result_json(result, show_details))
    return text


def render_json(report: Report, show_details: bool) -> str:
    """The body of the Runscope ``healthcheck`` library, with more keys beside the ones it had.

    The same text as ``json.dumps`` of the whole body, built from the text of each result.
    """
    passed = report.passed
    warnings = report.warnings
    head_fields: dict[str, Any] = {
        "status": "success" if passed else "failure",
        "hostname": report.hostname,
        "timestamp": report.timestamp,
        "degraded": passed and bool(warnings),  # report.status is Status.WARN
        "warnings": warnings,
    }
    causes = report.causes
    if causes:
        # The failing checks that kept others from running, named once (``depends_on``).
        head_fields["causes"] = causes
    head = json.dumps(head_fields)
    results = ", ".join([_result_text(result, show_details) for result in report.results])
    return f'{head[:-1]}, "results": [{results}]}}'


def _health_json_check(result: CheckResult, show_details: bool) -> dict[str, Any]:
    check: dict[str, Any] = {
        "componentId": result.name,
        "status": result.status.value,
        "time": _iso(result.timestamp),
        "critical": result.critical,
        "tags": sorted(result.tags),
        "responseTime": result.response_time,
    }
    # The draft: "output ... SHOULD be omitted for 'pass' state".
    if result.status is not Status.PASS:
        check["output"] = result.visible_output(show_details)
    if result.observed_value is not None:
        check["observedValue"] = result.observed_value
        if result.observed_unit:
            check["observedUnit"] = result.observed_unit
    return check


def render_health_json(report: Report, show_details: bool) -> str:
    """``application/health+json`` after draft-inadarei-api-health-check.

    ``serviceId``, ``version``, ``releaseId`` and ``description`` come from the report's
    :class:`~flask_healthcheck.ServiceInfo`; a check's ``output`` is left out while it passes.
    """
    service = report.service
    description = service.description if service is not None else None
    body: dict[str, Any] = {
        "status": report.status.value,
        "serviceId": service.service_id if service is not None else report.hostname,
    }
    if service is not None and service.version is not None:
        body["version"] = service.version
    if service is not None and service.release_id is not None:
        body["releaseId"] = service.release_id
    body["description"] = description or f"{report.title} of {report.hostname}"
    body["checks"] = {
        result.name: [_health_json_check(result, show_details)] for result in report.results
    }
    failing = [result.name for result in report.results if not result.passed]
    if failing:
        body["output"] = "failing: " + ", ".join(failing)
    if report.warnings:
        body["notes"] = ["degraded: " + ", ".join(report.warnings)]
    return json.dumps(body)


def _text_line(result: CheckResult, show_details: bool) -> str:
    output = " ".join(result.visible_output(show_details).split())
    if result.passed:
        line = f"[+]{result.name} ok" if not result.warning else f"[+]{result.name} warn"
    else:
        line = f"[-]{result.name} failed" + ("" if result.critical else " (non-critical)")
    return f"{line}: {output}" if output else line


def render_text(report: Report, show_details: bool) -> str:
    """Kubernetes' ``?verbose`` form: one ``[+]``/``[-]`` line a check, then the verdict."""
    lines = [_text_line(result, show_details) for result in report.results]
    verdict = {Status.PASS: "passed", Status.WARN: "passed, degraded", Status.FAIL: "failed"}
    lines.append(f"{report.title} check {verdict[report.status]}")
    return "\n".join(lines) + "\n"


FORMATS: dict[str, Format] = {
    "json": Format("json", "application/json", render_json),
    "health+json": Format("health+json", "application/health+json", render_health_json),
    "text": Format("text", "text/plain", render_text),
    "html": Format("html", "text/html", render_html),
}
_BY_MIMETYPE = {fmt.mimetype: fmt for fmt in FORMATS.values()}
#: ``Accept`` headers that ask for JSON (or for anything, or are missing): what probes send.
#: The views and the liveness fast path answer these with JSON without parsing the header.
JSON_ACCEPTS = frozenset({None, "", "*/*", "application/json"})
# A browser's Accept header gets the HTML page of the full report only; the probes' endpoints
# answer it with JSON unless ``?format=html`` asks for the page.
_PROBE_MIMETYPES = [mimetype for mimetype in _BY_MIMETYPE if mimetype != "text/html"]


def choose(
    requested: str | None,
    best_mimetype: Callable[[list[str]], str | None],
    *,
    html: bool = False,
) -> Format:
    """The format named by ``?format=``, else the best match of the Accept header, else JSON.

    The Accept header selects the HTML page only when *html* is true (the full report).
    Raises :class:`~flask_healthcheck.UnknownFormatError` for an unknown ``?format=``.
    """
    if requested is not None:
        try:
            # An unescaped '+' in a query string arrives as a space: "?format=health+json".
            return FORMATS[requested.strip().lower().replace(" ", "+")]
        except KeyError:
            raise UnknownFormatError(requested, FORMATS) from None
    mimetype = best_mimetype(list(_BY_MIMETYPE) if html else _PROBE_MIMETYPES)
    return _BY_MIMETYPE.get(mimetype or "", FORMATS["json"])
