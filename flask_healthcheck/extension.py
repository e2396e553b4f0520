"""The Flask extension: registration of checks, listeners, and the wiring of each app's parts.

:class:`HealthCheck` keeps the checks and listeners, which every app it serves shares; for
each app, :meth:`~HealthCheck.init_app` builds an :class:`~flask_healthcheck.state.AppState`
from the app's settings and mounts the views, the WSGI middlewares and the probe port on it.
Nothing below this module looks the extension up: each part is handed what it needs here.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import sys
import threading
import weakref
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload

from flask import Flask, Response, current_app, has_app_context, has_request_context, request

from . import probe_port, shared
from .access_log import quiet_probes
from .availability import Availability
from .clock import SYSTEM_CLOCK, Clock
from .config import Settings
from .events import AnswerListener, ChangeListener, Events
from .exceptions import ConfigurationError
from .fleet import Fleet
from .fleet_store import RedisFleetStore
from .lifecycle import Lifecycle
from .metrics import HealthMetrics
from .middleware import LivenessFastPath, RequestTracker
from .registry import CheckOptions, CheckSpec, Registry, make_spec
from .results import Report
from .runner import Runner, Transition
from .scheduler import Scheduler
from .state import AppState
from .store import SharedResults
from .views import BLUEPRINT_NAME, make_blueprint, report_response

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


def _report_to_sentry_unless_shared(transition: Transition) -> None:
    """With a fleet, a shared check's failures reach Sentry once the fleet has judged them."""
    if not transition.spec.shared:
        _report_to_sentry(transition)


class _SentryCrons:
    """The check-ins of an app's background checks with ``cron=``, once the app has imported
    sentry_sdk (:class:`~flask_healthcheck.sentry.CronCheckIns`)."""

    def __init__(self, runner: Runner) -> None:
        self._runner = runner
        self._lock = threading.Lock()
        self._check_ins: Any = None

    def __call__(self, transition: Transition) -> None:
        if transition.spec.cron is None or "sentry_sdk" not in sys.modules:
            return
        from . import sentry  # imports sentry_sdk

        with self._lock:
            if self._check_ins is None:
                self._check_ins = sentry.CronCheckIns(self._runner.timeout_of)
            check_ins: sentry.CronCheckIns = self._check_ins
        check_ins.report(transition)


def _alert_sentry(name: str, message: str, transition: Transition | None) -> None:
    if "sentry_sdk" in sys.modules:
        from . import sentry  # imports sentry_sdk

        if transition is None:
            sentry.report_fleet_outage(name, message)
        else:
            sentry.report_transition(transition, judged=message)


def _listen(runner: Runner, state: AppState) -> None:
    """Have *state*'s parts hear of each new result and each abandoned run."""
    fleet = state.fleet
    runner.add_listener(state.record_result)
    runner.add_abandon_listener(state.metrics.record_abandoned)
    if fleet is not None:
        runner.add_listener(fleet.record)
        runner.gate = fleet
    if state.settings.sentry:
        runner.add_listener(_report_to_sentry if fleet is None else _report_to_sentry_unless_shared)
        runner.add_listener(_SentryCrons(runner))


def _make_fleet(
    settings: Settings,
    runner: Runner,
    registry: Registry,
    events: Events,
    shared_results: SharedResults | None,
) -> Fleet | None:
    """The app's view of its fleet when ``HEALTHCHECK_FLEET_URL`` is set, else None."""
    if settings.fleet_url is None:
        return None
    assert settings.fleet_name is not None
    store = RedisFleetStore(
        settings.fleet_url,
        settings.fleet_name,
        timeout=settings.fleet_timeout,
        pod_ttl=settings.fleet_pod_ttl,
    )
    return Fleet(
        store,
        pod=settings.hostname or "",
        outage_share=settings.fleet_outage_share,
        pod_ttl=settings.fleet_pod_ttl,
        clock=runner.clock,
        registry=registry,
        changed=events.changed,
        alert=_alert_sentry if settings.sentry else None,
        shared=shared_results,
        settle=runner.settle_time,
        view_ttl=settings.failed_ttl / 2,
    )


