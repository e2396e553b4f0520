"""The Flask extension: registration of checks, listeners, and the wiring of each app's parts.

:class:`HealthCheck` keeps the checks and listeners, which every app it serves shares; for
each app, :meth:`~HealthCheck.init_app` builds an :class:`~flask_healthcheck.state.AppState`
from the app's settings and mounts the views, the WSGI middlewares and the probe port on it.
Nothing below this module looks the extension up: each part is handed what it needs here.
"""

from __future__ import annotations

import logging
import sys
import threading
import weakref
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload

from flask import Flask, current_app, has_app_context

from . import probe_port
from .availability import Availability
from .clock import SYSTEM_CLOCK, Clock
from .config import Settings
from .events import AnswerListener, ChangeListener, Events
from .lifecycle import Lifecycle
from .metrics import HealthMetrics
from .middleware import LivenessFastPath, RequestTracker
from .registry import CheckOptions, CheckSpec, Registry, make_spec
from .results import Report
from .runner import Runner, Transition
from .scheduler import Scheduler
from .state import AppState
from .views import make_blueprint

if TYPE_CHECKING:
    from typing_extensions import Unpack

CheckT = TypeVar("CheckT", bound=Callable[..., Any])

#: The key of the extension in ``app.extensions``.
EXTENSION_KEY = "healthcheck"

logger = logging.getLogger("flask_healthcheck")


def _report_to_sentry(transition: Transition) -> None:
    # sentry_sdk is only consulted when the app has imported it: the core never imports it.
    if "sentry_sdk" in sys.modules:
        from . import sentry  # imports sentry_sdk

        sentry.report_transition(transition)


def _unproxied(app: Flask) -> Flask:
    """The app itself when given Flask's ``current_app`` proxy, as the Runscope healthcheck
    library's ``HealthCheck(current_app, path)`` does.

    A proxy cannot be weakly referenced, and would stand for whichever app is current later.
    """
    get_current_object = getattr(app, "_get_current_object", None)
    return app if get_current_object is None else cast(Flask, get_current_object())


