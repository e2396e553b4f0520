"""The ``flask-healthcheck`` command, for exec probes of containers and for Nagios.

It never imports Flask or the application: importing an app takes seconds, longer than a probe
should, and a broken import must not look like a dead process. Each subcommand's module is
imported only when it runs, so ``probe`` starts about as fast as the interpreter.

``probe URL [--timeout 3]``
    Exit ``0`` when the endpoint answers 2xx, ``1`` otherwise (see
    :mod:`~flask_healthcheck.http_probe`).
``nagios URL [--timeout 3]``
    A Monitoring Plugins plugin: OK, WARNING, CRITICAL or UNKNOWN with performance data.
``worker [...]``
    A Celery worker's probe files and ping (:mod:`~flask_healthcheck.worker_probe`).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

_COMMANDS = {
    "probe": ("flask_healthcheck.http_probe", "probe_main"),
    "nagios": ("flask_healthcheck.http_probe", "nagios_main"),
    "worker": ("flask_healthcheck.worker_probe", "worker_main"),
}

USAGE = "usage: flask-healthcheck {probe,nagios,worker} ..."


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``flask-healthcheck`` console script; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-h", "--help"):
        print(f"{USAGE}\n\n{__doc__}")
        return 0
    if not args or args[0] not in _COMMANDS:
        given = f"unknown command {args[0]!r}" if args else "a command is needed"
        print(f"{USAGE}\nflask-healthcheck: error: {given}", file=sys.stderr)
        return 2
    module, function = _COMMANDS[args[0]]
    command = getattr(importlib.import_module(module), function)
    return int(command(args[1:]))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
