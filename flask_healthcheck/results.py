"""What a check returns, the result the runner makes of it, and the report of one request.

Every report format is built from these frozen objects; nothing here runs a check.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field

from .endpoints import Endpoint
from .redact import mask_credentials

ObservedValue = int | float | str | bool


class Status(str, enum.Enum):
    """The state of a check or a report, in the words of the IETF health+json draft."""

    PASS = "pass"  # noqa: S105 (a status, not a password)
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Outcome:
    """What a check may return instead of a ``(bool, str)`` tuple, to say more.

    ``observed_value``/``observed_unit`` (latency in ms, free bytes, queue length) appear in the
    health+json format and in metrics. ``warning=True`` on a passing outcome means "works, but
    near a limit": the check is reported as ``warn`` without failing the endpoint.
    ``detail`` is what a request bearing the token sees instead of ``output`` (with credentials
    masked): a passing built-in check says "answered in 1.2 ms" publicly and names the server
    it answered from in ``detail`` only.
    """

    passed: bool
    output: str = ""
    observed_value: ObservedValue | None = None
    observed_unit: str | None = None
    warning: bool = False
    detail: str | None = None


@dataclass(frozen=True)
class CheckResult:
    """The result of one run of one check, as every format shows it.

    ``output`` is safe to show publicly. ``detail`` holds what only an authorised request
    may see (an exception's text); it is ``None`` when there is nothing more than ``output``.
    Both have URL credentials masked. Times are epoch seconds; ``response_time`` is seconds.
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


def describe_return_value(value: object) -> str:
    """Name what a check returned, for the message of a check that returned the wrong thing."""
    if isinstance(value, tuple):
        kinds = ", ".join(type(item).__name__ for item in value)
        return f"returned a tuple ({kinds})"
    if value is None or isinstance(value, bool):
        return f"returned {value!r}"
    return f"returned a {type(value).__name__}"


def interpret(value: object) -> Outcome:
    """Turn what a check returned into an :class:`Outcome`; raise ``TypeError`` saying why not."""
    if isinstance(value, Outcome):
        observed = value.observed_value
        if (
            isinstance(value.passed, bool)
            and isinstance(value.output, str)
            and (observed is None or isinstance(observed, ObservedValue))
            and (value.observed_unit is None or isinstance(value.observed_unit, str))
            and (value.detail is None or isinstance(value.detail, str))
        ):
            return value
        raise TypeError(
            "returned an Outcome with fields of the wrong types; expected passed: bool, "
            "output: str, observed_value: int, float, str or bool, observed_unit: str, "
            "detail: str or None"
        )
    if (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], bool)
        and isinstance(value[1], str)
    ):
        return Outcome(passed=value[0], output=value[1])
    raise TypeError(f"{describe_return_value(value)}, expected (bool, str)")


@dataclass(frozen=True)
class Report:
    """The results of one request (or one :meth:`~flask_healthcheck.HealthCheck.run`), with
    where, when and for which :class:`~flask_healthcheck.Endpoint` it was made.

    *check* is the name of the check a report of :attr:`Endpoint.CHECK
    <flask_healthcheck.Endpoint.CHECK>` is about, else None.
    """

    results: tuple[CheckResult, ...]
    hostname: str
    timestamp: float
    endpoint: Endpoint = Endpoint.REPORT
    check: str | None = None

    @classmethod
    def of(
        cls,
        results: Iterable[CheckResult],
        hostname: str,
        timestamp: float,
        endpoint: Endpoint | str,
        check: str | None = None,
    ) -> Report:
        """A report of *results*; *endpoint* may be given by its value (``"ready"``)."""
        if not isinstance(endpoint, Endpoint):
            endpoint = Endpoint(endpoint)
        return cls(tuple(results), hostname, timestamp, endpoint, check)

    @property
    def title(self) -> str:
        """What the report is about, as the text report and the page name it: the check's
        name, else the endpoint's Kubernetes-style name (``readyz``)."""
        return self.check if self.check is not None else self.endpoint.k8s_name

    @property
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
    def warnings(self) -> list[str]:
        """Names of the checks that degrade the report: non-critical failures and warnings."""
        return [result.name for result in self.results if result.degrades]
