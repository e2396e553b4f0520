"""The endpoints: parse the request, pick a report, render it in the requested format.

Views never know how a check is executed; they ask the app's
:class:`~flask_healthcheck.state.AppState` for a report and render it with a format of
:mod:`~flask_healthcheck.formats`. :func:`make_blueprint` mounts them under the base path.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable

from flask import Blueprint, Request, Response, request
from flask.blueprints import BlueprintSetupState
from werkzeug.routing import PathConverter
from werkzeug.utils import get_content_type

from .endpoints import Endpoint
from .exceptions import MissingDependencyError, UnknownCheckError, UnknownFormatError
from .formats import FORMATS, JSON_ACCEPTS, Format, choose
from .middleware import drop_sentry_transaction
from .page import render_fleet_html
from .results import Report
from .state import AppState

logger = logging.getLogger("flask_healthcheck")

#: The name of the blueprint of the endpoints (``url_for("healthcheck.ready")``).
BLUEPRINT_NAME = "healthcheck"


_NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
#: The headers of the HTML page beyond those of every answer: it loads nothing from anywhere,
#: and no other site may frame it (``frame-ancestors`` in a header, where browsers obey it).
_PAGE_HEADERS = (
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'none'",
    ),
    ("X-Frame-Options", "DENY"),
)


def _report_headers(refresh: int) -> dict[str, tuple[tuple[str, str], ...]]:
    """The headers of a report in each format, built once for an app: what ``mimetype=``
    and ``_NO_STORE`` give a ``Response``, in the same order, and the page's own."""
    headers = {
        name: (
            *_NO_STORE.items(),
            ("Content-Type", get_content_type(fmt.mimetype, "utf-8")),
        )
        for name, fmt in FORMATS.items()
    }
    headers["html"] += _PAGE_HEADERS
    if refresh:
        headers["html"] += (("Refresh", str(refresh)),)
    return headers


class _UnauthorisedError(Exception):
    pass


def error_response(status: int, message: str, **headers: str) -> Response:
    """A JSON error answer, ``{"status": "failure", "error": message}``, never stored."""
    body = json.dumps({"status": "failure", "error": message})
    return Response(body, status, mimetype="application/json", headers={**_NO_STORE, **headers})


def offers_token(req: Request, token: str) -> bool:
    """True when *req* has ``Authorization: Bearer <token>``, compared in constant time."""
    header = req.headers.get("Authorization")
    if header is None:
        return False
    scheme, _, offered = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        # WSGI headers arrive decoded as latin-1: encoding back gives the bytes that were sent.
        offered.strip().encode("latin-1", "replace"),
        token.encode("utf-8"),
    )


def _shows_details(req: Request, token: str | None) -> bool:
    """True for a request bearing the configured token; raises for a wrong one."""
    if token is None or "Authorization" not in req.headers:
        return False
    if offers_token(req, token):
        return True
    raise _UnauthorisedError


def _format(req: Request, *, html: bool = False) -> Format:
    requested = None
    if req.query_string:  # a probe has none: don't parse what isn't there
        requested = req.args.get("format")
        if requested is None and "verbose" in req.args:
            requested = "text"
    if requested is None and req.environ.get("HTTP_ACCEPT") in JSON_ACCEPTS:
        return FORMATS["json"]  # the common probe: skip parsing the Accept header
    return choose(requested, req.accept_mimetypes.best_match, html=html)


def _exclusions(req: Request) -> list[str]:
    if not req.query_string:
        return []
    return [name for value in req.args.getlist("exclude") for name in value.split(",") if name]


class _ExcludeOneCheckError(Exception):
    pass


