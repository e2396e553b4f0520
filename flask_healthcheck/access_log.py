"""Probe traffic out of the access logs: a healthy probe is not news.

Kubernetes probes each pod's liveness and readiness every few seconds, load balancers and
uptime monitors add their own: in a server's access log the health endpoints soon outnumber
the app's requests, and the lines that matter scroll away. So by default an answer of the
health endpoints (everything under ``HEALTHCHECK_PATH``) that succeeded (a status below 400)
is kept out of the access logs of the servers whose access log is a Python logger:

``gunicorn.access``
    gunicorn's access log (``--access-logfile``), in every worker, with or without
    ``--preload`` (the filter sits on the logger, which a forked worker inherits).
``werkzeug``
    the Flask development server's request lines (``flask run``).

A failing answer (``503``), a refused one (``401``, ``404``) and a degraded ``429`` are still
logged: they are news. ``HEALTHCHECK_LOG_PROBES = True`` logs every answer as any other request.
The decision is made on the record the server hands to its logger: gunicorn's atoms (``U``, the
path, and ``s``, the status) and Werkzeug's request line and status. A record of another shape
(a server whose format changed) is logged, never dropped.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping

#: The loggers of the servers' access logs.
LOGGERS = ("gunicorn.access", "werkzeug")

_ANSI_STYLE = re.compile(r"\x1b\[[0-9;]*m")


class ProbeLogFilter(logging.Filter):
    """Drops the access-log records of succeeded answers under the health paths it knows."""

    def __init__(self) -> None:
        super().__init__("flask_healthcheck")
        self._paths: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    def add_path(self, path: str) -> None:
        """Drop succeeded answers under *path* (a base path, such as ``/healthz``) too."""
        with self._lock:
            self._paths = self._paths | {path.rstrip("/")}

    def is_quiet(self, path: str, status: int) -> bool:
        """True for a succeeded answer under one of the health paths."""
        if status >= 400:
            return False
        return any(path == base or path.startswith(base + "/") for base in self._paths)

    def filter(self, record: logging.LogRecord) -> bool:
        found = _gunicorn_request(record) if record.name == "gunicorn.access" else None
        if found is None and record.name == "werkzeug":
            found = _werkzeug_request(record)
        return found is None or not self.is_quiet(*found)


def _status(value: object) -> int | None:
    text = str(value)
    return int(text) if text.isdigit() else None


def _gunicorn_request(record: logging.LogRecord) -> tuple[str, int] | None:
    """The path and status of gunicorn's access-log record: its atoms ``U`` and ``s``."""
    atoms = record.args
    if not isinstance(atoms, Mapping):
        return None
    path, status = atoms.get("U"), _status(atoms.get("s"))
    return (path, status) if isinstance(path, str) and status is not None else None


def _werkzeug_request(record: logging.LogRecord) -> tuple[str, int] | None:
    """The path and status of the development server's request line: its arguments are
    the line (``GET /healthz/live?x=1 HTTP/1.1``, coloured when the terminal is), the status
    and the size."""
    arguments = record.args
    if not isinstance(arguments, tuple) or len(arguments) != 3:
        return None
    line, status = arguments[0], _status(arguments[1])
    if not isinstance(line, str) or status is None:
        return None
    parts = _ANSI_STYLE.sub("", line).split(" ")
    if len(parts) != 3:
        return None
    return parts[1].partition("?")[0], status


_FILTER = ProbeLogFilter()


def quiet_probes(path: str) -> None:
    """Keep the succeeded answers under *path* out of the servers' access logs, from now on
    in this process and in the processes it forks."""
    _FILTER.add_path(path)
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
