"""The recent runs of each check: what the history endpoint and the page's sparklines show.

Every run of a check adds one :class:`~flask_healthcheck.Sample` (when it ended, what it
said, how long it took) to the check's history, which keeps the last
``HEALTHCHECK_HISTORY_SIZE`` of them. A sample is what
the check itself said, before the failure tolerance (``fail_after``): flapping that the tolerance
hides from the probes is exactly what a person looking at the history wants to see. Requests
that reuse a cached result add nothing, so the history costs one tuple per run, never per answer.

Where it is kept: with the check's record in the server directory when the workers of a server
share their results (:mod:`~flask_healthcheck.store`), so every worker answers with the server's
history; in the runner of the process otherwise. It is written in the same step as the result,
under the record's lock, so the two never disagree.

What it says of a check (:func:`summarize`): its runs, how many passed, the *flaps* (changes
between failing and not failing within the window), how long each failure took to recover
(from its first failing run to the next run that did not fail), and since when the check has
said what it says now. Nothing in it is a check's output: it is as public as the statuses of
the report.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from .results import CheckResult, Sample

#: Samples kept per check unless ``HEALTHCHECK_HISTORY_SIZE`` says otherwise.
DEFAULT_SIZE = 60


#: A sample as it is kept: a plain tuple, which :mod:`pickle` writes and reads ten times faster
#: than a named one (the server's records are read and written with every run).
Entry = tuple[float, str, float]


def entry_of(result: CheckResult) -> Entry:
    """The sample of a new result, as it is kept: what the check said
    (:attr:`CheckResult.raw`, before the failure tolerance), when and in how long."""
    said = result.raw or result
    return (result.timestamp, said.status.value, result.response_time)


def samples_of(entries: tuple[Entry, ...]) -> tuple[Sample, ...]:
    """The kept *entries* as :class:`~flask_healthcheck.Sample` values."""
    return tuple(Sample(*entry) for entry in entries)


def extended(entries: tuple[Entry, ...], entry: Entry, size: int) -> tuple[Entry, ...]:
    """*entries* with *entry* added, the oldest dropped beyond *size*."""
    if size <= 0:
        return ()
    return (*entries[-(size - 1) :], entry) if size > 1 else (entry,)


def recoveries(samples: Sequence[Sample]) -> list[float]:
    """Seconds each failure in *samples* took to recover: from its first failing run to the
    next run that did not fail. A failure still going, or that began before the window, is not
    counted (its start, or its end, is unknown)."""
    found: list[float] = []
    failing_since: float | None = None
    # A failure the window starts in began before it: how long it took is unknown.
    before_the_window = bool(samples) and samples[0].failed
    for sample in samples:
        if not sample.failed:
            if failing_since is not None:
                found.append(sample.at - failing_since)
            failing_since = None
            before_the_window = False
        elif failing_since is None and not before_the_window:
            failing_since = sample.at
    return found


def flaps(samples: Sequence[Sample]) -> int:
    """Changes between failing and not failing from one run to the next."""
    return sum(1 for before, after in itertools.pairwise(samples) if before.failed != after.failed)


def summarize(samples: Sequence[Sample], now: float) -> dict[str, Any]:
    """What the history says of one check, as the history endpoint shows it (JSON-ready)."""
    runs = len(samples)
    found = recoveries(samples)
    summary: dict[str, Any] = {
        "runs": runs,
        "passed": sum(1 for sample in samples if not sample.failed),
        "flaps": flaps(samples),
        "recoveries": len(found),
        "last_recovery_seconds": round(found[-1], 3) if found else None,
        "longest_recovery_seconds": round(max(found), 3) if found else None,
        "status": samples[-1].status if samples else None,
        "status_since": None,
        "seconds_in_status": None,
        "window_seconds": round(now - samples[0].at, 3) if samples else 0.0,
    }
    if samples:
        latest = samples[-1].failed
        since = samples[-1].at
        for sample in reversed(samples):
            if sample.failed != latest:
                break
            since = sample.at
        summary["status_since"] = since
        summary["seconds_in_status"] = round(max(0.0, now - since), 3)
    return summary


def document(
    histories: dict[str, tuple[Sample, ...]], now: float, size: int, hostname: str | None
) -> dict[str, Any]:
    """The history endpoint's JSON: per check its summary and its samples, oldest first."""
    return {
        "hostname": hostname or "",
        "timestamp": now,
        "size": size,
        "checks": {
            name: {
                **summarize(samples, now),
                "samples": [
                    {"at": sample.at, "status": sample.status, "duration": sample.duration}
                    for sample in samples
                ],
            }
            for name, samples in histories.items()
        },
    }
