"""Sentry, on only when ``SENTRY_DSN`` is set; ``sentry_sdk`` is not even imported otherwise.

Once it is initialised, flask_healthcheck sends one event when a check starts failing (not one
per probe) and keeps the health endpoints out of Sentry's performance transactions.
"""

from __future__ import annotations

import os
import sys

from flask import Flask


def init_sentry(app: Flask) -> bool:
    """Initialise ``sentry_sdk`` when the app's ``SENTRY_DSN`` is set; True when it did."""
    dsn = app.config["SENTRY_DSN"]
    if not dsn:
        return False
    import sentry_sdk

    sentry_sdk.init(
        dsn=dsn,
        environment=os.environ.get("SENTRY_ENVIRONMENT") or None,
        traces_sample_rate=float(os.environ.get("SENTRY_TRACES_SAMPLE_RATE") or 0),
        send_default_pii=False,
    )
    return True


def capture_exception() -> None:
    """Send the exception being handled to Sentry, when the app has initialised it."""
    sentry_sdk = sys.modules.get("sentry_sdk")
    if sentry_sdk is not None:
        sentry_sdk.capture_exception()
