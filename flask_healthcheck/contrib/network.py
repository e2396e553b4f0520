"""Remote services by HTTP or TCP: an HTTP endpoint answers the expected status, a port accepts.

Only the standard library is used (:mod:`urllib.request`, :mod:`socket`), so this integration
needs no extra. Both checks bound every connect and read by the time the running check has left
(:func:`~flask_healthcheck.time_left`), so a host that accepts connections and never answers
frees the check's thread soon after the check is reported timed out.

:func:`describe_connection_error` turns the socket error behind any client library's exception
into words an operator understands; the other integrations use it too.
"""

from __future__ import annotations

import base64
import errno
import re
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Collection, Mapping
from http.client import HTTPException, IncompleteRead, RemoteDisconnected
from typing import IO, TYPE_CHECKING, Any

from flask_healthcheck.budget import time_left
from flask_healthcheck.contrib._base import BuiltinCheck
from flask_healthcheck.exceptions import CheckError
from flask_healthcheck.redact import mask_credentials
from flask_healthcheck.results import Outcome

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from flask_healthcheck.registry import CheckOptions

#: Seconds a check called outside the runner (directly, in a test or a shell) may take.
DEFAULT_TIMEOUT = 2.0
#: Bytes of an HTTP body read at most when looking for ``contains``.
BODY_LIMIT = 64 * 1024

_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.:\-]")

_ERRNO_WORDS = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset by the server",
    errno.ECONNABORTED: "connection aborted",
    errno.EPIPE: "connection closed by the server",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.EHOSTDOWN: "host is down",
    errno.EADDRNOTAVAIL: "address not available",
    errno.ETIMEDOUT: "timed out",
    errno.ENOENT: "no socket at that path",
    errno.EACCES: "permission denied",
}


def format_seconds(seconds: float) -> str:
    """``1`` for 0.9996 s, ``0.25`` for 0.25 s: a budget as an operator would write it."""
    return f"{round(seconds, 2):g}"


def describe_os_error(error: OSError) -> str:
    """Operator words for one socket-level error."""
    if isinstance(error, socket.gaierror):
        return "cannot resolve the host name"
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({error.verify_message})"
    if isinstance(error, ssl.SSLError):
        return f"TLS handshake failed ({error.reason or 'SSL error'})"
    if isinstance(error, RemoteDisconnected):
        return "the server closed the connection without answering"
    if error.errno in _ERRNO_WORDS:
        return _ERRNO_WORDS[error.errno]
    if error.errno is not None and error.errno in errno.errorcode:
        return f"cannot connect ({errno.errorcode[error.errno]})"
    return f"cannot connect ({type(error).__name__})"


