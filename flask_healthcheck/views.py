"""The endpoints: parse the request, pick a report, render it in the requested format.

Views never know how a check is executed; they ask the app's state for a report.
"""

from __future__ import annotations

import hmac
import http
import json
import logging
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from flask import Blueprint, Request, Response, request
from flask.blueprints import BlueprintSetupState
from werkzeug.routing import PathConverter
from werkzeug.utils import get_content_type

from .exceptions import MissingDependencyError
from .extension import AppState
from .formats import FORMATS, Format, UnknownFormatError, choose, render_json
from .metrics import require_prometheus_client
from .registry import UnknownCheckError
from .results import Report

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

logger = logging.getLogger("flask_healthcheck")


_NO_STORE = {"Cache-Control": "no-store"}
#: The headers of a report in each format, built once: what ``mimetype=`` and ``_NO_STORE``
#: give a ``Response``, in the same order.
_REPORT_HEADERS = {
    name: (("Cache-Control", "no-store"), ("Content-Type", get_content_type(fmt.mimetype, "utf-8")))
    for name, fmt in FORMATS.items()
}
_JSON_ACCEPTS = frozenset({None, "", "*/*", "application/json"})


class _UnauthorisedError(Exception):
    pass


def _error(status: int, message: str, **headers: str) -> Response:
    body = json.dumps({"status": "failure", "error": message})
    return Response(body, status, mimetype="application/json", headers={**_NO_STORE, **headers})


def _shows_details(req: Request, token: str | None) -> bool:
    """True for a request bearing the configured token; raises for a wrong one."""
    if token is None:
        return False
    header = req.headers.get("Authorization")
    if header is None:
        return False
    scheme, _, offered = header.partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(
        # WSGI headers arrive decoded as latin-1: encoding back gives the bytes that were sent.
        offered.strip().encode("latin-1", "replace"),
        token.encode("utf-8"),
    ):
        return True
    raise _UnauthorisedError


def _format(req: Request, *, html: bool = False) -> Format:
    requested = None
    if req.query_string:  # a probe has none: don't parse what isn't there
        requested = req.args.get("format")
        if requested is None and "verbose" in req.args:
            requested = "text"
    if requested is None and req.environ.get("HTTP_ACCEPT") in _JSON_ACCEPTS:
        return FORMATS["json"]  # the common probe: skip parsing the Accept header
    return choose(requested, req.accept_mimetypes.best_match, html=html)


def _exclusions(req: Request) -> list[str]:
    if not req.query_string:
        return []
    return [name for value in req.args.getlist("exclude") for name in value.split(",") if name]


def _drop_sentry_transaction() -> None:
    if "sentry_sdk" in sys.modules:
        from .sentry import drop_current_transaction

        drop_current_transaction()


