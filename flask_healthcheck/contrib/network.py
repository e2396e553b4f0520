"""Remote services by HTTP or TCP: an HTTP endpoint answers the expected status, a port accepts.

Only the standard library is used (:mod:`urllib.request`, :mod:`socket`), so this integration
needs no extra. Both checks bound every connect and read by the time the running check has left
(:func:`~flask_healthcheck.time_left`), so a host that accepts connections and never answers
frees the check's thread soon after the check is reported timed out.

The public sees what happened ("answered 200 in 3.1 ms", "connection refused"); the URL or the
host and port are in the detail only a request bearing the token sees.
"""

from __future__ import annotations

import base64
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Collection, Mapping
from http.client import HTTPException, IncompleteRead
from typing import IO, TYPE_CHECKING, Any

from flask_healthcheck.contrib._base import BuiltinCheck
from flask_healthcheck.contrib._outcomes import (
    answered,
    describe_connection_error,
    describe_os_error,
    failure,
    located,
)
from flask_healthcheck.redact import mask_credentials
from flask_healthcheck.results import Outcome

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from flask_healthcheck.registry import CheckOptions

__all__ = ["HttpCheck", "TcpCheck", "describe_connection_error", "same_origin"]

#: Bytes of an HTTP body read at most when looking for ``contains``.
BODY_LIMIT = 64 * 1024

#: Headers that carry credentials: never sent on to another origin by a redirect.
CREDENTIAL_HEADERS = ("Authorization", "Cookie")


def _describe_expected(expected: Collection[int]) -> str:
    if isinstance(expected, range) and expected.step == 1 and len(expected) > 1:
        return f"{expected.start}-{expected.stop - 1}"
    codes = sorted(expected)
    if len(codes) == 1:
        return str(codes[0])
    return "one of " + ", ".join(str(code) for code in codes)


def _origin(url: str) -> tuple[str, str, int | None]:
    """``(scheme, host, port)`` of *url*, the port filled in for http and https."""
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return parts.scheme.lower(), (parts.hostname or "").lower(), port or default


def same_origin(url: str, other: str) -> bool:
    """True when *url* and *other* have the same scheme, host and port (RFC 6454 origins).

    An https-to-http redirect to the same host is another origin (its scheme differs), so
    credentials are not sent over plain HTTP either.
    """
    return _origin(url) == _origin(other)


