"""The app ``tests/test_lifecycle.py`` serves to walk the decision matrix (docs/lifecycle.rst).

``gunicorn 'tests.apps.lifecycle_app:create_app()'`` or ``flask --app ... run`` serves it.
``HEALTHCHECK_*`` keys come from ``FLASK_HEALTHCHECK_*`` environment variables (JSON values, so
``FLASK_HEALTHCHECK_STARTUP_GATE='["ready"]'`` works). ``LIFECYCLE_CHECKS`` lists, comma
separated, what the app registers; the test flips their state through files and the services
it owns:

``ok``
    passes.
``marker``
    fails until the file ``LIFECYCLE_MARKER`` exists (the app has not finished starting).
``heartbeat``
    a thread feeds the watchdog ``worker-loop`` (``LIFECYCLE_HEARTBEAT_TIMEOUT`` seconds) every
    50 ms until the file ``LIFECYCLE_STOP`` exists: then the loop is stuck.
``database``
    :class:`~flask_healthcheck.contrib.sqlalchemy.DatabaseCheck` of
    ``LIFECYCLE_DATABASE_URL``.
``service``
    :class:`~flask_healthcheck.contrib.network.TcpCheck` of ``127.0.0.1:LIFECYCLE_SERVICE_PORT``.
``disk``
    :class:`~flask_healthcheck.contrib.system.DiskCheck` of ``LIFECYCLE_DISK_PATH``, failing from
    ``LIFECYCLE_DISK_FAIL`` percent used.
``slow``
    takes 0.5 s, with a timeout of 2 s.
``leader``
    :class:`~flask_healthcheck.contrib.network.HttpCheck` of ``LIFECYCLE_LEADER_URL`` with a
    timeout of 0.5 s.

The app's own routes: ``/name`` answers ``LIFECYCLE_NAME`` (which server this is);
``/slow?seconds=N`` holds a request for N seconds; ``/block`` holds one
until the file ``LIFECYCLE_RELEASE`` exists (30 s at most).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from flask import Flask, request

from flask_healthcheck import HealthCheck


def _wait_for(path: Path, seconds: float) -> bool:
    due = time.monotonic() + seconds
    while not path.exists():
        if time.monotonic() > due:
            return False
        time.sleep(0.05)
    return True


def _feed(health: HealthCheck, app: Flask, timeout: float, stop: Path) -> None:
    while not stop.exists():
        health.heartbeat("worker-loop", timeout, app=app)
        time.sleep(0.05)


def _register(health: HealthCheck, app: Flask, name: str) -> None:
    environ = os.environ
    if name == "ok":
        health.add_check(lambda: (True, "fine"), name="ok")
    elif name == "marker":
        marker = Path(environ["LIFECYCLE_MARKER"])

        @health.check(name="marker")
        def started() -> tuple[bool, str]:
            return (True, "started") if marker.exists() else (False, "still starting")

    elif name == "heartbeat":
        timeout = float(environ.get("LIFECYCLE_HEARTBEAT_TIMEOUT", "1"))
        health.heartbeat("worker-loop", timeout, app=app)
        threading.Thread(
            target=_feed,
            args=(health, app, timeout, Path(environ["LIFECYCLE_STOP"])),
            name="worker-loop",
            daemon=True,
        ).start()
    elif name == "database":
        import sqlalchemy

        from flask_healthcheck.contrib.sqlalchemy import DatabaseCheck

        engine = sqlalchemy.create_engine(environ["LIFECYCLE_DATABASE_URL"])
        health.add_check(DatabaseCheck(engine))
    elif name == "service":
        from flask_healthcheck.contrib.network import TcpCheck

        health.add_check(TcpCheck("127.0.0.1", int(environ["LIFECYCLE_SERVICE_PORT"])))
    elif name == "disk":
        from flask_healthcheck.contrib.system import DiskCheck

        fail = float(environ["LIFECYCLE_DISK_FAIL"])
        health.add_check(DiskCheck(environ["LIFECYCLE_DISK_PATH"], warn=None, fail=fail))
    elif name == "slow":

        @health.check(name="slow", timeout=2.0)
        def slow() -> tuple[bool, str]:
            time.sleep(0.5)
            return True, "answered in 0.5 s"

    elif name == "leader":
        from flask_healthcheck.contrib.network import HttpCheck

        url = environ["LIFECYCLE_LEADER_URL"]
        health.add_check(HttpCheck(url, name="leader", timeout=0.5, proxies={}))
    else:
        raise ValueError(f"LIFECYCLE_CHECKS names an unknown check {name!r}")


def create_app() -> Flask:
    app = Flask("lifecycle_app")
    app.config.from_prefixed_env()
    health = HealthCheck(app)
    for name in filter(None, os.environ.get("LIFECYCLE_CHECKS", "").split(",")):
        _register(health, app, name.strip())

    @app.get("/name")
    def server_name() -> str:
        return os.environ.get("LIFECYCLE_NAME", "")

    @app.get("/slow")
    def slow() -> str:
        time.sleep(min(float(request.args.get("seconds", "5")), 20.0))
        return "slept"

    @app.get("/block")
    def block() -> str:
        released = _wait_for(Path(os.environ["LIFECYCLE_RELEASE"]), 30.0)
        return "released" if released else "gave up"

    return app