def _is_own_view(health: HealthCheck, view: Callable[..., Any]) -> bool:
    """True when *view* (or the function it wraps, through ``functools.wraps``) is
    ``health.check`` or ``health.run``: Runscope's and py-healthcheck's report views."""
    view = inspect.unwrap(view)
    return view in (health.check, health.run)


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

        Raises :class:`~flask_healthcheck.ConfigurationError` naming a key with a bad value, or
        what stands in the way of the endpoints (a blueprint named ``healthcheck``, a route
        at their path, a probe port in use), and ``RuntimeError`` if the app already has a
        ``HealthCheck``. It changes the app only once nothing can fail any more: after an
        error the app is as it was (no ``app.extensions`` entry, no route, no middleware, no
        thread, no key written into ``app.config``), so a retry after the fix works.
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
        settings = Settings.from_config(
            app.config, defaults, app_name=app.name, import_name=app.import_name
        )
        self._refuse_clashes(app, settings)
        self._registry.check_dependencies()
        server = _server_directory(settings)
        key = _app_key(app, settings)
        results = None if server is None else SharedResults(server.sub(key, "results"))
        runner = Runner(settings, clock=self._clock, shared=results)
        events = Events(self._change_listeners, self._answer_listeners)
        fleet = _make_fleet(
            settings,
            runner,
            self._registry,
            events,
            None if server is None else SharedResults(server.sub(key, "fleet")),
        )
        role = None if server is None else server.role(f"scheduler-{key}")
        scheduler = Scheduler(runner, lambda: self._registry, role)
        availability = Availability(self._clock)
        lifecycle = Lifecycle(settings, availability, self._clock)
        state = AppState(
            settings,
            self._registry,
            runner,
            availability,
            events,
            scheduler,
            lifecycle,
            server=server,
            key=key,
            fleet=fleet,
        )
        blueprint = make_blueprint(state)
        # What may still fail comes first: the probe port (a port in use), then the blueprint,
        # which the checks above leave nothing to fail on; the port is closed if it does.
        probe_server = None
        if settings.probe_port is not None:
            probe_server = probe_port.start_at_init(app, settings)
        try:
            app.register_blueprint(blueprint)
        except BaseException:
            if probe_server is not None and probe_server.app is app:
                probe_server.close()
            raise
        Settings.write_defaults(app.config, defaults)
        _listen(runner, state)
        self._states[app] = state
        app.extensions[EXTENSION_KEY] = self
        if lifecycle.tracks_requests:
            app.wsgi_app = RequestTracker(  # type: ignore[method-assign]
                app.wsgi_app, lifecycle, settings.path
            )
        app.wsgi_app = LivenessFastPath(app.wsgi_app, state)  # type: ignore[method-assign]
        if not settings.log_probes:
            quiet_probes(settings.path)
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
        if self._registry.has_background:
            state.start_background(app)

    def _refuse_clashes(self, app: Flask, settings: Settings) -> None:
        """Raise :class:`~flask_healthcheck.ConfigurationError` if the app has something that
        the endpoints' blueprint cannot be registered beside (``RuntimeError`` if it has
        served a request, after which Flask takes no blueprint), before anything changes."""
        if getattr(app, "_got_first_request", False):
            raise RuntimeError(
                "init_app must run before the app handles its first request (Flask accepts no "
                "new routes after that); call it where the app is created"
            )
        taken = app.blueprints.get(BLUEPRINT_NAME)
        if taken is not None or any(
            endpoint.startswith(BLUEPRINT_NAME + ".") for endpoint in app.view_functions
        ):
            where = f" (defined in {taken.import_name})" if taken is not None else ""
            raise ConfigurationError(
                f"the app already has a blueprint named {BLUEPRINT_NAME!r}{where}, the name "
                "flask_healthcheck registers its endpoints under: give yours another name, "
                "Blueprint('other_name', __name__) or app.register_blueprint(bp, "
                "name='other_name')"
            )
        ours = {settings.path, settings.path + "/"} | {
            f"{settings.path}/{name}" for name in ("live", "ready", "startup", "metrics")
        }
        for rule in app.url_map.iter_rules():
            view = app.view_functions.get(rule.endpoint)
            if rule.rule in ours and (rule.methods or set()) & {"GET", "HEAD"}:
                if view is not None and _is_own_view(self, view):
                    continue  # the same report, routed by the app: no clash
                raise ConfigurationError(
                    f"the app already has a route at {rule.rule!r} (endpoint "
                    f"{rule.endpoint!r}), where HEALTHCHECK_PATH {settings.path!r} puts the "
                    "health endpoints: set HEALTHCHECK_PATH to a free path (such as "
                    "HealthCheck(app, '/health')) or remove that route"
                )

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
        *fail_after_seconds* and *recover_after* (failure tolerance); *depends_on* (names of
        checks it needs: while one fails, this one is not called); *shared* and *fleet_ttl*
        (the fleet: see :doc:`/fleet`). Raises ``ValueError`` for a name already taken or
        reserved by an endpoint, a bad option value, or, once an app uses the extension, a
        dependency that is not registered.
        """
        spec = make_spec(func, **options)
        self._registry.add(spec, complete=bool(self._states))
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

        As the Runscope library's view, ``app.add_url_rule("/hc", view_func=health.check)``
        serves the full report there: when Flask calls this method as the view of the current
        request, it answers the request instead (see :doc:`/migrating`).
        """

        if func is None and self._dispatched_as_view(self.check):
            # Flask calls the view with the rule's variables as keyword arguments: *options*.
            answer = self._view_answer("check", dict(options))
            return cast("Callable[[CheckT], CheckT]", answer)

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

        As py-healthcheck's view, ``app.add_url_rule("/healthcheck", "healthcheck",
        view_func=health.run)`` serves the full report there: when Flask calls this method as
        the view of the current request, it answers the request with a response instead of
        returning a report (see :doc:`/migrating`).

        The report's endpoint is :attr:`Endpoint.RUN <flask_healthcheck.Endpoint.RUN>`. A
        background check without a result yet runs now rather than being reported unknown:
        a one-off run (``flask healthcheck run``) has no scheduler history to read. Raises
        :class:`~flask_healthcheck.UnknownCheckError` for a name that is not registered.
        """
        if names is None and tag is None and app is None and self._dispatched_as_view(self.run):
            return cast(Report, self._view_answer("run", {}))
        app = self._resolve(app)
        return self._states[app].run(app, names, tag)

    # -- Runscope's and py-healthcheck's views ----------------------------------------------

    def _dispatched_as_view(self, method: Callable[..., Any]) -> bool:
        """True when Flask is calling *method* (this bound method) as the view of the current
        request, directly or through a decorator that wraps it with ``functools.wraps``."""
        if not has_request_context():
            return False
        endpoint = request.endpoint
        view = current_app.view_functions.get(endpoint) if endpoint is not None else None
        return view is not None and inspect.unwrap(view) == method

    def _view_answer(self, method: str, view_args: dict[str, Any]) -> Response:
        """The full report as the answer to the current request, which Flask dispatched to
        ``health.check`` or ``health.run`` (Runscope's and py-healthcheck's routing)."""
        if view_args:
            raise TypeError(
                f"view_func=health.{method} serves the full report and takes no URL variables "
                f"(got {', '.join(sorted(view_args))}); for one check, use the endpoint "
                "HealthCheck registers at <HEALTHCHECK_PATH>/<name>"
            )
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        state = self._states.get(app)
        if state is None:
            raise RuntimeError(
                f"a route of this app has view_func=health.{method}, but this HealthCheck is "
                "not initialised on the app: create it with HealthCheck(app) or call "
                "health.init_app(app) where the app is created"
            )
        return report_response(state)


def _server_directory(settings: Settings) -> shared.ServerDirectory | None:
    """The directory the workers of this server share, or None; a directory that cannot be
    made is an error naming the key that places it."""
    try:
        return shared.locate(settings.shared_dir)
    except OSError as exc:
        where = shared.base_directory(settings.shared_dir)
        raise ConfigurationError(
            f"HEALTHCHECK_SHARED_DIR: the workers' shared state cannot be kept in {where}: "
            f"{exc.strerror or exc}; set HEALTHCHECK_SHARED_DIR (or the environment variable "
            "of that name) to a directory this user owns and can write"
        ) from exc


def _app_key(app: Flask, settings: Settings) -> str:
    """The name of an app's files in the server directory: its name and base path, which
    together tell two apps of one server apart."""
    text = f"{app.name}{settings.path}"
    readable = "".join(char if char.isalnum() or char in "-_." else "_" for char in text)
    return f"{readable[:60]}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"