class _Redirects(urllib.request.HTTPRedirectHandler):
    """urllib's redirects, minus the credentials on a redirect to another origin.

    urllib copies every header of the request to the redirected one, ``Authorization``
    included: a redirect to another host (or from https to http) would hand it the URL's
    basic-auth credentials and any token given in ``headers=``. Like curl and requests, this
    drops the credential headers when the origin changes. With *follow* False, 3xx answers
    are handed back as they are, so they can be expected.
    """

    def __init__(self, follow: bool) -> None:
        self.follow = follow

    def redirect_request(  # noqa: PLR0917 - urllib's signature
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        if not self.follow:
            return None
        redirected = super().redirect_request(req, fp, code, msg, headers, newurl)
        if redirected is not None and not same_origin(req.full_url, redirected.full_url):
            for header in CREDENTIAL_HEADERS:
                redirected.remove_header(header)
        return redirected


class HttpCheck(BuiltinCheck):
    """An HTTP(S) endpoint answers with an expected status, within the check's time.

    ``health.add_check(HttpCheck("http://flower:5555/healthcheck", name="flower"))``.

    *expected_status* is a status code, or a collection of them (``{200, 204}``,
    ``range(200, 300)``); 4xx and 5xx answers are statuses like any other, not errors.
    *contains*, when given, must appear in the first 64 KiB of the body. Credentials in the URL
    (``https://user:password@host/``) are sent as HTTP Basic authentication and never shown.
    *headers* are added to the request. Redirects are followed unless *follow_redirects* is
    False; a redirect to another origin (another scheme, host or port, an https-to-http
    downgrade included) is followed without the ``Authorization`` and ``Cookie`` headers, as
    curl and requests do. *ssl_context* verifies HTTPS (default: the system's trust store).
    *proxies* maps a scheme to a proxy URL; ``None`` takes them from the environment
    (``HTTP_PROXY``, ``NO_PROXY``) as curl does, ``{}`` connects directly.

    The name defaults to ``http``, which says nothing of where the service is: the name is in
    public reports, URLs and metrics. A second ``HttpCheck`` needs a ``name=`` of its own
    (registering it without one raises an error saying so). The other options are those of
    :meth:`~flask_healthcheck.HealthCheck.add_check`. The observed value is the latency in ms.
    The public sees ``answered 200 in 3.1 ms`` or ``connection refused``; the token holder
    sees the method and URL (credentials masked) as well.
    """

    name = "http"

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
            _ = parts.port
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
        handlers: list[urllib.request.BaseHandler] = [_Redirects(follow=follow_redirects)]
        if proxies is not None:
            handlers.append(urllib.request.ProxyHandler(dict(proxies)))
        if ssl_context is not None:
            handlers.append(urllib.request.HTTPSHandler(context=ssl_context))
        self._opener = urllib.request.build_opener(*handlers)
        super().__init__(**options)

    def __repr__(self) -> str:
        return f"HttpCheck({self._shown_url!r}, name={self.name!r})"

    def __call__(self) -> Outcome:
        budget = self.time_left()
        request = urllib.request.Request(  # noqa: S310 - __init__ allows http(s) only
            self._request_url, method=self.method, headers=self._headers
        )
        where = f"{self.method} {self._shown_url}"
        started = time.perf_counter()
        try:
            status, body = self._fetch(request, budget)
        except (OSError, HTTPException) as exc:
            raise failure(_describe_http_error(exc, budget), where) from exc
        latency_ms = (time.perf_counter() - started) * 1000
        observed: dict[str, Any] = {"observed_value": round(latency_ms, 3), "observed_unit": "ms"}
        if status not in self._expected:
            outcome = Outcome(
                False, f"answered {status}, expected {self._expected_text}", **observed
            )
        elif self.contains is not None and self.contains not in body:
            outcome = Outcome(
                False,
                f"answered {status} but its body does not contain {self.contains!r}",
                **observed,
            )
        else:
            outcome = Outcome(True, f"answered {status} in {latency_ms:.1f} ms", **observed)
        return located(where, outcome)

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
    described = describe_connection_error(exc, budget)
    if described is not None:
        return described
    if isinstance(exc, HTTPException):
        return f"not a valid HTTP answer ({type(exc).__name__})"
    return f"request failed ({type(exc).__name__})"


class TcpCheck(BuiltinCheck):
    """A TCP port accepts a connection within the check's time; the connection is closed at once.

    ``health.add_check(TcpCheck("rabbitmq", 5672, name="rabbitmq"))``. The name defaults to
    ``tcp`` (not the host and port, which public reports must not show); a second
    ``TcpCheck`` needs a ``name=`` of its own. The other options are those of
    :meth:`~flask_healthcheck.HealthCheck.add_check`. The observed value is the connect time in
    ms. It proves that something listens, not that it answers: a hung server still passes.
    The public sees ``accepted a connection in 0.4 ms`` or ``connection refused``; the token
    holder sees the host and port as well.
    """

    name = "tcp"

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
        super().__init__(**options)

    def __repr__(self) -> str:
        return f"TcpCheck({self.host!r}, {self.port!r}, name={self.name!r})"

    def __call__(self) -> Outcome:
        budget = self.time_left()
        where = f"tcp {self.host}:{self.port}"
        started = time.perf_counter()
        try:
            connection = socket.create_connection((self.host, self.port), timeout=budget)
        except OSError as exc:
            raise failure(describe_os_error(exc, budget), where) from exc
        connection.close()
        return answered(where, "accepted a connection", started)
