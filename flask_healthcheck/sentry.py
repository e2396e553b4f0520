"""Sentry integration: check failures as events, background runs as cron check-ins, and no
performance transactions for probes.

Imported by the extension only when ``sentry_sdk`` has already been imported by the app, so an
app without Sentry pays nothing. Everything here is a no-op while Sentry is not initialised.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

import sentry_sdk
from sentry_sdk.crons import capture_checkin
from sentry_sdk.utils import event_from_exception

from .redact import mask_structure
from .registry import CheckSpec
from .results import failure_kind
from .runner import Transition

if TYPE_CHECKING:
    from sentry_sdk._types import Event, MonitorConfig

TAG = "healthcheck.check"


def _active() -> bool:
    return sentry_sdk.get_client().is_active()


def report_transition(transition: Transition, judged: str | None = None) -> None:
    """Send one event when a check starts failing: its exception if it raised, else a message.

    Requests served while the check keeps failing send nothing, so a dead database during a
    probe flood is one Sentry event, not thousands. *judged* is what the fleet made of the
    failure of a shared check (``local fault: 7 of 7 other pods pass database``).
    """
    if not transition.started_failing or not _active():
        return
    result = transition.result
    with sentry_sdk.new_scope() as scope:
        scope.set_tag(TAG, result.name)
        scope.set_tag("healthcheck.critical", str(result.critical).lower())
        scope.fingerprint = ["flask_healthcheck", result.name]
        context = {
            "check": result.name,
            "output": result.detail or result.output,
            "tags": sorted(result.tags),
        }
        if judged is not None:
            context["fleet"] = judged
            scope.set_tag("healthcheck.fleet", "local")
        scope.set_context("healthcheck", context)
        if transition.exception is not None:
            # Built here rather than by capture_exception so the exception's text (and the
            # frames' variables) go out with URL credentials masked, as everywhere else.
            event, hint = event_from_exception(
                transition.exception, client_options=sentry_sdk.get_client().options
            )
            # The event still holds the frames' local variables as objects (sentry_sdk turns
            # them into text when it sends): a secret key's value is masked as in a report.
            scope.capture_event(cast("Event", mask_structure(event)), hint=hint)
        else:
            scope.capture_message(
                f"health check {result.name!r} failed: {result.output}", level="error"
            )


def report_fleet_outage(check: str, message: str) -> None:
    """Send the one event of a fleet-wide outage of *check* (the fleet picks the server that
    sends it): grouped apart from the failures of single servers."""
    if not _active():
        return
    with sentry_sdk.new_scope() as scope:
        scope.set_tag(TAG, check)
        scope.set_tag("healthcheck.fleet", "outage")
        scope.fingerprint = ["flask_healthcheck", "fleet", check]
        scope.set_context("healthcheck", {"check": check, "fleet": message})
        scope.capture_message(f"health check {check!r}: {message}", level="error")


def drop_current_transaction() -> None:
    """Keep the current request (a probe) from being sent as a performance transaction."""
    if not _active():
        return
    transaction = sentry_sdk.get_current_scope().transaction
    if transaction is not None:
        transaction.sampled = False


#: Seconds, at least, between two check-ins of a monitor that say the same: Sentry's schedules
#: count in minutes, so a check that runs every 5 s checks in every 12th run, and at once when
#: its status changes.
CHECKIN_INTERVAL = 60.0


def monitor_config(spec: CheckSpec, timeout: float) -> MonitorConfig:
    """The cron monitor of a background check, which each check-in upserts: its period as an
    interval schedule in whole minutes (Sentry's smallest unit), a check-in margin that ends
    when its result would be reported stale, and its failure tolerance as the thresholds,
    counted in the check-ins Sentry hears (:func:`tolerance_in_check_ins`)."""
    period = _cadence(spec)
    interval = max(CHECKIN_INTERVAL, period)
    max_age = spec.max_age if spec.max_age is not None else 2 * period + timeout
    failure_threshold, recovery_threshold = tolerance_in_check_ins(spec)
    return {
        "schedule": {"type": "interval", "value": math.ceil(interval / 60), "unit": "minute"},
        "checkin_margin": max(1, math.ceil((max_age - period) / 60)),
        "max_runtime": max(1, math.ceil(timeout / 60)),
        "failure_issue_threshold": failure_threshold,
        "recovery_threshold": recovery_threshold,
    }


def tolerance_in_check_ins(spec: CheckSpec) -> tuple[int, int]:
    """A check's failure tolerance as Sentry's ``failure_issue_threshold`` and
    ``recovery_threshold``, which count check-ins in a row, not runs.

    A streak of runs with one status sends its first check-in at once, then one every *k*-th
    run, *k* periods making :data:`CHECKIN_INTERVAL` (:class:`CronCheckIns`): every run of a
    check that runs a minute apart or more. The failure threshold is reached by the check-in
    of the run at which the check's verdict turns failing (``fail_after`` runs that also span
    ``fail_after_seconds``), or by the last one before it; the recovery threshold by the
    check-in of the run at which it turns passing (``recover_after`` runs), or the first one
    after it. So Sentry opens an issue no later than the check reports failing, and resolves
    it no earlier than the check reports passing again.
    """
    period = _cadence(spec)
    runs_per_check_in = _runs_per_check_in(spec)
    runs_to_fail = spec.fail_after
    if spec.fail_after_seconds:
        # The failures must span fail_after_seconds, from the first run to the last.
        runs_to_fail = max(runs_to_fail, 1 + _periods_in(spec.fail_after_seconds, period))
    failure_threshold = 1 + (runs_to_fail - 1) // runs_per_check_in
    recovery_threshold = 1 + math.ceil((spec.recover_after - 1) / runs_per_check_in)
    return failure_threshold, recovery_threshold


def _cadence(spec: CheckSpec) -> float:
    """Seconds between two runs of *spec* that check in: its period, or with ``fleet_ttl``
    once per *fleet_ttl* for the whole fleet (the other servers take that run's result)."""
    return max(spec.period or CHECKIN_INTERVAL, spec.fleet_ttl or 0.0)


def _runs_per_check_in(spec: CheckSpec) -> int:
    """Every how many runs with the same status *spec* checks in: the periods that make
    :data:`CHECKIN_INTERVAL`; every run for a check with ``fleet_ttl``, whose runs are spread
    over the servers of the fleet, so that none of them sees a whole streak."""
    if spec.fleet_ttl is not None:
        return 1
    return _periods_in(CHECKIN_INTERVAL, spec.period or CHECKIN_INTERVAL)


def _periods_in(seconds: float, period: float) -> int:
    """How many periods *seconds* last, rounded up (at least one)."""
    return max(1, math.ceil(round(seconds / period, 6)))  # 1.1 / 0.1 is 11.000000000000002


class CronCheckIns:
    """Sends the check-ins of the background checks with ``cron=`` of one app, from the
    process that ran them (one per server: the scheduler's), each run's status and duration:
    every run of a check that runs a minute apart or more; of one that runs more often, the
    run whose status differs from the last check-in, and every *k*-th run of a streak with
    the same status, *k* periods making a minute (:func:`tolerance_in_check_ins` counts on
    it). Counted in runs rather than seconds, so that a run that ends a little early is not
    held back to the next one and the thresholds stay true."""

    def __init__(self, timeout_of: Callable[[CheckSpec], float]) -> None:
        self._timeout_of = timeout_of
        self._lock = threading.Lock()
        #: Per monitor: the status of its last check-in, and the runs since, not sent.
        self._held: dict[str, tuple[str, int]] = {}

    def report(self, transition: Transition) -> None:
        spec = transition.spec
        if spec.cron is None or not _active():
            return
        said = transition.result.raw or transition.result
        if not transition.called or failure_kind(said) == "not run":
            # Not a run here: a stale result (a missed check-in is how Sentry hears that runs
            # stopped), a result the fleet lent (its server checked in), a check kept from
            # running by a failing dependency.
            return
        status = "ok" if said.passed else "error"
        runs_per_check_in = _runs_per_check_in(spec)
        with self._lock:
            last_status, held = self._held.get(spec.cron, ("", 0))
            if status == last_status and held + 1 < runs_per_check_in:
                self._held[spec.cron] = (status, held + 1)
                return
            self._held[spec.cron] = (status, 0)
        capture_checkin(
            monitor_slug=spec.cron,
            status=status,
            duration=said.response_time,
            monitor_config=monitor_config(spec, self._timeout_of(spec)),
        )
