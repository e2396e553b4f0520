"""What a check returns, the result the runner makes of it, and the report of one request.

Every report format is built from these frozen objects; nothing here runs a check.
"""

from __future__ import annotations

import enum
import functools
import json
import time
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .endpoints import Endpoint
from .redact import mask_credentials, mask_structure

ObservedValue = int | float | str | bool


class Status(str, enum.Enum):
    """The state of a check or a report, in the words of the IETF health+json draft."""

    PASS = "pass"  # noqa: S105 (a status, not a password)
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Outcome:
    """What a check may return instead of a ``(bool, output)`` tuple, to say more.

    ``output`` is a message, or any JSON-serialisable value (``{"rows": 3}``), which the JSON
    report shows as JSON and the other formats as compact JSON text.
    ``observed_value``/``observed_unit`` (latency in ms, free bytes, queue length) appear in the
    health+json format and in metrics. ``warning=True`` on a passing outcome means "works, but
    near a limit": the check is reported as ``warn`` without failing the endpoint.
    ``detail`` is what a request bearing the token sees instead of ``output`` (with credentials
    masked): a passing built-in check says "answered in 1.2 ms" publicly and names the server
    it answered from in ``detail`` only.
    """

    passed: bool
    output: Any = ""
    observed_value: ObservedValue | None = None
    observed_unit: str | None = None
    warning: bool = False
    detail: str | None = None


@dataclass(frozen=True)
class CheckResult:
    """The result of one run of one check, as every format shows it.

    ``output`` is safe to show publicly. ``detail`` holds what only an authorised request
    may see (an exception's text); it is ``None`` when there is nothing more than ``output``.
    Both have credentials masked. ``output_json`` is set when the check returned a structured
    output (``(True, {"rows": 3})``): its compact JSON text, which the JSON report shows as
    JSON, while ``output`` holds the same text for the other formats (or ``""`` for
    ``None``). Times are epoch seconds; ``response_time`` is seconds.
    """

    name: str
    passed: bool
    output: str
    timestamp: float
    expires: float
    response_time: float
    critical: bool = True
    tags: frozenset[str] = field(default_factory=frozenset)
    warning: bool = False
    detail: str | None = None
    observed_value: ObservedValue | None = None
    observed_unit: str | None = None
    #: Epoch seconds since when the check has been passing (or failing): its last change.
    since: float | None = None
    #: The check's own last result when the reported one differs from it: a failure that is
    #: still tolerated, a recovery not yet confirmed, or a stale background result.
    raw: CheckResult | None = None
    #: The compact JSON text of a structured output, masked; None when the output is text.
    #: Whoever replaces ``output`` with other text sets this to None.
    output_json: str | None = None
    #: The failing check that kept this one from running (``depends_on``): its root cause.
    cause: str | None = None
    #: Text that report formats made of this result, keyed as each format likes: a cached
    #: result is served by many answers, and encoded for the first one only. Not an argument,
    #: not compared, not shown, and not carried over by :func:`dataclasses.replace`, so a
    #: result made from this one is encoded afresh.
    rendered: dict[Hashable, str] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "output", mask_credentials(self.output))
        if self.detail is not None:
            object.__setattr__(self, "detail", mask_credentials(self.detail))

    @classmethod
    def synthetic(
        cls, name: str, passed: bool, output: str, tag: str, now: float | None = None
    ) -> CheckResult:
        """A result that states something the app knows itself (its availability, a
        heartbeat, its start-up) rather than something a check found out, made at *now*
        (epoch seconds; by default the time it is made)."""
        if now is None:
            now = time.time()
        return cls(
            name=name,
            passed=passed,
            output=output,
            timestamp=now,
            expires=now,
            response_time=0.0,
            tags=frozenset({tag}),
        )

    @property
    def status(self) -> Status:
        """``fail`` when the check failed, ``warn`` when it passed near a limit, else ``pass``."""
        if not self.passed:
            return Status.FAIL
        return Status.WARN if self.warning else Status.PASS

    @property
    def degrades(self) -> bool:
        """True when this result makes the report degraded without failing it."""
        return self.warning or (not self.passed and not self.critical)

    def visible_output(self, show_details: bool) -> str:
        """:attr:`detail` for a request that may see it (*show_details*), else :attr:`output`."""
        if show_details and self.detail is not None:
            return self.detail
        return self.output


