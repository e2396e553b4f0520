"""The WSGI middlewares ``init_app`` wraps around the app's ``wsgi_app``.

:class:`RequestTracker` counts the app's requests in flight (for the request watchdog and the
load limit); :class:`LivenessFastPath` answers the plain liveness probe before Flask routes the
request. Both see every request of the app, so each does as little as it can for the requests
that are not its own. ``init_app`` wraps the tracker first, so the fast path sits outside it
and liveness probes are never counted.
"""

from __future__ import annotations

import http
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

from .endpoints import Endpoint
from .formats import JSON_ACCEPTS, render_json
from .lifecycle import Lifecycle
from .state import AppState

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


def drop_sentry_transaction() -> None:
    """Keep the current request (a probe) out of Sentry's performance transactions.

    Only when the app has imported ``sentry_sdk``: the library never imports it itself.
    """
    if "sentry_sdk" in sys.modules:
        from .sentry import drop_current_transaction  # imports sentry_sdk

        drop_current_transaction()


class RequestTracker:
    """WSGI middleware that counts the app's requests in flight, for the watchdog and the load
    limit, from the moment the server hands one over until the app returns its response.

    A request stuck before the view (opening a session, in another extension's
    ``before_request`` hook) counts too. Requests under the health endpoints' *path* are not
    counted, nor is a streamed body once the app has returned it: a long stream is no deadlock.
    """

    def __init__(self, wsgi_app: WSGIApplication, lifecycle: Lifecycle, path: str) -> None:
        self.wsgi_app = wsgi_app
        self._lifecycle = lifecycle
        self._path = path
        self._prefix = path + "/"

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == self._path or path.startswith(self._prefix):
            return self.wsgi_app(environ, start_response)
        token = self._lifecycle.request_started()
        try:
            return self.wsgi_app(environ, start_response)
        finally:
            self._lifecycle.request_finished(token)


def _status_line(code: int) -> str:
    """``200 OK``; a code without a standard phrase (any 200-599 is allowed) as Werkzeug says it."""
    try:
        return f"{code} {http.HTTPStatus(code).phrase}"
    except ValueError:
        return f"{code} UNKNOWN"


class LivenessFastPath:
    """WSGI middleware that answers the plain liveness probe before Flask routes the request.

    A probe without a query string, ``Authorization`` header or a non-JSON ``Accept`` header,
    for an app with no check tagged ``live``, gets the same JSON body the view would build,
    without a request context, URL matching or the app's ``before_request`` hooks, so a hook
    that opens a database session or demands a login can neither fail nor slow it. Every other
    request goes to the app unchanged.
    """

    def __init__(self, wsgi_app: WSGIApplication, state: AppState) -> None:
        self.wsgi_app = wsgi_app
        self.state = state
        self.path = f"{state.settings.path}/{Endpoint.LIVE.value}"
        settings = state.settings
        #: Whether a degraded answer differs from a passing one (a status, Envoy's header):
        #: when not, the fast path stays as short as it can be.
        self._signals_degraded = settings.degraded_status is not None or settings.envoy_degraded
        self._status_lines = {
            code: _status_line(code)
            for code in (settings.success_status, settings.failed_status, settings.degraded_status)
            if code is not None
        }

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if (
            environ.get("PATH_INFO") != self.path
            or environ.get("REQUEST_METHOD") not in ("GET", "HEAD")
            or environ.get("QUERY_STRING")
            or environ.get("HTTP_ACCEPT") not in JSON_ACCEPTS
            or "HTTP_AUTHORIZATION" in environ
            or not self.state.plain_liveness
        ):
            return self.wsgi_app(environ, start_response)
        return self._answer(environ, start_response)

    def _answer(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        settings = self.state.settings
        if settings.sentry:
            drop_sentry_transaction()
        report = self.state.liveness_report(())
        body = render_json(report, False).encode()
        headers: list[tuple[str, str]] = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
        ]
        if self._signals_degraded:
            code = self.state.status_of(report)
            headers += self.state.degraded_headers(report)
        else:
            code = settings.success_status if report.passed else settings.failed_status
        start_response(self._status_lines[code], headers)
        self.state.record_answer(Endpoint.LIVE, code, report)
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]