class HealthCheck:
    """Health checks for one or more Flask apps.

    ``HealthCheck(app, "/health-check")`` registers the endpoints on *app* at once, as the
    Runscope ``healthcheck`` library did; ``HealthCheck()`` then :meth:`init_app` suits app
    factories. *options* are the lower-case names of the ``HEALTHCHECK_*`` keys (``timeout=``
    is ``HEALTHCHECK_TIMEOUT``); they are defaults that a value in ``app.config`` overrides.

    *clock* is where every part of the extension reads the time and waits: the real clock
    unless a test gives a :class:`~flask_healthcheck.clock.ManualClock`, whose time moves only
    when the test moves it, so TTLs, failure tolerance and staleness can be tested without
    sleeping.
    """

    def __init__(
        self,
        app: Flask | None = None,
        path: str | None = None,
        *,
        clock: Clock = SYSTEM_CLOCK,
        **options: Any,
    ) -> None:
        unknown = set(options) - Settings.option_names()
        if unknown:
            raise TypeError(
                f"unknown option(s) {', '.join(sorted(unknown))}; the options are "
                f"{', '.join(sorted(Settings.option_names()))}"
            )
        if path is not None:
            options["path"] = path
        self._options = options
        self._clock = clock
        self._registry = Registry()
        self._change_listeners: list[ChangeListener] = []
        self._answer_listeners: list[AnswerListener] = []
        self._states: weakref.WeakKeyDictionary[Flask, AppState] = weakref.WeakKeyDictionary()
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, path: str | None = None) -> None:
        """Validate the app's ``HEALTHCHECK_*`` keys and register the endpoints on it.

        Raises :class:`~flask_healthcheck.ConfigurationError` naming a key with a bad value, and
        ``RuntimeError`` if the app already has a ``HealthCheck``.
        """
        app = _unproxied(app)
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError(
                "this Flask app already has a HealthCheck registered; use that instance "
                f"(app.extensions[{EXTENSION_KEY!r}]) to add checks instead of creating another"
            )
        defaults = dict(self._options)
        if path is not None:
            defaults["path"] = path
        settings = Settings.from_config(app.config, defaults)
        runner = Runner(settings, clock=self._clock)
        events = Events(self._change_listeners, self._answer_listeners)
        scheduler = Scheduler(runner, lambda: self._registry)
        availability = Availability(self._clock)
        lifecycle = Lifecycle(settings, availability, self._clock)
        state = AppState(
            settings, self._registry, runner, availability, events, scheduler, lifecycle
        )
        runner.add_listener(state.record_result)
        if settings.sentry:
            runner.add_listener(_report_to_sentry)
        self._states[app] = state
        app.extensions[EXTENSION_KEY] = self
        if self._registry.has_background:
            state.start_background(app)
        app.register_blueprint(make_blueprint(state))
        if lifecycle.tracks_requests:
            app.wsgi_app = RequestTracker(  # type: ignore[method-assign]
                app.wsgi_app, lifecycle, settings.path
            )
        app.wsgi_app = LivenessFastPath(app.wsgi_app, state)  # type: ignore[method-assign]
        if settings.drain_seconds:
            if threading.current_thread() is threading.main_thread():
                lifecycle.install_drain_handler()
            else:
                logger.warning(
                    "HEALTHCHECK_DRAIN_SECONDS is set but init_app ran outside the main thread, "
                    "where no signal handler can be installed: call "
                    "health.install_drain_handler() from the main thread (with gunicorn "
                    "--preload, from its post_worker_init hook)"
                )
        if settings.probe_port is not None:
            probe_port.start_at_init(app, settings)

    def _resolve(self, app: Flask | None) -> Flask:
        if app is not None:
            app = _unproxied(app)
        elif has_app_context():
            app = current_app._get_current_object()  # type: ignore[attr-defined]
        if app is None:
            apps = list(self._states)
            if len(apps) != 1:
                raise RuntimeError(
                    "no app given and no app context: pass app=, or call this inside "
                    "'with app.app_context():'"
                )
            app = apps[0]
        if app not in self._states:
            raise RuntimeError(
                "this HealthCheck is not initialised on that app; call init_app(app) first"
            )
        return app

    def state(self, app: Flask | None = None) -> AppState:
        """The health service of *app* (:class:`~flask_healthcheck.state.AppState`): its
        settings and report methods. By default the current app, or the only app initialised.

        ``health.state(app).startup_report()`` in a gunicorn ``post_fork`` hook, for example,
        starts a worker's checks before its first probe.
        """
        return self._states[self._resolve(app)]

    def metrics(self, app: Flask | None = None) -> HealthMetrics:
        """The Prometheus metrics of *app*: ``health.metrics(app).register(REGISTRY)``.

        See :class:`~flask_healthcheck.metrics.HealthMetrics`; by default the current app.
        """
        return self.state(app).metrics

    # -- registering checks ---------------------------------------------------------------

    def add_check(self, func: Callable[[], Any], **options: Unpack[CheckOptions]) -> CheckSpec:
        """Register *func*, which returns ``(bool, message)``, and may be ``async def``.

        Options: *name* (default: the function's name); *tags* (default ``("ready",)``);
        *critical* (default True; a failing non-critical check degrades the report but keeps
        it passing); *timeout*, *success_ttl*, *failed_ttl* (default: the app's settings);
        *period* (run in the background every *period* seconds; requests never wait for it);
        *max_age* (a result older than this is stale and fails); *fail_after*,
        *fail_after_seconds* and *recover_after* (failure tolerance). Raises ``ValueError``
        for a name already taken or reserved by an endpoint, or a bad option value.
        """
        spec = make_spec(func, **options)
        self._registry.add(spec)
        if spec.period is not None:
            for app, state in list(self._states.items()):
                state.start_background(app)
        return spec

    @overload
    def check(self, func: CheckT, /) -> CheckT: ...

    @overload
    def check(
        self, func: None = None, /, **options: Unpack[CheckOptions]
    ) -> Callable[[CheckT], CheckT]: ...

    def check(
        self, func: CheckT | None = None, /, **options: Unpack[CheckOptions]
    ) -> CheckT | Callable[[CheckT], CheckT]:
        """Decorator form of :meth:`add_check`: ``@health.check`` or ``@health.check(name=...)``.

        The function is returned unchanged.
        """

        def register(inner: CheckT) -> CheckT:
            self.add_check(inner, **options)
            return inner

        return register if func is None else register(func)

    @property
    def checks(self) -> list[CheckSpec]:
        """The registered checks, in registration order."""
        return list(self._registry)

    # -- listeners -------------------------------------------------------------------------

    def on_change(self, listener: ChangeListener) -> ChangeListener:
        """Call *listener* with a :class:`~flask_healthcheck.StatusChange` whenever a check or
        endpoint changes.

        Usable as a decorator. Called on transitions only, never once per request; the
        change is logged too (``INFO`` on recovery, ``WARNING`` on failure).
        """
        self._change_listeners.append(listener)
        return listener

    def on_answer(self, listener: AnswerListener) -> AnswerListener:
        """Call *listener* with ``(endpoint, status_code)`` for every answer of an endpoint.

        *endpoint* is an :class:`~flask_healthcheck.Endpoint` (a ``str``: ``"ready"``). Usable
        as a decorator.
        """
        self._answer_listeners.append(listener)
        return listener

    # -- the app's life in its process -----------------------------------------------------

    def heartbeat(self, name: str, timeout: float = 30.0, app: Flask | None = None) -> None:
        """Feed the watchdog *name*: liveness fails if it is not fed again within *timeout*.

        Call it from a loop the app must keep turning (a consumer, a scheduler); the first
        call creates the watchdog. A heartbeat that stops is the deadlock row of the
        decision matrix: liveness and readiness fail, and the pod is restarted.
        """
        self.state(app).lifecycle.heartbeat(name, timeout)

    def install_drain_handler(self, app: Flask | None = None) -> None:
        """Install the SIGTERM drain handler (``HEALTHCHECK_DRAIN_SECONDS``) now.

        ``init_app`` does this itself when it runs in the main thread. With gunicorn
        ``--preload`` the app is loaded in the master, whose handlers the workers replace;
        call this from gunicorn's ``post_worker_init(worker)`` hook instead.
        """
        lifecycle = self.state(app).lifecycle
        lifecycle.install_drain_handler()

    def serve_probe_port(self, app: Flask | None = None) -> probe_port.ProbeServer:
        """Serve the probe port (``HEALTHCHECK_PROBE_PORT``) of *app* now, in this process.

        ``init_app`` starts it where the process serves requests; call this from a process it
        skips, such as a custom ``flask`` command that runs a long-lived worker. Raises
        :class:`~flask_healthcheck.ConfigurationError` when the port cannot be bound and
        ``ValueError`` when no port is set. See :doc:`/probe-port`.
        """
        app = self._resolve(app)
        return probe_port.serve(app, self._states[app].settings)

    # -- the app's own availability ------------------------------------------------------

    def set_ready(self, ready: bool, reason: str = "", app: Flask | None = None) -> None:
        """Say whether the app accepts traffic; the readiness endpoint reflects it at once."""
        self.state(app).availability.set_ready(ready, reason)

    def set_live(self, live: bool, reason: str = "", app: Flask | None = None) -> None:
        """Say whether the app is alive; ``False`` makes liveness fail (and the pod restart)."""
        self.state(app).availability.set_live(live, reason)

    # -- running checks from code ---------------------------------------------------------

    def run(
        self,
        names: Collection[str] | None = None,
        *,
        tag: str | None = None,
        app: Flask | None = None,
    ) -> Report:
        """Run checks (all, or *names*, or those tagged *tag*) as the endpoints would.

        The report's endpoint is :attr:`Endpoint.RUN <flask_healthcheck.Endpoint.RUN>`. A
        background check without a result yet runs now rather than being reported unknown:
        a one-off run (``flask healthcheck run``) has no scheduler history to read. Raises
        :class:`~flask_healthcheck.UnknownCheckError` for a name that is not registered.
        """
        app = self._resolve(app)
        return self._states[app].run(app, names, tag)
