"""Failure tolerance, recovery and staleness as pure functions: no app, no thread, no sleep."""

from __future__ import annotations

from collections.abc import Iterable

from flask_healthcheck.registry import make_spec
from flask_healthcheck.results import CheckResult
from flask_healthcheck.verdict import Streak, stale, tolerate


def result(passed: bool, at: float, output: str = "", detail: str | None = None) -> CheckResult:
    return CheckResult(
        name="dependency",
        passed=passed,
        output=output or ("up" if passed else "down"),
        timestamp=at,
        expires=at + 1,
        response_time=0.01,
        detail=detail,
        since=at,
    )


def replay(raws: Iterable[CheckResult], **options: object) -> list[CheckResult]:
    """What the runner reports for each of *raws* in turn, for a check with *options*."""
    spec = make_spec(lambda: (True, ""), name="dependency", **options)
    streak = Streak()
    previous: CheckResult | None = None
    reported = []
    for raw in raws:
        streak = streak.after(raw)
        previous = tolerate(spec, previous, raw, streak)
        reported.append(previous)
    return reported


def verdicts(reported: list[CheckResult]) -> list[bool]:
    return [each.passed for each in reported]


def test_streak_counts_results_in_a_row_and_remembers_when_failing_began() -> None:
    streak = Streak().after(result(False, 10)).after(result(False, 12))

    assert (streak.failures, streak.passes, streak.failing_since) == (2, 0, 10)
    assert streak.after(result(True, 13)) == Streak(passes=1)


def test_without_tolerance_each_result_is_reported_as_it_is() -> None:
    raws = [result(True, 0), result(False, 1), result(True, 2)]

    assert replay(raws) == raws


def test_fail_after_three_reports_two_failures_as_warnings_and_fails_on_the_third() -> None:
    raws = [result(True, 0), result(False, 1), result(False, 2), result(False, 3)]

    reported = replay(raws, fail_after=3)

    assert verdicts(reported) == [True, True, True, False]
    first_failure = reported[1]
    assert first_failure.warning is True
    assert first_failure.output == "failure 1 tolerated (fails after 3 in a row): down"
    assert first_failure.raw == raws[1]
    assert reported[3] == raws[3]


def test_a_pass_between_failures_starts_the_count_again() -> None:
    pattern = [True, False, True, False, True, False, False]
    raws = [result(passed, at) for at, passed in enumerate(pattern)]

    assert verdicts(replay(raws, fail_after=2)) == [True, True, True, True, True, True, False]


def test_fail_after_seconds_fails_once_the_failures_span_that_long() -> None:
    raws = [result(True, 0), *(result(False, at) for at in (10.0, 10.5, 10.9, 11.0))]

    reported = replay(raws, fail_after_seconds=1)

    assert verdicts(reported) == [True, True, True, True, False]
    assert "tolerated (fails after 1 in a row over 1 s)" in reported[3].output


def test_a_first_result_that_fails_is_never_tolerated() -> None:
    assert verdicts(replay([result(False, 0)], fail_after=5)) == [False]


def test_recover_after_two_needs_two_passes_in_a_row() -> None:
    raws = [result(False, 0), result(True, 1), result(False, 2), result(True, 3), result(True, 4)]

    reported = replay(raws, recover_after=2)

    assert verdicts(reported) == [False, False, False, False, True]
    assert reported[1].output == "recovering: pass 1 of 2 needed in a row: up"
    assert reported[1].raw == raws[1]
    assert reported[4].raw is None


def test_since_is_when_the_reported_verdict_last_changed() -> None:
    raws = [result(True, 0), result(True, 5), result(False, 7), result(False, 9)]

    assert [each.since for each in replay(raws)] == [0, 0, 7, 7]
    # A tolerated failure does not change the verdict, so "since" stays with the passes.
    assert [each.since for each in replay(raws, fail_after=2)] == [0, 0, 0, 9]


def test_the_token_holders_detail_carries_the_tolerance_note_too() -> None:
    raws = [result(True, 0), result(False, 1, detail="refused by 10.0.0.7:5432")]

    tolerated = replay(raws, fail_after=2)[1]

    assert (
        tolerated.detail == "failure 1 tolerated (fails after 2 in a row): refused by 10.0.0.7:5432"
    )


def test_a_result_within_its_max_age_is_not_stale() -> None:
    assert stale(result(True, 100), now=110, max_age=10) is None


def test_a_passing_result_past_its_max_age_is_reported_failed_stale_from_now() -> None:
    fresh = result(True, 100, detail="ok via 10.0.0.7")

    expired = stale(fresh, now=131, max_age=10)

    assert expired is not None
    assert expired.passed is False
    assert expired.output == "stale: the last result is 31 s old, more than its max age of 10 s"
    assert expired.detail is None  # the old detail must not outlive the verdict it explained
    assert (expired.since, expired.expires, expired.raw) == (131, 100, fresh)


def test_a_failing_result_past_its_max_age_keeps_when_it_began_failing() -> None:
    failing = result(False, 100)

    expired = stale(failing, now=200, max_age=10)

    assert expired is not None
    assert expired.since == 100
