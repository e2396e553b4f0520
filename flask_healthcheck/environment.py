"""The environment dump: the Runscope library's ``EnvironmentDump``, for the token holder only.

It answers a JSON object of sections: the operating system, Python and its installed packages,
the app's configuration and the process, and sections of the app's own
(:meth:`EnvironmentDump.add_section`). What it shows is what an attacker looks for first, so,
unlike Runscope's, it answers only a request bearing ``HEALTHCHECK_TOKEN``
(``Authorization: Bearer <token>``), ``403`` saying how to turn it on while no token is set and
``401`` to any other request; it masks every value, a config key or mapping key whose name says
it is secret (:func:`~flask_healthcheck.redact.is_secret_name`: ``SECRET_KEY``,
``MAIL_PASSWORD``) as ``***`` and every string through
:func:`~flask_healthcheck.redact.mask_credentials` (the password of
``SQLALCHEMY_DATABASE_URI``); and it leaves the process's environment variables out unless
asked (``include_environ=True``), since an environment holds secrets under names no rule knows.
"""

from __future__ import annotations

import getpass
import importlib.metadata
import json
import logging
import os
import platform
import sys
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, Request, Response, current_app, request

from .config import Settings, validate_setting
from .redact import mask_structure
from .views import error_response, offers_token

logger = logging.getLogger("flask_healthcheck")

#: The endpoint of the dump's route, when :class:`EnvironmentDump` registers it.
ENDPOINT = "healthcheck_environment"

Section = Callable[[], Any]


def _jsonable(value: object, depth: int = 0) -> object:
    """*value* as JSON can hold it: mappings, sequences and scalars as they are, any other
    object as its ``str()``, and nothing deeper than 8 levels."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if depth >= 8:
        return "..."
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [_jsonable(item, depth + 1) for item in items]
    return str(value)


def os_section() -> dict[str, Any]:
    """The operating system: platform, name and ``uname``."""
    return {"platform": sys.platform, "name": os.name, "uname": platform.uname()._asdict()}


def python_section() -> dict[str, Any]:
    """Python: its version, executable, path and installed distributions."""
    info = sys.version_info
    packages = {
        distribution.metadata["Name"]: distribution.version
        for distribution in importlib.metadata.distributions()
        if distribution.metadata["Name"]
    }
    return {
        "version": sys.version,
        "executable": sys.executable,
        "pythonpath": sys.path,
        "version_info": {
            "major": info.major,
            "minor": info.minor,
            "micro": info.micro,
            "releaselevel": info.releaselevel,
            "serial": info.serial,
        },
        "packages": dict(sorted(packages.items(), key=lambda item: item[0].lower())),
    }


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return str(os.geteuid()) if hasattr(os, "geteuid") else "unknown"


def process_section(*, include_environ: bool = False) -> dict[str, Any]:
    """The process: ``argv``, working directory, user and pid; its environment variables
    only with *include_environ*."""
    section: dict[str, Any] = {
        "argv": sys.argv,
        "cwd": os.getcwd(),
        "user": _user(),
        "pid": os.getpid(),
    }
    if include_environ:
        section["environ"] = dict(sorted(os.environ.items()))
    return section


def config_section() -> dict[str, Any]:
    """The current app's configuration, key by key."""
    config = current_app.config
    return {key: config[key] for key in sorted(config, key=str)}


class EnvironmentDump:
    """Serve the environment of the app at *path*, as the Runscope library's class of that
    name, to the holder of ``HEALTHCHECK_TOKEN`` only, with every value masked.

    ``EnvironmentDump(app, "/environment")`` registers the route at once;
    ``EnvironmentDump()`` then :meth:`init_app` suits app factories. Without a *path* no route
    is registered, and ``app.add_url_rule("/environment", view_func=envdump.dump_environment)``
    routes it, as with Runscope's. The *include_* flags choose the built-in sections;
    *include_environ* adds the process's environment variables to the ``process`` section
    (off by default: names no rule knows hold secrets there too).
    """

    def __init__(
        self,
        app: Flask | None = None,
        path: str | None = None,
        *,
        include_os: bool = True,
        include_python: bool = True,
        include_config: bool = True,
        include_process: bool = True,
        include_environ: bool = False,
    ) -> None:
        self._path = None if path is None else validate_setting("path", path, "path")
        self._sections: dict[str, Section | object] = {}
        if include_os:
            self._sections["os"] = os_section
        if include_python:
            self._sections["python"] = python_section
        if include_config:
            self._sections["config"] = config_section
        if include_process:
            self._sections["process"] = lambda: process_section(include_environ=include_environ)
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, path: str | None = None) -> None:
        """Register the dump's route on *app* at *path* (or the constructor's), if either is
        given. Raises :class:`~flask_healthcheck.ConfigurationError` for a bad path or a bad
        ``HEALTHCHECK_TOKEN``, and before changing the app if the route would clash."""
        get_current_object = getattr(app, "_get_current_object", None)
        if get_current_object is not None:  # Flask's current_app, as Runscope's docs used it
            app = get_current_object()
        path = self._path if path is None else validate_setting("path", path, "path")
        key = Settings.key("token")
        if key in app.config:
            validate_setting("token", app.config[key])
        if path is None:
            return
        if ENDPOINT in app.view_functions:
            raise ValueError(
                f"the app already has an endpoint {ENDPOINT!r}: one EnvironmentDump per app"
            )
        app.add_url_rule(
            path, ENDPOINT, self.dump_environment, methods=["GET", "HEAD"], strict_slashes=False
        )

    def add_section(self, name: str, func: Section | object) -> None:
        """Add section *name*: what *func* returns on each request (mappings, sequences and
        scalars as JSON, anything else as text, all masked), or *func* itself if it is not
        callable. Raises ``ValueError`` when the name is taken."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"a section's name must be a non-empty string; got {name!r}")
        if name in self._sections:
            raise ValueError(
                f"the environment dump already has a section named {name!r}; pick another name"
            )
        self._sections[name] = func

    def sections(self) -> dict[str, Any]:
        """The dump of the current app, as the endpoint serves it: each section, masked."""
        dump: dict[str, Any] = {}
        for name, func in self._sections.items():
            try:
                value = func() if callable(func) else func
            except Exception as exc:
                logger.exception("section %r of the environment dump failed", name)
                value = {"error": f"raised {type(exc).__name__}: {exc}"}
            dump[name] = mask_structure(_jsonable(value))
        return dump

    def dump_environment(self) -> Response:
        """The view: the dump as JSON for the token holder; ``403`` while no token is set,
        ``401`` without the token."""
        refusal = _refusal(request, current_app.config.get(Settings.key("token")))
        if refusal is not None:
            return refusal
        return Response(
            json.dumps(self.sections()),
            200,
            mimetype="application/json",
            headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
        )


def _refusal(req: Request, token: object) -> Response | None:
    """The answer to a request that may not see the dump, or None for the token holder."""
    if not isinstance(token, str) or not token:
        return error_response(
            403,
            "the environment dump is off until HEALTHCHECK_TOKEN is set; then send "
            "'Authorization: Bearer <token>'",
        )
    if not offers_token(req, token):
        return error_response(
            401,
            "the environment dump needs 'Authorization: Bearer <HEALTHCHECK_TOKEN>'",
            **{"WWW-Authenticate": 'Bearer realm="environment"'},
        )
    return None
