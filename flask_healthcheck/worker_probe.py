"""``flask-healthcheck worker``: a Celery worker's probe files and ping, for exec probes.

It never imports Flask or the application: importing an app takes seconds, longer than a probe
should, and a broken import must not look like a dead process.

``worker``
    Checks a Celery worker from inside its container: the age of the liveness file its event
    loop touches, the readiness file it keeps while ready, and optionally a ping through the
    broker (the only part that imports Celery, through
    :func:`flask_healthcheck.contrib.celery.ping_workers`). The worker writes the files when
    the app calls :func:`flask_healthcheck.contrib.celery_worker.install_worker_probes`, which
    takes their paths from the same variables and defaults as this command.

Exit codes of ``worker`` (one line on stderr says why):

====  ===================================================================================
0     every check asked for passed
1     liveness: the liveness file is missing, not a file, or older than ``--max-age``
2     readiness: the readiness file is missing
3     ping: the broker cannot be reached, or the worker did not answer in ``--timeout``
4     usage: a bad option, nothing to check, or ``--ping`` without Celery or a broker URL
====  ===================================================================================

Checks run in that order and the first failure ends the run.
"""

from __future__ import annotations

import argparse
import enum
import os
import socket
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from .exceptions import CheckError
from .redact import mask_credentials

#: Environment variables the worker side and the worker command both read for the file paths.
LIVENESS_FILE_ENV = "HEALTHCHECK_CELERY_LIVENESS_FILE"
READINESS_FILE_ENV = "HEALTHCHECK_CELERY_READINESS_FILE"
#: Where the files are when neither an option nor the environment says.
DEFAULT_LIVENESS_FILE = Path(tempfile.gettempdir()) / "celery_worker.live"
DEFAULT_READINESS_FILE = Path(tempfile.gettempdir()) / "celery_worker.ready"
#: The worker's node name, as container images commonly pass it to ``celery worker -n``.
WORKER_NAME_ENV = "CELERY_WORKER_NAME"
#: The broker URL, when ``--broker`` is not given.
BROKER_URL_ENV = "CELERY_BROKER_URL"

DEFAULT_MAX_AGE = 120.0
DEFAULT_PING_TIMEOUT = 3.0


class ExitCode(enum.IntEnum):
    """Exit codes of ``flask-healthcheck worker``, one per kind of failure."""

    OK = 0
    NOT_LIVE = 1
    NOT_READY = 2
    PING_FAILED = 3
    USAGE = 4


def default_worker_name() -> str:
    """``$CELERY_WORKER_NAME``, else Celery's default node name ``celery@<hostname>``."""
    return os.environ.get(WORKER_NAME_ENV) or f"celery@{socket.gethostname()}"


@dataclass(frozen=True)
class ProbeFailure:
    """Why a worker probe failed, and the exit code that says which kind of failure it is."""

    code: ExitCode
    reason: str


