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
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .arguments import Parser, UsageError, seconds
from .contrib._celery_files import (
    DEFAULT_LIVENESS_FILE,
    DEFAULT_READINESS_FILE,
    LIVENESS_FILE_ENV,
    READINESS_FILE_ENV,
    WORKER_NAME_ENV,
    default_worker_name,
    probe_file_path,
)
from .exceptions import CheckError
from .redact import mask_credentials

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


def _switch(group: argparse._ArgumentGroup, check: str, *, on: str, off: str) -> None:
    """``--CHECK`` (also ``--no-skip-CHECK``) and ``--skip-CHECK``, setting ``options.CHECK``."""
    group.add_argument(
        f"--{check}", f"--no-skip-{check}", dest=check, action="store_const", const=True, help=on
    )
    group.add_argument(f"--skip-{check}", dest=check, action="store_const", const=False, help=off)


def worker_parser() -> Parser:
    """The parser of ``flask-healthcheck worker``."""
    worker = Parser(
        prog="flask-healthcheck worker",
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
        type=seconds,
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
        type=seconds,
        default=DEFAULT_PING_TIMEOUT,
        metavar="SECONDS",
        help=f"how long to wait for the broker and the reply (default: {DEFAULT_PING_TIMEOUT:g})",
    )
    return worker


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


def worker_main(argv: Sequence[str]) -> int:
    """``flask-healthcheck worker ...``; returns the exit code."""
    parser = worker_parser()
    try:
        options = parser.parse(argv)
        if isinstance(options, int):
            return options
        probe = worker_probe_from_options(options)
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    failure, passed = run_worker_probe(probe)
    if failure is not None:
        print(f"flask-healthcheck worker: {failure.reason}", file=sys.stderr)
        return failure.code
    print(f"ok: {'; '.join(passed)}")
    return ExitCode.OK