def describe_connection_error(exc: BaseException) -> str | None:
    """Operator words for the socket error behind *exc*: itself, its cause or its context.

    Client libraries wrap socket errors in their own exceptions whose text may carry a host
    name, a DSN or worse; this looks through the wrapping for the :class:`OSError` and names
    it ("connection refused", "timed out", "cannot resolve the host name"). ``None`` when no
    socket error is behind *exc*.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, urllib.error.URLError) and isinstance(current.reason, OSError):
            return describe_os_error(current.reason)
        if isinstance(current, OSError) and not isinstance(current, urllib.error.URLError):
            return describe_os_error(current)
        current = current.__cause__ or current.__context__
    return None


def _check_name(kind: str, host: str, port: int) -> str:
    return _NAME_UNSAFE.sub("_", f"{kind}:{host}:{port}")


def _describe_expected(expected: Collection[int]) -> str:
    if isinstance(expected, range) and expected.step == 1 and len(expected) > 1:
        return f"{expected.start}-{expected.stop - 1}"
    codes = sorted(expected)
    if len(codes) == 1:
        return str(codes[0])
    return "one of " + ", ".join(str(code) for code in codes)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Hand 3xx answers back as they are, so they can be expected."""

    def redirect_request(  # noqa: PLR0917 - urllib's signature
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


class HttpCheck(BuiltinCheck):
    """An HTTP(S) endpoint answers with an expected status, within the check's time.

    ``health.add_check(HttpCheck("http://flower:5555/healthcheck", name="flower"))``.

    *expected_status* is a status code, or a collection of them (``{200, 204}``,
    ``range(200, 300)``); 4xx and 5xx answers are statuses like any other, not errors.
    *contains*, when given, must appear in the first 64 KiB of the body. Credentials in the URL
    (``https://user:password@host/``) are sent as HTTP Basic authentication and never shown.
    *headers* are added to the request. Redirects are followed unless *follow_redirects* is
    False. *ssl_context* verifies HTTPS (default: the system's trust store). *proxies* maps a
    scheme to a proxy URL; ``None`` takes them from the environment (``HTTP_PROXY``,
    ``NO_PROXY``) as curl does, ``{}`` connects directly.

    The name defaults to ``http:<host>:<port>``; the other options are those of
    :meth:`~flask_healthcheck.HealthCheck.add_check`. The observed value is the latency in ms.
    """

    def __init__(
        self,
        url: str,
        *,
        expected_status: int | Collection[int] = 200,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        contains: str | None = None,
        follow_redirects: bool = True,
        ssl_context: ssl.SSLContext | None = None,
        proxies: Mapping[str, str] | None = None,
        **options: Unpack[CheckOptions],
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(
                "HttpCheck needs an http:// or https:// URL with a host; "
                f"got {mask_credentials(url)!r}"
            )
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise ValueError(f"the port of {mask_credentials(url)!r} is not a number") from None
        expected = (expected_status,) if isinstance(expected_status, int) else expected_status
        if not expected or not all(
            isinstance(code, int) and 100 <= code <= 599 for code in expected
        ):
            raise ValueError(
                f"expected_status must be an HTTP status code or a collection of them; "
                f"got {expected_status!r}"
            )
        host = parts.hostname
        netloc = f"[{host}]" if ":" in host else host
        if parts.port is not None:
            netloc = f"{netloc}:{parts.port}"
        self._request_url = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
        self._shown_url = mask_credentials(url)
        self._headers = dict(headers or {})
        if parts.username is not None or parts.password is not None:
            user = urllib.parse.unquote(parts.username or "")
            password = urllib.parse.unquote(parts.password or "")
            token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            self._headers.setdefault("Authorization", f"Basic {token}")
        self._expected = expected
        self._expected_text = _describe_expected(expected)
        self.method = method.upper()
        self.contains = contains
        handlers: list[urllib.request.BaseHandler] = []
        if proxies is not None:
            handlers.append(urllib.request.ProxyHandler(dict(proxies)))
        if ssl_context is not None:
            handlers.append(urllib.request.HTTPSHandler(context=ssl_context))
        if not follow_redirects:
            handlers.append(_NoRedirects())
        self._opener = urllib.request.build_opener(*handlers)
        self.name = _check_name("http", host, port)
        super().__init__(**options)

    def __repr__(self) -> str:
        return f"HttpCheck({self._shown_url!r}, name={self.name!r})"

    def __call__(self) -> Outcome:
        budget = time_left(self.timeout if self.timeout is not None else DEFAULT_TIMEOUT)
        request = urllib.request.Request(  # noqa: S310 - __init__ allows http(s) only
            self._request_url, method=self.method, headers=self._headers
        )
        what = f"{self.method} {self._shown_url}"
        started = time.perf_counter()
        try:
            status, body = self._fetch(request, budget)
        except (OSError, HTTPException) as exc:
            raise CheckError(f"{what}: {_describe_http_error(exc, budget)}") from exc
        latency_ms = (time.perf_counter() - started) * 1000
        observed: dict[str, Any] = {"observed_value": round(latency_ms, 3), "observed_unit": "ms"}
        if status not in self._expected:
            return Outcome(
                False, f"{what} answered {status}, expected {self._expected_text}", **observed
            )
        if self.contains is not None and self.contains not in body:
            return Outcome(
                False,
                f"{what} answered {status} but its body does not contain {self.contains!r}",
                **observed,
            )
        return Outcome(True, f"{what} answered {status} in {latency_ms:.1f} ms", **observed)

    def _fetch(self, request: urllib.request.Request, budget: float) -> tuple[int, str]:
        try:
            response = self._opener.open(request, timeout=budget)
        except urllib.error.HTTPError as answer:  # a 4xx/5xx (or an unfollowed 3xx) answer
            with answer:
                return answer.code, self._read_body(answer)
        with response:
            return int(response.status), self._read_body(response)

    def _read_body(self, response: IO[bytes]) -> str:
        if self.contains is None:
            return ""
        return response.read(BODY_LIMIT).decode("utf-8", "replace")


def _describe_http_error(exc: BaseException, budget: float) -> str:
    if isinstance(exc, IncompleteRead):
        return "the answer was cut short"
    described = describe_connection_error(exc)
    if described == "timed out":
        return f"timed out after {format_seconds(budget)} s"
    if described is not None:
        return described
    if isinstance(exc, HTTPException):
        return f"not a valid HTTP answer ({type(exc).__name__})"
    return f"request failed ({type(exc).__name__})"


class TcpCheck(BuiltinCheck):
    """A TCP port accepts a connection within the check's time; the connection is closed at once.

    ``health.add_check(TcpCheck("rabbitmq", 5672))``. The name defaults to
    ``tcp:<host>:<port>``; the other options are those of
    :meth:`~flask_healthcheck.HealthCheck.add_check`. The observed value is the connect time in
    ms. It proves that something listens, not that it answers: a hung server still passes.
    """

    def __init__(
        self,
        host: str,
        port: int,
        **options: Unpack[CheckOptions],
    ) -> None:
        if not host:
            raise ValueError("TcpCheck needs a host name or address")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"port must be a number from 1 to 65535; got {port!r}")
        self.host = host
        self.port = port
        self.name = _check_name("tcp", host, port)
        super().__init__(**options)

    def __repr__(self) -> str:
        return f"TcpCheck({self.host!r}, {self.port!r}, name={self.name!r})"

    def __call__(self) -> Outcome:
        budget = time_left(self.timeout if self.timeout is not None else DEFAULT_TIMEOUT)
        where = f"tcp {self.host}:{self.port}"
        started = time.perf_counter()
        try:
            connection = socket.create_connection((self.host, self.port), timeout=budget)
        except OSError as exc:
            described = describe_os_error(exc)
            if described == "timed out":
                described = f"timed out after {format_seconds(budget)} s"
            raise CheckError(f"{where}: {described}") from exc
        connection.close()
        latency_ms = (time.perf_counter() - started) * 1000
        return Outcome(
            True,
            f"{where} accepted a connection in {latency_ms:.1f} ms",
            observed_value=round(latency_ms, 3),
            observed_unit="ms",
        )