def check_liveness_file(
    path: Path, max_age: float, now: float | None = None
) -> ProbeFailure | None:
    """Fail unless *path* is a file modified at most *max_age* seconds before *now*."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return ProbeFailure(
            ExitCode.NOT_LIVE,
            f"liveness file {path} does not exist: the worker has not started its event loop, "
            "has shut down, or writes the file elsewhere",
        )
    except OSError as exc:
        return ProbeFailure(ExitCode.NOT_LIVE, f"cannot read liveness file {path}: {exc.strerror}")
    if not path.is_file():
        return ProbeFailure(ExitCode.NOT_LIVE, f"liveness file {path} is not a file")
    age = (time.time() if now is None else now) - stat.st_mtime
    if age > max_age:
        return ProbeFailure(
            ExitCode.NOT_LIVE,
            f"liveness file {path} was last touched {age:.0f} s ago, more than the maximum "
            f"age of {max_age:g} s: the worker's event loop is blocked or has stopped",
        )
    return None


def check_readiness_file(path: Path) -> ProbeFailure | None:
    """Fail unless the readiness file *path* exists."""
    if path.is_file():
        return None
    return ProbeFailure(
        ExitCode.NOT_READY,
        f"readiness file {path} does not exist: the worker is not ready (still starting, "
        "shutting down, or failed to start)",
    )


def check_ping(broker_url: str, names: Sequence[str], timeout: float) -> ProbeFailure | None:
    """Fail unless every worker of *names* answers a ping through *broker_url* in *timeout*."""
    # Imported only here: Celery is an optional dependency that only --ping needs, and
    # importing it costs the file checks time they should not spend.
    try:
        from celery import Celery

        from .contrib.celery import ping_workers
    except ImportError as exc:
        return ProbeFailure(ExitCode.USAGE, f"--ping needs Celery: {exc}")

    app = Celery("flask-healthcheck", broker=broker_url, set_as_current=False, fixups=[])
    try:
        answered = ping_workers(app, names, timeout)
    except CheckError as exc:
        # The operator in the worker's container may see where: the broker, password masked.
        return ProbeFailure(ExitCode.PING_FAILED, exc.detail or str(exc))
    missing = [name for name in names if name not in answered]
    if missing:
        noun = "worker" if len(missing) == 1 else "workers"
        return ProbeFailure(
            ExitCode.PING_FAILED,
            f"{noun} {', '.join(missing)} did not answer a ping within {timeout:g} s through "
            f"the broker at {mask_credentials(broker_url)}",
        )
    return None


@dataclass(frozen=True)
class WorkerProbe:
    """What ``flask-healthcheck worker`` checks; a file is ``None`` when it is not checked."""

    liveness_file: Path | None = None
    max_age: float = DEFAULT_MAX_AGE
    readiness_file: Path | None = None
    broker_url: str | None = None
    worker_names: tuple[str, ...] = field(default_factory=tuple)
    ping_timeout: float = DEFAULT_PING_TIMEOUT

    @property
    def pings(self) -> bool:
        return self.broker_url is not None


def run_worker_probe(probe: WorkerProbe) -> tuple[ProbeFailure | None, list[str]]:
    """Run the checks of *probe* in order; the first failure, and what passed before it."""
    passed: list[str] = []
    if probe.liveness_file is not None:
        failure = check_liveness_file(probe.liveness_file, probe.max_age)
        if failure is not None:
            return failure, passed
        passed.append(f"liveness file {probe.liveness_file} is fresh")
    if probe.readiness_file is not None:
        failure = check_readiness_file(probe.readiness_file)
        if failure is not None:
            return failure, passed
        passed.append(f"readiness file {probe.readiness_file} exists")
    if probe.broker_url is not None:
        failure = check_ping(probe.broker_url, probe.worker_names, probe.ping_timeout)
        if failure is not None:
            return failure, passed
        passed.append(f"{', '.join(probe.worker_names)} answered a ping")
    return None, passed


# -- command line ----------------------------------------------------------------------------


class UsageError(Exception):
    """Options that cannot be run; exits with the parser's usage code."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors exit with a code each subcommand chooses.

    argparse exits with 2, which ``worker`` uses for "not ready"; a typo in a probe must not
    look like a worker that is not ready.
    """

    usage_exit_code: int = ExitCode.USAGE

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(self.usage_exit_code, f"{self.prog}: error: {message}\n")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be more than zero seconds: {text!r}")
    return value


def _switch(group: argparse._ArgumentGroup, check: str, *, on: str, off: str) -> None:
    """``--CHECK`` (also ``--no-skip-CHECK``) and ``--skip-CHECK``, setting ``options.CHECK``."""
    group.add_argument(
        f"--{check}", f"--no-skip-{check}", dest=check, action="store_const", const=True, help=on
    )
    group.add_argument(f"--skip-{check}", dest=check, action="store_const", const=False, help=off)


def _add_worker_command(commands: argparse._SubParsersAction[_Parser]) -> None:
    worker = commands.add_parser(
        "worker",
        help="check a Celery worker: its probe files, and a ping through the broker",
        description=(
            "Check a Celery worker from inside its container, without importing the app. "
            "A check runs when asked for: liveness with --liveness-file (or --liveness), "
            "readiness with --readiness-file (or --readiness), ping with --ping. "
            "--skip-* turns a check off again. Exit codes: 0 ok, 1 liveness file missing or "
            "stale, 2 readiness file missing, 3 ping failed, 4 usage error."
        ),
    )
    liveness = worker.add_argument_group("liveness (the worker's event loop touches a file)")
    liveness.add_argument(
        "--liveness-file",
        type=Path,
        metavar="FILE",
        help=f"the liveness file (default: ${LIVENESS_FILE_ENV}, else {DEFAULT_LIVENESS_FILE})",
    )
    liveness.add_argument(
        "--max-age",
        type=_seconds,
        default=DEFAULT_MAX_AGE,
        metavar="SECONDS",
        help="fail when the file is older than this; at least twice the worker's interval "
        f"(default: {DEFAULT_MAX_AGE:g})",
    )
    _switch(
        liveness,
        "liveness",
        on="check the liveness file (implied by --liveness-file)",
        off="do not check the liveness file",
    )
    readiness = worker.add_argument_group("readiness (the file exists while the worker is ready)")
    readiness.add_argument(
        "--readiness-file",
        type=Path,
        metavar="FILE",
        help=f"the readiness file (default: ${READINESS_FILE_ENV}, else {DEFAULT_READINESS_FILE})",
    )
    _switch(
        readiness,
        "readiness",
        on="check the readiness file (implied by --readiness-file)",
        off="do not check the readiness file",
    )
    ping = worker.add_argument_group("ping (a round trip through the broker; imports Celery)")
    _switch(ping, "ping", on="ping the worker through the broker", off="do not ping")
    ping.add_argument(
        "--broker", metavar="URL", help=f"the broker URL (default: ${BROKER_URL_ENV})"
    )
    ping.add_argument(
        "--worker-name",
        action="append",
        metavar="NAME",
        help=f"the worker's node name; repeat for several (default: ${WORKER_NAME_ENV}, "
        "else celery@<hostname>)",
    )
    ping.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_PING_TIMEOUT,
        metavar="SECONDS",
        help=f"how long to wait for the broker and the reply (default: {DEFAULT_PING_TIMEOUT:g})",
    )
    worker.set_defaults(handler=_worker)


def probe_file_path(given: str | os.PathLike[str] | None, variable: str, default: Path) -> Path:
    """The path of a probe file: *given*, else the environment variable *variable*, else
    *default*. The worker side and this command both find the files this way."""
    if given is not None:
        return Path(given)
    from_environment = os.environ.get(variable)
    return Path(from_environment) if from_environment else default


def worker_probe_from_options(options: argparse.Namespace) -> WorkerProbe:
    """The :class:`WorkerProbe` the parsed options ask for; UsageError when it is nothing."""
    check_liveness = (
        options.liveness if options.liveness is not None else bool(options.liveness_file)
    )
    check_readiness = (
        options.readiness if options.readiness is not None else bool(options.readiness_file)
    )
    broker_url: str | None = None
    if options.ping:
        broker_url = options.broker or os.environ.get(BROKER_URL_ENV)
        if not broker_url:
            raise UsageError(f"--ping needs --broker URL or ${BROKER_URL_ENV}")
    if not (check_liveness or check_readiness or broker_url):
        raise UsageError(
            "nothing to check: give --liveness-file, --readiness-file or --ping "
            "(or --liveness/--readiness for the default files)"
        )
    return WorkerProbe(
        liveness_file=(
            probe_file_path(options.liveness_file, LIVENESS_FILE_ENV, DEFAULT_LIVENESS_FILE)
            if check_liveness
            else None
        ),
        max_age=options.max_age,
        readiness_file=(
            probe_file_path(options.readiness_file, READINESS_FILE_ENV, DEFAULT_READINESS_FILE)
            if check_readiness
            else None
        ),
        broker_url=broker_url,
        worker_names=tuple(options.worker_name or [default_worker_name()]),
        ping_timeout=options.timeout,
    )


def _worker(options: argparse.Namespace) -> int:
    try:
        probe = worker_probe_from_options(options)
    except UsageError as exc:
        print(f"flask-healthcheck worker: error: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    failure, passed = run_worker_probe(probe)
    if failure is not None:
        print(f"flask-healthcheck worker: {failure.reason}", file=sys.stderr)
        return failure.code
    print(f"ok: {'; '.join(passed)}")
    return ExitCode.OK


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``flask-healthcheck``; each subcommand sets its ``handler``."""
    parser = _Parser(
        prog="flask-healthcheck",
        description="Health probes for containers, run without importing the Flask app.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    _add_worker_command(commands)
    return parser


def worker_main(argv: Sequence[str]) -> int:
    """``flask-healthcheck worker ...``; returns the exit code."""
    options = build_parser().parse_args(["worker", *argv])
    return int(options.handler(options))
