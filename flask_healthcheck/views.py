"""The endpoints: parse the request, pick a report, render it in the requested format.

Views never know how a check is executed; they ask the app's state for a report.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable

from flask import Blueprint, Flask, Response, current_app, request

from .config import Settings
from .extension import EXTENSION_KEY, AppState
from .formats import UnknownFormatError, choose
from .registry import UnknownCheckError
from .results import Report

logger = logging.getLogger("flask_healthcheck")


class _UnauthorisedError(Exception):
    pass


def _state() -> AppState:
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    return app.extensions[EXTENSION_KEY].state(app)  # type: ignore[no-any-return]


def _error(status: int, message: str, **headers: str) -> Response:
    body = json.dumps({"status": "failure", "error": message})
    return Response(body, status, mimetype="application/json", headers=headers)


def _shows_details(token: str | None) -> bool:
    """True for a request bearing the configured token; raises for a wrong one."""
    if token is None:
        return False
    header = request.headers.get("Authorization")
    if header is None:
        return False
    scheme, _, offered = header.partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(
        offered.strip().encode("utf-8", "surrogateescape"), token.encode("utf-8")
    ):
        return True
    raise _UnauthorisedError


def _exclusions() -> list[str]:
    return [name for value in request.args.getlist("exclude") for name in value.split(",") if name]


def _respond(build: Callable[[AppState], Report], *, unknown_status: int) -> Response:
    try:
        state = _state()
        settings = state.settings
        show_details = _shows_details(settings.token)
        requested = request.args.get("format")
        if requested is None and "verbose" in request.args:
            requested = "text"
        fmt = choose(requested, request.accept_mimetypes.best_match)
        report = build(state)
        status = settings.success_status if report.passed else settings.failed_status
        body = fmt.render(report, show_details)
    except _UnauthorisedError:
        return _error(401, "invalid token", **{"WWW-Authenticate": 'Bearer error="invalid_token"'})
    except UnknownFormatError as exc:
        return _error(400, str(exc))
    except UnknownCheckError as exc:
        return _error(unknown_status, str(exc))
    except Exception:
        logger.exception("the health endpoint failed")
        return _error(503, "the health check failed internally; see the application's log")
    return Response(body, status, mimetype=fmt.mimetype)


def _report() -> Response:
    return _respond(lambda state: state.full_report(_exclusions()), unknown_status=400)


def _live() -> Response:
    return _respond(lambda state: state.liveness_report(_exclusions()), unknown_status=400)


def _ready() -> Response:
    return _respond(lambda state: state.readiness_report(_exclusions()), unknown_status=400)


def _startup() -> Response:
    return _respond(lambda state: state.startup_report(_exclusions()), unknown_status=400)


def _one_check(name: str) -> Response:
    return _respond(lambda state: state.check_report(name), unknown_status=404)


def _not_found(rest: str) -> Response:
    return _error(404, f"no health endpoint at {request.path!r}")


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _drop_sentry_transaction() -> None:
    import sys

    if "sentry_sdk" in sys.modules:
        from .sentry import drop_current_transaction

        drop_current_transaction()


def make_blueprint(settings: Settings) -> Blueprint:
    """The blueprint of the endpoints, mounted at ``settings.path``."""
    blueprint = Blueprint("healthcheck", __name__, url_prefix=settings.path)
    methods = ["GET", "HEAD"]
    for rule in ("", "/"):
        blueprint.add_url_rule(rule, "report", _report, methods=methods, strict_slashes=False)
    blueprint.add_url_rule("/live", "live", _live, methods=methods)
    blueprint.add_url_rule("/ready", "ready", _ready, methods=methods)
    blueprint.add_url_rule("/startup", "startup", _startup, methods=methods)
    blueprint.add_url_rule("/<name>", "check", _one_check, methods=methods)
    blueprint.add_url_rule("/<path:rest>", "not_found", _not_found, methods=methods)
    blueprint.after_request(_no_store)
    if settings.sentry:
        blueprint.before_request(_drop_sentry_transaction)
    return blueprint
