"""What the built-in checks say: publicly, the kind of result; to the token holder, also where.

The public may see what happened ("answered in 1.2 ms", "connection refused", "timed out after
2 s"), never where: host names, ports, database names, file paths and user names are internal
topology, and go into the detail that only a request bearing the token sees
(:class:`~flask_healthcheck.CheckError`'s and :class:`~flask_healthcheck.Outcome`'s
``detail``). A reason reads ``kind (explanation)``: ``connection refused (is the server
running?)``; the public sees the kind, the token holder ``where: kind (explanation)``.

Client libraries (urllib, redis-py, kombu, the database drivers) wrap the socket or file error
they met in exceptions of their own whose text may carry a host name, a DSN or worse. The
built-in checks never show that text: they look through the wrapping for the :class:`OSError`
and name it ("connection refused", "timed out", "permission denied").
"""

from __future__ import annotations

import dataclasses
import errno
import socket
import ssl
import time
import urllib.error
from collections.abc import Iterator
from http.client import RemoteDisconnected

from flask_healthcheck.exceptions import CheckError
from flask_healthcheck.results import Outcome

#: Operator words for the errno values the built-in checks meet, on sockets and on files.
ERRNO_WORDS: dict[int, str] = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset by the server",
    errno.ECONNABORTED: "connection aborted",
    errno.EPIPE: "connection closed by the server",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.EHOSTDOWN: "host is down",
    errno.EADDRNOTAVAIL: "address not available",
    errno.ETIMEDOUT: "timed out",
    errno.ENOENT: "no such file or directory",
    errno.ENOTDIR: "not a directory",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "read-only file system",
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EIO: "input/output error",
    errno.ESTALE: "stale file handle (the network file system lost it)",
    errno.ENOTCONN: "not connected",
}

#: The word for every timeout, whichever layer noticed it.
TIMED_OUT = "timed out"


def format_seconds(seconds: float) -> str:
    """``1`` for 0.9996 s, ``0.25`` for 0.25 s: a budget as an operator would write it."""
    return f"{round(seconds, 2):g}"


def timed_out_after(seconds: float) -> str:
    """``timed out after 0.5 s``."""
    return f"{TIMED_OUT} after {format_seconds(seconds)} s"


def causes(exc: BaseException) -> Iterator[BaseException]:
    """*exc* and the exceptions behind it (``__cause__``, else ``__context__``), each once."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def describe_os_error(error: OSError, budget: float | None = None) -> str:
    """Operator words for one socket-level or file error; a timeout says after how long when
    the *budget* the client was given is known."""
    if isinstance(error, socket.gaierror):
        return "cannot resolve the host name"
    if isinstance(error, TimeoutError) or error.errno == errno.ETIMEDOUT:
        return TIMED_OUT if budget is None else timed_out_after(budget)
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({error.verify_message})"
    if isinstance(error, ssl.SSLError):
        return f"TLS handshake failed ({error.reason or 'SSL error'})"
    if isinstance(error, RemoteDisconnected):
        return "the server closed the connection without answering"
    if error.errno in ERRNO_WORDS:
        return ERRNO_WORDS[error.errno]
    if isinstance(error, FileNotFoundError):
        return ERRNO_WORDS[errno.ENOENT]
    if isinstance(error, PermissionError):
        return ERRNO_WORDS[errno.EACCES]
    if error.errno is not None and error.errno in errno.errorcode:
        return f"failed ({errno.errorcode[error.errno]})"
    return f"failed ({type(error).__name__})"


def describe_connection_error(exc: BaseException, budget: float | None = None) -> str | None:
    """Operator words for the socket error behind *exc*: itself, its cause or its context
    (see ``describe_os_error`` for *budget*). ``None`` when no socket error is behind *exc*.
    """
    for cause in causes(exc):
        if isinstance(cause, urllib.error.URLError):
            if isinstance(cause.reason, OSError):
                return describe_os_error(cause.reason, budget)
            continue
        if isinstance(cause, OSError):
            return describe_os_error(cause, budget)
    return None


def kind_of(reason: str) -> str:
    """The public part of a reason: ``connection refused`` of ``connection refused (...)``."""
    return reason.partition(" (")[0]


def failure(reason: str, where: str) -> CheckError:
    """A :class:`~flask_healthcheck.CheckError` that says the kind of *reason* publicly, and
    ``where: reason`` to the token holder."""
    return CheckError(kind_of(reason), detail=f"{where}: {reason}")


def located(where: str, outcome: Outcome) -> Outcome:
    """*outcome*, whose detail (the token holder's view) says *where* its output comes from."""
    return dataclasses.replace(outcome, detail=f"{where}: {outcome.output}")


def answered(where: str, what: str, started: float) -> Outcome:
    """A pass: *what* was done ``in 1.2 ms`` since *started* (``time.perf_counter()``), the
    latency in ms as its observed value, and *where* for the token holder."""
    latency_ms = (time.perf_counter() - started) * 1000
    return located(
        where,
        Outcome(
            True,
            f"{what} in {latency_ms:.1f} ms",
            observed_value=round(latency_ms, 3),
            observed_unit="ms",
        ),
    )
