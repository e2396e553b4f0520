"""The ``flask-healthcheck`` command, for exec probes of containers and for Nagios.

It never imports Flask or the application: importing an app takes seconds, longer than a probe
should, and a broken import must not look like a dead process. Each subcommand's module is
imported only when it runs, so ``probe`` starts about as fast as the interpreter.

``probe URL [--timeout 3] [--token T]``
    Exit ``0`` when the endpoint answers 2xx, ``1`` otherwise (see
    :mod:`~flask_healthcheck.http_probe`).
``nagios URL|-H HOST [-p PORT] [-u PATH] [-S] [-t 3] [-w S] [-c S] [--token T]``
    A Monitoring Plugins plugin: OK, WARNING, CRITICAL or UNKNOWN with performance data.
``worker [...]``
    A Celery worker's probe files and ping (:mod:`~flask_healthcheck.worker_probe`).

Every command parses its options with :mod:`argparse`, and ``--help`` shows them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NamedTuple

from . import __version__


class _Command(NamedTuple):
    module: str
    function: str
    summary: str


_COMMANDS = {
    "probe": _Command(
        "flask_healthcheck.http_probe",
        "probe_main",
        "ask an HTTP endpoint for an exec probe: exit 0 on a 2xx answer, 1 otherwise",
    ),
    "nagios": _Command(
        "flask_healthcheck.http_probe",
        "nagios_main",
        "a Nagios plugin: OK, WARNING, CRITICAL or UNKNOWN from an endpoint's report",
    ),
    "worker": _Command(
        "flask_healthcheck.worker_probe",
        "worker_main",
        "check a Celery worker: its probe files, and a ping through the broker",
    ),
}


def _parser() -> argparse.ArgumentParser:
    """The command family, for ``--help``, ``--version`` and mistakes in the command's name."""
    parser = argparse.ArgumentParser(
        prog="flask-healthcheck",
        description=(
            "Health probes for containers and for Nagios, run without importing Flask or the app."
        ),
        epilog="Run 'flask-healthcheck COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(
        title="commands", dest="command", metavar="COMMAND", required=True
    )
    for name, command in _COMMANDS.items():
        # Each command's options are its own module's, which is imported only when it runs.
        commands.add_parser(name, help=command.summary, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``flask-healthcheck`` console script; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = _COMMANDS.get(args[0]) if args else None
    if command is None:
        parser = _parser()
        try:
            parser.parse_args(args)
        except SystemExit as exc:  # --help and --version exit 0, a mistake 2
            return exc.code if isinstance(exc.code, int) else 2
        parser.print_usage(sys.stderr)
        print("flask-healthcheck: error: the command comes first", file=sys.stderr)
        return 2
    function = getattr(importlib.import_module(command.module), command.function)
    return int(function(args[1:]))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
