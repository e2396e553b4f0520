"""The command line of the console commands (``probe``, ``nagios``, ``worker``): one way to
parse it.

Each command parses with :class:`Parser`, whose usage errors raise :class:`UsageError` so the
command reports them in its own words and with its own exit code (``probe`` exits 1, ``nagios``
prints an UNKNOWN line and exits 3, ``worker`` exits 4), rather than argparse's exit 2, which
would read as "not ready" to some of them. Free of Flask, like every module the console imports.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import NoReturn

from .exceptions import HealthCheckError


class UsageError(HealthCheckError):
    """Options that cannot be run; the command says why and exits with its usage code."""


class _Formatter(argparse.HelpFormatter):
    """argparse's help layout, with the terminal's width found without importing shutil.

    argparse makes a formatter for every option it adds, and the default one imports shutil
    for :func:`shutil.get_terminal_size`: 2 ms of a cold start that prints no help.
    """

    def __init__(self, prog: str) -> None:
        try:
            columns = int(os.environ["COLUMNS"])
        except (KeyError, ValueError):
            try:
                columns = os.get_terminal_size().columns  # of the standard output
            except (ValueError, OSError):
                columns = 80
        super().__init__(prog, width=max(columns - 2, 20))


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors raise :class:`UsageError`."""

    def __init__(self, prog: str, description: str) -> None:
        super().__init__(prog=prog, description=description, formatter_class=_Formatter)

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)

    def parse(self, argv: Sequence[str]) -> argparse.Namespace | int:
        """The options, or the exit code of ``--help`` and ``--version`` (which argparse
        has printed); raises :class:`UsageError` for options that cannot be run."""
        try:
            return self.parse_args(argv)
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else 0


def seconds(text: str) -> float:
    """An argument type: a finite number of seconds, more than zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be more than zero seconds: {text!r}")
    return value