class _Endpoints:
    """The view functions of one app, bound to its state."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self.settings = state.settings

    def respond(
        self, endpoint: str, build: Callable[[list[str]], Report], *, unknown_status: int = 400
    ) -> Response:
        """Answer *endpoint* with the report *build* makes for the request's exclusions."""
        settings = self.settings
        # The request object itself: each use of Flask's ``request`` proxy looks it up again.
        req: Request = request._get_current_object()  # type: ignore[attr-defined]
        report: Report | None = None
        exclusions: list[str] = []
        try:
            if settings.sentry:
                _drop_sentry_transaction()
            show_details = _shows_details(req, settings.token)
            fmt = _format(req, html=endpoint == "report")
            exclusions = _exclusions(req)
            report = build(exclusions)
            status = settings.success_status if report.passed else settings.failed_status
            response = Response(
                fmt.render(report, show_details), status, headers=_REPORT_HEADERS[fmt.name]
            )
        except _UnauthorisedError:
            response = _error(
                401, "invalid token", **{"WWW-Authenticate": 'Bearer error="invalid_token"'}
            )
        except UnknownFormatError as exc:
            response = _error(400, str(exc))
        except UnknownCheckError as exc:
            response = _error(unknown_status, str(exc))
        except Exception:
            logger.exception("the health endpoint failed")
            response = _error(503, "the health check failed internally; see the application's log")
        self.state.record_answer(endpoint, response.status_code, report, exclusions)
        return response

    def report(self) -> Response:
        return self.respond("report", self.state.full_report)

    def live(self) -> Response:
        return self.respond("live", self.state.liveness_report)

    def ready(self) -> Response:
        return self.respond("ready", self.state.readiness_report)

    def startup(self) -> Response:
        return self.respond("startup", self.state.startup_report)

    def one_check(self, name: str) -> Response:
        return self.respond("check", lambda _: self.state.check_report(name), unknown_status=404)

    def metrics(self) -> Response:
        """Prometheus metrics, with the results brought up to date as the full report does."""
        if self.settings.sentry:
            _drop_sentry_transaction()
        if not self.settings.metrics:
            return _error(404, "metrics are turned off: HEALTHCHECK_METRICS is False")
        try:
            require_prometheus_client()
            self.state.metrics.record_report(self.state.full_report())
            body, content_type = self.state.metrics.exposition(request.headers.get("Accept"))
        except MissingDependencyError as exc:
            return _error(501, str(exc))
        except Exception:
            logger.exception("the health metrics endpoint failed")
            return _error(503, "the metrics failed internally; see the application's log")
        return Response(body, 200, content_type=content_type, headers=_NO_STORE)

    @staticmethod
    def not_found(rest: str) -> Response:
        return _error(404, f"no health endpoint at {request.path!r}")


def make_blueprint(state: AppState) -> Blueprint:
    """The blueprint of the endpoints of one app, mounted at its ``path`` setting."""
    endpoints = _Endpoints(state)
    blueprint = Blueprint("healthcheck", __name__, url_prefix=state.settings.path)
    methods = ["GET", "HEAD"]
    for rule in ("", "/"):
        blueprint.add_url_rule(rule, "report", endpoints.report, methods=methods)
    blueprint.add_url_rule("/live", "live", endpoints.live, methods=methods)
    blueprint.add_url_rule("/ready", "ready", endpoints.ready, methods=methods)
    blueprint.add_url_rule("/startup", "startup", endpoints.startup, methods=methods)
    blueprint.add_url_rule("/metrics", "metrics", endpoints.metrics, methods=methods)
    blueprint.add_url_rule("/<name>", "check", endpoints.one_check, methods=methods)
    blueprint.record_once(_add_any_path_converter)
    blueprint.add_url_rule(
        "/<healthcheck_any_path:rest>", "not_found", endpoints.not_found, methods=methods
    )
    return blueprint


class _AnyPathConverter(PathConverter):
    """Werkzeug's ``path`` converter stops at a newline; this one answers every deeper path."""

    regex = "(?s:[^/].*?)"


def _add_any_path_converter(setup: BlueprintSetupState) -> None:
    setup.app.url_map.converters.setdefault("healthcheck_any_path", _AnyPathConverter)


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
        self.path = state.settings.path + "/live"
        self._status_lines = {
            code: _status_line(code)
            for code in (state.settings.success_status, state.settings.failed_status)
        }

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if (
            environ.get("PATH_INFO") != self.path
            or environ.get("REQUEST_METHOD") not in ("GET", "HEAD")
            or environ.get("QUERY_STRING")
            or environ.get("HTTP_ACCEPT") not in _JSON_ACCEPTS
            or "HTTP_AUTHORIZATION" in environ
            or not self.state.plain_liveness
        ):
            return self.wsgi_app(environ, start_response)
        return self._answer(environ, start_response)

    def _answer(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        settings = self.state.settings
        if settings.sentry:
            _drop_sentry_transaction()
        report = self.state.liveness_report(())
        body = render_json(report, False).encode()
        code = settings.success_status if report.passed else settings.failed_status
        headers: list[tuple[str, str]] = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
        ]
        start_response(self._status_lines[code], headers)
        self.state.record_answer("live", code, report)
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]