#: What a check's return value must be, as the message of a check that returned something else
#: says it.
EXPECTED = (
    "expected (passed, output): True or False (or 1 or 0), then a message or any "
    "JSON-serialisable value"
)


def describe_return_value(value: object) -> str:
    """Name what a check returned, for the message of a check that returned the wrong thing."""
    if isinstance(value, tuple):
        kinds = ", ".join(type(item).__name__ for item in value)
        return f"returned a tuple ({kinds})"
    if value is None or isinstance(value, bool):
        return f"returned {value!r}"
    return f"returned a {type(value).__name__}"


def _compact_json(value: object) -> str:
    """*value*, its secrets masked, as compact JSON text; raises ``TypeError`` or
    ``ValueError`` for a value that JSON cannot hold (an object, ``nan``, a cycle)."""
    return json.dumps(
        mask_structure(value), separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def _json_problem(output: object) -> str | None:
    """Why *output* cannot be shown as JSON, or None when it can."""
    if isinstance(output, str):
        return None
    try:
        _compact_json(output)
    except (TypeError, ValueError, RecursionError) as exc:
        # json's messages name types and nothing of the values: safe to show.
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        return f"its output ({type(output).__name__}) cannot be shown as JSON: {reason}"
    return None


def _passed(flag: object) -> bool | None:
    """A check's verdict: a bool, or 1 or 0 as Runscope's checks could return; else None."""
    if isinstance(flag, bool):
        return flag
    if type(flag) is int and flag in (0, 1):
        return bool(flag)
    return None


def interpret(value: object) -> Outcome:
    """Turn what a check returned into an :class:`Outcome`; raise ``TypeError`` saying why not.

    A check returns ``(passed, output)``: *passed* True or False (1 or 0, as the Runscope
    library accepted), *output* a message or any JSON-serialisable value; or an
    :class:`Outcome`.
    """
    if isinstance(value, Outcome):
        observed = value.observed_value
        problem = _json_problem(value.output)
        if (
            isinstance(value.passed, bool)
            and problem is None
            and (observed is None or isinstance(observed, ObservedValue))
            and (value.observed_unit is None or isinstance(value.observed_unit, str))
            and (value.detail is None or isinstance(value.detail, str))
        ):
            return value
        raise TypeError(
            "returned an Outcome with fields of the wrong types; expected passed: bool, "
            "output: str or a JSON-serialisable value, observed_value: int, float, str or "
            "bool, observed_unit: str, detail: str or None"
        )
    if isinstance(value, tuple) and len(value) == 2:
        passed = _passed(value[0])
        if passed is None:
            kind = type(value[0]).__name__
            raise TypeError(
                f"{describe_return_value(value)}, {EXPECTED}; its first element, of type "
                f"{kind}, is not True, False, 1 or 0"
            )
        problem = _json_problem(value[1])
        if problem is not None:
            raise TypeError(f"{describe_return_value(value)}, {EXPECTED}; {problem}")
        return Outcome(passed=passed, output=value[1])
    raise TypeError(f"{describe_return_value(value)}, {EXPECTED}")


def truncate(text: str, limit: int) -> str:
    """*text* cut to at most *limit* characters, ending with a marker that says how many
    characters were cut: ``...[1044480 characters cut]``."""
    if len(text) <= limit:
        return text
    kept = max(0, limit - len(f"...[{len(text)} characters cut]"))
    return f"{text[:kept]}...[{len(text) - kept} characters cut]"


def shown_output(output: object, limit: int) -> tuple[str, str | None]:
    """The text and the JSON text of a check's *output*, masked, each at most *limit*
    characters long.

    A str is the text, with no JSON. Any other value is its compact JSON text in both (the
    text of ``None`` is empty); when that is longer than *limit*, it is truncated text only,
    since cut JSON is no JSON. Secrets are masked before anything is cut, so that a cut
    cannot leave part of one unmasked.
    """
    if isinstance(output, str):
        return truncate(mask_credentials(output), limit), None
    data = _compact_json(output)
    if len(data) > limit:
        return truncate(data, limit), None
    return ("" if output is None else data), data


def shown_detail(detail: str | None, limit: int) -> str | None:
    """A result's *detail*, masked and truncated to *limit* characters, as :func:`shown_output`."""
    return None if detail is None else truncate(mask_credentials(detail), limit)


@dataclass(frozen=True)
class ServiceInfo:
    """What the ``application/health+json`` report says of the service that answers, in the
    words of the IETF draft: ``serviceId``, ``version``, ``releaseId`` and ``description``.

    The settings ``HEALTHCHECK_SERVICE_ID``, ``HEALTHCHECK_VERSION``,
    ``HEALTHCHECK_RELEASE_ID`` and ``HEALTHCHECK_DESCRIPTION`` give them; a ``None`` is left
    out of the report, except *description*, which then says which endpoint of which host
    answered (``readyz of web-7f9c``).
    """

    service_id: str
    version: str | None = None
    release_id: str | None = None
    description: str | None = None


def failure_kind(result: CheckResult) -> str:
    """The kind of a result, without its text: ``pass``, ``warn``, ``timeout``, ``stale``,
    ``not run`` (a dependency failed) or ``fail``; what the fleet's peers and OpenTelemetry see."""
    if result.passed:
        return "warn" if result.warning else "pass"
    output = result.output
    if output.startswith("timed out"):
        return "timeout"
    if output.startswith("stale"):
        return "stale"
    if output.startswith("not run"):
        return "not run"
    return "fail"


class Sample(NamedTuple):
    """One run of a check: when it ended (epoch seconds), its status (``"pass"``, ``"warn"``
    or ``"fail"``) and how long it took in seconds."""

    at: float
    status: str
    duration: float

    @property
    def failed(self) -> bool:
        return self.status == "fail"


@dataclass(frozen=True)
class Report:
    """The results of one request (or one :meth:`~flask_healthcheck.HealthCheck.run`), with
    where, when and for which :class:`~flask_healthcheck.Endpoint` it was made.

    *check* is the name of the check a report of :attr:`Endpoint.CHECK
    <flask_healthcheck.Endpoint.CHECK>` is about, else None. *service* is what the
    health+json format says of the service; None for a report made without settings.
    """

    results: tuple[CheckResult, ...]
    hostname: str
    timestamp: float
    endpoint: Endpoint = Endpoint.REPORT
    check: str | None = None
    service: ServiceInfo | None = None
    #: The recent runs of the report's checks, for the page's sparklines; None: not asked.
    history: Mapping[str, tuple[Sample, ...]] | None = None

    @classmethod
    def of(
        cls,
        results: Iterable[CheckResult],
        hostname: str,
        timestamp: float,
        endpoint: Endpoint | str,
        check: str | None = None,
        *,
        service: ServiceInfo | None = None,
    ) -> Report:
        """A report of *results*; *endpoint* may be given by its value (``"ready"``)."""
        if not isinstance(endpoint, Endpoint):
            endpoint = Endpoint(endpoint)
        return cls(tuple(results), hostname, timestamp, endpoint, check, service)

    @property
    def title(self) -> str:
        """What the report is about, as the text report and the page name it: the check's
        name, else the endpoint's Kubernetes-style name (``readyz``)."""
        return self.check if self.check is not None else self.endpoint.k8s_name

    @functools.cached_property
    def passed(self) -> bool:
        """True when every critical check passed: the endpoint answers its success status."""
        return all(result.passed for result in self.results if result.critical)

    @property
    def status(self) -> Status:
        """``fail`` when it did not pass, ``warn`` when it passed degraded, else ``pass``."""
        if not self.passed:
            return Status.FAIL
        return Status.WARN if self.warnings else Status.PASS

    @property
    def causes(self) -> list[str]:
        """The failing checks that kept others from running, each named once."""
        return list(dict.fromkeys(result.cause for result in self.results if result.cause))

    @property
    def warnings(self) -> list[str]:
        """Names of the checks that degrade the report: non-critical failures and warnings."""
        return [result.name for result in self.results if result.degrades]
