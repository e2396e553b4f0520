"""An app whose readiness check never returns, for ``tests/test_gunicorn.py``.

``gunicorn 'tests.apps.hung:create_app()'`` serves it. ``/stats`` tells the test what happened in
the worker that answers: how often the hung check was called, the worker's thread count, and
whether anything touched SIGALRM since the app was loaded (the library must not).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from typing import Any

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue

from flask_healthcheck import HealthCheck

_alarm_uses: list[str] = []
_check_calls: list[int] = []
_never = threading.Event()


def _watch_sigalrm() -> None:
    """Record every use of SIGALRM from now on in this worker process."""

    def recording(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if name != "signal" or args[:1] == (signal.SIGALRM,):
                _alarm_uses.append(name)
            return original(*args, **kwargs)

        return wrapper

    signal.alarm = recording("alarm", signal.alarm)
    signal.setitimer = recording("setitimer", signal.setitimer)
    signal.signal = recording("signal", signal.signal)


def create_app() -> Flask:
    _watch_sigalrm()
    app = Flask(__name__)
    app.config.update(
        HEALTHCHECK_TIMEOUT=float(os.environ.get("HUNG_TIMEOUT", "0.5")),
        HEALTHCHECK_DEADLINE=float(os.environ.get("HUNG_DEADLINE", "1.0")),
        HEALTHCHECK_FAILED_TTL=0,
    )
    health = HealthCheck(app)

    @health.check
    def database() -> tuple[bool, str]:
        _check_calls.append(1)
        _never.wait()  # never set: the check hangs forever
        return True, "never seen"

    @app.get("/stats")
    def stats() -> ResponseReturnValue:
        return jsonify(
            pid=os.getpid(),
            check_calls=len(_check_calls),
            threads=threading.active_count(),
            alarm_uses=_alarm_uses,
            itimer=list(signal.getitimer(signal.ITIMER_REAL)),
            sigalrm_default=signal.getsignal(signal.SIGALRM) == signal.SIG_DFL,
        )

    return app