class _Endpoints:
    """The view functions of one app, bound to its state."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self.settings = state.settings
        self._headers = _report_headers(state.settings.page_refresh)

    def respond(
        self, endpoint: Endpoint, build: Callable[[list[str]], Report], *, unknown_status: int = 400
    ) -> Response:
        """Answer *endpoint* with the report *build* makes for the request's exclusions."""
        settings = self.settings
        # The request object itself: each use of Flask's ``request`` proxy looks it up again.
        req: Request = request._get_current_object()  # type: ignore[attr-defined]
        report: Report | None = None
        exclusions: list[str] = []
        try:
            if settings.sentry:
                drop_sentry_transaction()
            show_details = _shows_details(req, settings.token)
            fmt = _format(req, html=endpoint is Endpoint.REPORT)
            exclusions = _exclusions(req)
            if endpoint is Endpoint.CHECK and req.query_string and "exclude" in req.args:
                raise _ExcludeOneCheckError
            report = build(exclusions)
            if fmt.name == "html":
                report = self.state.with_history(report)
            status = self.state.status_of(report)
            headers = self._headers[fmt.name] + self.state.degraded_headers(report)
            response = Response(fmt.render(report, show_details), status, headers=headers)
        except _UnauthorisedError:
            response = error_response(
                401, "invalid token", **{"WWW-Authenticate": 'Bearer error="invalid_token"'}
            )
        except _ExcludeOneCheckError:
            response = error_response(
                400,
                "?exclude= does not apply to the endpoint of one check; use it on the full "
                "report or on /live, /ready and /startup",
            )
        except UnknownFormatError as exc:
            response = error_response(400, str(exc))
        except UnknownCheckError as exc:
            response = error_response(unknown_status, str(exc))
        except Exception:
            logger.exception("the health endpoint failed")
            response = error_response(
                503, "the health check failed internally; see the application's log"
            )
        self.state.record_answer(endpoint, response.status_code, report, exclusions)
        return response

    def report(self) -> Response:
        return self.respond(Endpoint.REPORT, self.state.full_report)

    def live(self) -> Response:
        return self.respond(Endpoint.LIVE, self.state.liveness_report)

    def ready(self) -> Response:
        return self.respond(Endpoint.READY, self.state.readiness_report)

    def startup(self) -> Response:
        return self.respond(Endpoint.STARTUP, self.state.startup_report)

    def one_check(self, name: str) -> Response:
        return self.respond(
            Endpoint.CHECK, lambda _: self.state.check_report(name), unknown_status=404
        )

    def metrics(self) -> Response:
        """Prometheus metrics, with the results brought up to date as the full report does;
        the answer counts in the next scrape (``endpoint="metrics"``)."""
        response = self._scrape()
        self.state.metrics.record_scrape(response.status_code)
        return response

    def _scrape(self) -> Response:
        if self.settings.sentry:
            drop_sentry_transaction()
        if not self.settings.metrics:
            return error_response(404, "metrics are turned off: HEALTHCHECK_METRICS is False")
        try:
            body, content_type = self.state.scrape(request.headers.get("Accept"))
        except MissingDependencyError as exc:
            return error_response(501, str(exc))
        except Exception:
            logger.exception("the health metrics endpoint failed")
            return error_response(503, "the metrics failed internally; see the application's log")
        return Response(body, 200, content_type=content_type, headers=_NO_STORE)

    def fleet(self) -> Response:
        """Every server of the fleet and what each sees (``HEALTHCHECK_FLEET_URL``): the
        servers' names are the deployment's topology, so only a request bearing
        ``HEALTHCHECK_TOKEN`` sees them, as JSON or, in a browser, as a page."""
        settings = self.settings
        if settings.sentry:
            drop_sentry_transaction()
        fleet = self.state.fleet
        if fleet is None:
            return error_response(404, "the fleet view is off: HEALTHCHECK_FLEET_URL is not set")
        if settings.token is None:
            return error_response(
                403, "the fleet view needs HEALTHCHECK_TOKEN set, and sent as a bearer token"
            )
        req: Request = request._get_current_object()  # type: ignore[attr-defined]
        if not offers_token(req, settings.token):
            return error_response(
                401, "the fleet view needs the token", **{"WWW-Authenticate": "Bearer"}
            )
        try:
            fmt = _format(req, html=True)
        except UnknownFormatError as exc:
            return error_response(400, str(exc))
        document = fleet.document()
        if document is None:
            return error_response(503, "the fleet store cannot be reached")
        document = {"fleet": settings.fleet_name, **document}
        if fmt.name == "html":
            return Response(render_fleet_html(document), 200, headers=self._headers["html"])
        return Response(json.dumps(document), 200, mimetype="application/json", headers=_NO_STORE)

    def history(self) -> Response:
        """The recent runs of each check (``?check=NAME`` for some), with their flaps and
        recoveries, as JSON: statuses, times and durations, never a check's output, so it is
        as public as the report; a wrong token is refused as on the report."""
        settings = self.settings
        if settings.sentry:
            drop_sentry_transaction()
        if not settings.history_size:
            return error_response(404, "the history is off: HEALTHCHECK_HISTORY_SIZE is 0")
        req: Request = request._get_current_object()  # type: ignore[attr-defined]
        try:
            _shows_details(req, settings.token)
            if req.query_string and req.args.get("format", "json") != "json":
                return error_response(400, "the history is JSON only: ?format=json, or none")
            names = None
            if req.query_string and "check" in req.args:
                names = [
                    name for value in req.args.getlist("check") for name in value.split(",") if name
                ]
            document = self.state.history_document(names)
        except _UnauthorisedError:
            return error_response(
                401, "invalid token", **{"WWW-Authenticate": 'Bearer error="invalid_token"'}
            )
        except UnknownCheckError as exc:
            return error_response(404, str(exc))
        except Exception:
            logger.exception("the health history endpoint failed")
            return error_response(503, "the history failed internally; see the application's log")
        return Response(json.dumps(document), 200, mimetype="application/json", headers=_NO_STORE)

    @staticmethod
    def not_found(rest: str) -> Response:
        return error_response(404, f"no health endpoint at {request.path!r}")


def report_response(state: AppState) -> Response:
    """The answer of the full report to the current request, as its endpoint gives it: for
    a route of the app's own that serves the report (``view_func=health.check``)."""
    return _Endpoints(state).report()


def make_blueprint(state: AppState) -> Blueprint:
    """The blueprint of the endpoints of one app, mounted at its ``path`` setting.

    Its view names are the :class:`~flask_healthcheck.Endpoint` values
    (``url_for("healthcheck.ready")``), and ``metrics``.
    """
    endpoints = _Endpoints(state)
    blueprint = Blueprint(BLUEPRINT_NAME, __name__, url_prefix=state.settings.path)
    methods = ["GET", "HEAD"]
    add = blueprint.add_url_rule
    for rule in ("", "/"):
        add(rule, Endpoint.REPORT.value, endpoints.report, methods=methods)
    add("/live", Endpoint.LIVE.value, endpoints.live, methods=methods)
    add("/ready", Endpoint.READY.value, endpoints.ready, methods=methods)
    add("/startup", Endpoint.STARTUP.value, endpoints.startup, methods=methods)
    add("/metrics", "metrics", endpoints.metrics, methods=methods)
    add("/fleet", "fleet", endpoints.fleet, methods=methods)
    add("/history", "history", endpoints.history, methods=methods)
    add("/<name>", Endpoint.CHECK.value, endpoints.one_check, methods=methods)
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
