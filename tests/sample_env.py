"""An environment for the sample app in tests: none of its variables set, a fresh instance."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: Variables the sample app reads besides ``HEALTHCHECK_*``; the tests start from none set.
SAMPLE_VARIABLES = frozenset(
    {
        "DATABASE_URL",
        "REDIS_URL",
        "CELERY_BROKER_URL",
        "CELERY_RESULT_BACKEND",
        "CELERY_QUEUE",
        "CELERY_WORKERS_REQUIRED",
        "CELERY_WORKER_NAME",
        "SENTRY_DSN",
        "SENTRY_ENVIRONMENT",
        "SENTRY_TRACES_SAMPLE_RATE",
        "MIGRATE_ON_START",
        "SAMPLE_INSTANCE_PATH",
        "STORAGE_URL",
        "UPSTREAM_HEALTH_URL",
        "MAIL_SERVER",
        "MAIL_PORT",
        "MEMORY_WARN_PERCENT",
        "CPU_WARN_PERCENT",
    }
)


def isolate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Unset the app's variables and point its instance folder into *tmp_path*; return it."""
    for key in list(os.environ):
        if key in SAMPLE_VARIABLES or key.startswith("HEALTHCHECK_"):
            monkeypatch.delenv(key)
    instance = tmp_path / "instance"
    monkeypatch.setenv("SAMPLE_INSTANCE_PATH", str(instance))
    return instance
