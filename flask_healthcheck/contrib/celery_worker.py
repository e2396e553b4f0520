"""Celery, on the worker's side: the probe files ``flask-healthcheck worker`` reads.

In the module the worker loads (``celery -A ...``)::

    from flask_healthcheck.contrib.celery_worker import install_worker_probes

    install_worker_probes(celery_app)

The worker then keeps a liveness file that its event loop touches and a readiness file that
exists while it takes tasks; ``flask-healthcheck worker`` (:mod:`flask_healthcheck.worker_probe`)
checks them in the worker's container without importing the app. Both sides take the files'
paths from the same options, environment variables and defaults, defined by the command.

Install with ``pip install 'flask-health-checks[celery]'``.
"""

from __future__ import annotations

import logging
import os
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from flask_healthcheck.contrib._celery_files import (
    DEFAULT_LIVENESS_FILE,
    DEFAULT_READINESS_FILE,
    LIVENESS_FILE_ENV,
    READINESS_FILE_ENV,
    probe_file_path,
)
from flask_healthcheck.exceptions import MissingDependencyError

try:
    from celery import Celery, bootsteps, signals
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError("celery", "celery") from exc

__all__ = ["WorkerLivenessStep", "WorkerProbes", "install_worker_probes"]

logger = logging.getLogger("flask_healthcheck")


@dataclass(frozen=True)
class WorkerProbes:
    """Where a worker keeps its probe files, and how often it touches the liveness file."""

    liveness_file: Path
    readiness_file: Path
    interval: float


_installed: weakref.WeakKeyDictionary[Any, WorkerProbes] = weakref.WeakKeyDictionary()


def _probes_of(sender: Any) -> WorkerProbes | None:
    app = getattr(sender, "app", None)
    return None if app is None else _installed.get(app)


def _touch(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    except OSError:
        # A failing touch must not stop the worker's event loop; the file going stale is the
        # signal the probe acts on.
        logger.warning("cannot touch the worker probe file %s", path, exc_info=True)


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        logger.warning("cannot remove the worker probe file %s", path, exc_info=True)


class WorkerLivenessStep(bootsteps.StartStopStep):  # type: ignore[misc]
    """Worker bootstep: touches the liveness file from the worker's own timer.

    With the event loop (the Redis and AMQP transports), the timer is driven by the loop in
    the worker's main process, so the file goes stale when the loop stops turning: blocked
    by a task in the ``solo`` pool, by a hung call, or while the worker reconnects to the
    broker. On start it also removes a readiness file left by a worker that was killed.
    """

    requires: ClassVar[set[str]] = {"celery.worker.components:Timer"}

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.probes = _probes_of(parent)
        self.timer_entry: Any = None
        if self.probes is not None:
            _remove(self.probes.readiness_file)

    def start(self, parent: Any) -> None:
        if self.probes is None:
            return
        liveness_file = self.probes.liveness_file
        _touch(liveness_file)
        self.timer_entry = parent.timer.call_repeatedly(
            self.probes.interval, _touch, (liveness_file,), priority=10
        )

    def stop(self, parent: Any) -> None:
        if self.timer_entry is not None:
            self.timer_entry.cancel()
            self.timer_entry = None
        if self.probes is not None:
            _remove(self.probes.liveness_file)

    terminate = stop


def _on_worker_ready(sender: Any = None, **_: Any) -> None:
    probes = _probes_of(sender)
    if probes is not None:
        _touch(probes.readiness_file)


def _on_worker_shutdown(sender: Any = None, **_: Any) -> None:
    probes = _probes_of(sender)
    if probes is not None:
        _remove(probes.readiness_file)
        _remove(probes.liveness_file)


def install_worker_probes(
    celery_app: Celery,
    *,
    liveness_file: str | os.PathLike[str] | None = None,
    readiness_file: str | os.PathLike[str] | None = None,
    interval: float = 60.0,
) -> WorkerProbes:
    """Make the workers of *celery_app* keep the probe files ``flask-healthcheck worker`` reads.

    - The **liveness file** is touched every *interval* seconds by the worker's own timer (a
      bootstep), so its age tells whether the worker's event loop still turns. It is removed
      on shutdown.
    - The **readiness file** is created when the worker is ready to take tasks
      (``worker_ready``) and removed when it shuts down (``worker_shutdown``).

    Paths default to ``$HEALTHCHECK_CELERY_LIVENESS_FILE`` and
    ``$HEALTHCHECK_CELERY_READINESS_FILE``, else ``celery_worker.live`` and
    ``celery_worker.ready`` in the temporary directory: the defaults of the worker command.
    Call it where the app is defined, before the worker starts; calling it again replaces
    the settings. Returns the settings in use.
    """
    if isinstance(interval, bool) or not isinstance(interval, int | float) or not interval > 0:
        raise ValueError(f"'interval' must be a number of seconds above zero; got {interval!r}")
    probes = WorkerProbes(
        liveness_file=probe_file_path(liveness_file, LIVENESS_FILE_ENV, DEFAULT_LIVENESS_FILE),
        readiness_file=probe_file_path(readiness_file, READINESS_FILE_ENV, DEFAULT_READINESS_FILE),
        interval=float(interval),
    )
    _installed[celery_app] = probes
    celery_app.steps["worker"].add(WorkerLivenessStep)
    signals.worker_ready.connect(
        _on_worker_ready, weak=False, dispatch_uid="flask_healthcheck.worker_ready"
    )
    signals.worker_shutdown.connect(
        _on_worker_shutdown, weak=False, dispatch_uid="flask_healthcheck.worker_shutdown"
    )
    return probes
