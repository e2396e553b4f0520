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

from .clock import Clock
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


#: Seconds between two check-ins of a monitor that say the same: Sentry's schedules count in
#: minutes, so a check that runs every 5 s reports once a minute, and at once when it changes.
CHECKIN_INTERVAL = 60.0


def monitor_config(spec: CheckSpec, timeout: float) -> MonitorConfig:
    """The cron monitor of a background check, which each check-in upserts: its period as an
    interval schedule in whole minutes (Sentry's smallest unit), a check-in margin that ends
    when its result would be reported stale, and its failure tolerance as the thresholds."""
    period = spec.period or CHECKIN_INTERVAL
    interval = max(CHECKIN_INTERVAL, period)
    max_age = spec.max_age if spec.max_age is not None else 2 * period + timeout
    return {
        "schedule": {"type": "interval", "value": math.ceil(interval / 60), "unit": "minute"},
        "checkin_margin": max(1, math.ceil((max_age - period) / 60)),
        "max_runtime": max(1, math.ceil(timeout / 60)),
        "failure_issue_threshold": spec.fail_after,
        "recovery_threshold": spec.recover_after,
    }


class CronCheckIns:
    """Sends the check-ins of the background checks with ``cron=`` of one app, from the
    process that ran them (one per server: the scheduler's), each run's status and duration;
    at most one a minute per monitor while its status stays the same."""

    def __init__(self, clock: Clock, timeout_of: Callable[[CheckSpec], float]) -> None:
        self._clock = clock
        self._timeout_of = timeout_of
        self._lock = threading.Lock()
        #: Per monitor: when the last check-in went, and its status.
        self._sent: dict[str, tuple[float, str]] = {}

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
        now = self._clock.monotonic()
        with self._lock:
            last = self._sent.get(spec.cron)
            if last is not None and last[1] == status and now - last[0] < CHECKIN_INTERVAL:
                return
            self._sent[spec.cron] = (now, status)
        capture_checkin(
            monitor_slug=spec.cron,
            status=status,
            duration=said.response_time,
            monitor_config=monitor_config(spec, self._timeout_of(spec)),
        )
