"""How a check's own results become the verdict it reports: failure tolerance, recovery and
staleness.

Pure functions of the results, the check's options and the time they are given: no clock, no
lock, no thread. The runner keeps the state (:class:`Streak`, the last reported result) and
calls these; their tests need no sleeping.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .registry import CheckSpec
from .results import CheckResult


@dataclass(frozen=True)
class Streak:
    """A check's own results in a row: how many passed or failed, and since when it fails."""

    failures: int = 0
    passes: int = 0
    #: Epoch seconds of the first failure in a row, None while it passes.
    failing_since: float | None = None

    def after(self, raw: CheckResult) -> Streak:
        """The streak once *raw* has been added to it."""
        if raw.passed:
            return Streak(passes=self.passes + 1)
        since = self.failing_since if self.failing_since is not None else raw.timestamp
        return Streak(failures=self.failures + 1, failing_since=since)


def tolerate(
    spec: CheckSpec, previous: CheckResult | None, raw: CheckResult, streak: Streak
) -> CheckResult:
    """The result to report for *raw*, given the one reported before and the *streak* that
    ends with *raw*.

    A passing check is reported failing only after ``fail_after`` failures in a row that
    span ``fail_after_seconds``; until then the failure shows as a warning. A failing one is
    reported passing only after ``recover_after`` passes in a row. A reported result that
    differs from *raw* carries it as ``raw``. ``since`` is when the reported verdict last
    changed.
    """
    result = raw
    if previous is not None and previous.passed and not raw.passed:
        failing_for = raw.timestamp - (streak.failing_since or raw.timestamp)
        if streak.failures < spec.fail_after or failing_for < spec.fail_after_seconds:
            over = f" over {spec.fail_after_seconds:g} s" if spec.fail_after_seconds else ""
            note = (
                f"failure {streak.failures} tolerated (fails after {spec.fail_after} in a "
                f"row{over})"
            )
            result = _annotated(raw, note, passed=True, warning=True)
    elif (
        previous is not None
        and not previous.passed
        and raw.passed
        and streak.passes < spec.recover_after
    ):
        note = f"recovering: pass {streak.passes} of {spec.recover_after} needed in a row"
        result = _annotated(raw, note, passed=False, warning=False)
    if previous is not None and previous.passed == result.passed:
        result = dataclasses.replace(result, since=previous.since)
    return result


def _annotated(raw: CheckResult, note: str, *, passed: bool, warning: bool) -> CheckResult:
    detail = None if raw.detail is None else f"{note}: {raw.detail}"
    return dataclasses.replace(
        raw,
        passed=passed,
        warning=warning,
        output=f"{note}: {raw.output}",
        output_json=None,
        detail=detail,
        raw=raw,
    )


def stale(result: CheckResult, now: float, max_age: float) -> CheckResult | None:
    """*result* reported failed "stale" when it is older than *max_age* at *now* (epoch
    seconds), or None while it is fresh enough."""
    age = now - result.timestamp
    if age <= max_age:
        return None
    return dataclasses.replace(
        result,
        passed=False,
        warning=False,
        output=f"stale: the last result is {age:.0f} s old, more than its max age of {max_age:g} s",
        output_json=None,
        detail=None,
        expires=result.timestamp,
        since=now if result.passed else result.since,
        raw=result.raw or result,
    )
