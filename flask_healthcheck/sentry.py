"""Sentry integration: check failures as events, and no performance transactions for probes.

Imported by the extension only when ``sentry_sdk`` has already been imported by the app, so an
app without Sentry pays nothing. Everything here is a no-op while Sentry is not initialised.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import sentry_sdk
from sentry_sdk.utils import event_from_exception

from .redact import mask_structure
from .runner import Transition

if TYPE_CHECKING:
    from sentry_sdk._types import Event

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
