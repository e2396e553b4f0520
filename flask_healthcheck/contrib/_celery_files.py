"""Where a Celery worker's probe files are, and the worker's name: what the worker side
(:mod:`~flask_healthcheck.contrib.celery_worker`, which writes the files) and the
``flask-healthcheck worker`` command (:mod:`~flask_healthcheck.worker_probe`, which reads them)
must agree on.

Free of Celery and Flask: the command imports it in the worker's container, where importing
either would cost a probe's time.
"""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

#: Environment variables the worker side and the worker command both read for the file paths.
LIVENESS_FILE_ENV = "HEALTHCHECK_CELERY_LIVENESS_FILE"
READINESS_FILE_ENV = "HEALTHCHECK_CELERY_READINESS_FILE"
#: Where the files are when neither an option nor the environment says.
DEFAULT_LIVENESS_FILE = Path(tempfile.gettempdir()) / "celery_worker.live"
DEFAULT_READINESS_FILE = Path(tempfile.gettempdir()) / "celery_worker.ready"
#: The worker's node name, as container images commonly pass it to ``celery worker -n``.
WORKER_NAME_ENV = "CELERY_WORKER_NAME"


def probe_file_path(given: str | os.PathLike[str] | None, variable: str, default: Path) -> Path:
    """The path of a probe file: *given*, else the environment variable *variable*, else
    *default*. The worker side and the worker command both find the files this way."""
    if given is not None:
        return Path(given)
    from_environment = os.environ.get(variable)
    return Path(from_environment) if from_environment else default


def default_worker_name() -> str:
    """``$CELERY_WORKER_NAME``, else Celery's default node name ``celery@<hostname>``."""
    return os.environ.get(WORKER_NAME_ENV) or f"celery@{socket.gethostname()}"
