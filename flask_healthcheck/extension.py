"""The Flask extension: registration of checks, per-app state, and what each endpoint reports."""

from __future__ import annotations

import dataclasses
import logging
import sys
import threading
import time
import weakref
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload

from flask import Flask, current_app, has_app_context

from .availability import Availability, AvailabilityState
from .config import Settings
from .events import AnswerListener, ChangeListener, Events, StatusChange
from .lifecycle import Lifecycle, RequestTracker
from .metrics import HealthMetrics
from .registry import LIVE, READY, CheckOptions, CheckSpec, Registry, make_spec

if TYPE_CHECKING:
    from typing_extensions import Unpack
from .results import CheckResult, Report
from .runner import Runner, Transition
from .scheduler import Scheduler, StartUp

CheckT = TypeVar("CheckT", bound=Callable[..., Any])

EXTENSION_KEY = "healthcheck"

logger = logging.getLogger("flask_healthcheck")


def _report_to_sentry(transition: Transition) -> None:
    # sentry_sdk is only consulted when the app has imported it: the core never imports it.
    if "sentry_sdk" in sys.modules:
        from . import sentry

        sentry.report_transition(transition)


@dataclass
class AppState:
    """What the extension keeps for one app: its settings, runner and availability."""

    settings: Settings
    registry: Registry
    runner: Runner
    availability: Availability
    events: Events
    scheduler: Scheduler
    lifecycle: Lifecycle
    metrics: HealthMetrics = field(init=False)
    start_up: StartUp = field(init=False)

    def __post_init__(self) -> None:
        self.metrics = HealthMetrics(self.registry)
        pace = min(max(self.settings.failed_ttl, 0.5), 5.0)
        self.start_up = StartUp(self.runner, self._pending_specs, self._note_passes, pace)

    def _report(self, endpoint: str, results: Iterable[CheckResult]) -> Report:
        return Report.of(results, self.settings.hostname or "", time.time(), endpoint)

    def _run(self, specs: list[CheckSpec]) -> list[CheckResult]:
        if not specs:
            return []
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        if self.registry.has_background:
            self.scheduler.ensure_running(app)
        return self.runner.run(app, specs)

    def start_background(self, app: Flask) -> None:
        """Run background checks from now on (called when one is registered)."""
        self.scheduler.ensure_running(app)
        self.scheduler.wake()

    def full_report(self, exclude: Collection[str] = ()) -> Report:
        """Every registered check."""
        return self._report("healthz", self._run(self.registry.select(exclude=exclude)))

    def check_report(self, name: str) -> Report:
        """One check by name; raises ``UnknownCheckError`` when there is none."""
        return self._report(name, self._run(self.registry.select(names=[name])))

    def liveness_report(self, exclude: Collection[str] = ()) -> Report:
        """The app's liveness state, heartbeats and checks tagged ``live``; no dependency.

        Behind the start-up gate it fails until the app has started. It never waits for a
        check: the first gated request of the process starts a thread that runs the pending
        checks until every critical one has passed once (:class:`~.scheduler.StartUp`).
        """
        results = [
            _state_result("liveness", self.availability.liveness, "live", LIVE),
            *self.lifecycle.liveness_results(),
        ]
        gate = self._startup_gate("live")
        if gate is not None:
            results.append(gate)
        results += self._run(self.registry.select(tag=LIVE, exclude=exclude))
        return self._report("livez", results)

    def readiness_report(self, exclude: Collection[str] = ()) -> Report:
        """The app's readiness state, liveness problems, load and checks tagged ``ready``.

        Behind the start-up gate, it also runs the checks that have not passed yet, and fails
        until every critical check has passed once.
        """
        results = [
            _state_result("readiness", self.availability.readiness, "ready", READY),
            *[result for result in self.lifecycle.liveness_results() if not result.passed],
        ]
        load = self.lifecycle.load_result()
        if load is not None:
            results.append(load)
        specs = self.registry.select(tag=READY, exclude=exclude)
        if self._startup_gate("ready") is not None:
            names = {spec.name for spec in specs}
            specs += [spec for spec in self._pending_specs(exclude) if spec.name not in names]
        check_results = self._run(specs)
        self._note_passes(check_results)
        gate = self._startup_gate("ready")
        return self._report("readyz", [*results, *([gate] if gate else []), *check_results])

    def startup_report(self, exclude: Collection[str] = ()) -> Report:
        """Passes once every critical check has passed at least once, then always.

        Until then it runs the checks that have not passed yet; once started, it runs nothing.
        """
        if self.availability.started:
            return self._report("startupz", [])
        results = self._run(self._pending_specs(exclude))
        self._note_passes(results)
        return self._report("startupz", results)

    @property
    def plain_liveness(self) -> bool:
        """True when liveness needs no check run and no app: the WSGI fast path may answer."""
        return not self.registry.has_tag(LIVE) and (
            self.availability.started or "live" not in self.settings.startup_gate
        )

    def _pending_specs(self, exclude: Collection[str] = ()) -> list[CheckSpec]:
        """Checks that have not passed since the process started."""
        pending = set(self.availability.not_yet_passed(spec.name for spec in self.registry))
        return [spec for spec in self.registry.select(exclude=exclude) if spec.name in pending]

    def _note_passes(self, results: Iterable[CheckResult]) -> bool:
        """Record passes and latch start-up; return whether the app has started.

        The runner's listeners call this too, but only after the waiting requests have been
        woken, so a request records what it saw itself.
        """
        availability = self.availability
        for result in results:
            if result.passed:
                availability.record_pass(result.name)
        if not availability.started:
            critical = [spec.name for spec in self.registry if spec.critical]
            if not availability.not_yet_passed(critical):
                availability.mark_started()
        return availability.started

    def _startup_gate(self, endpoint: str) -> CheckResult | None:
        """A failing "startup" result while *endpoint* is gated and the app has not started."""
        if endpoint not in self.settings.startup_gate or self.availability.started:
            return None
        if self._note_passes(()):
            return None
        self.start_up.ensure_running(current_app._get_current_object())  # type: ignore[attr-defined]
        waiting = [spec.name for spec in self._pending_specs() if spec.critical]
        output = "starting: waiting for a first pass of " + ", ".join(waiting)
        return CheckResult.synthetic("startup", False, output, endpoint)

    def record_result(self, transition: Transition) -> None:
        """Runner listener: remember passes for start-up, and announce status changes."""
        self.metrics.record_result(transition)
        result = transition.result
        self._note_passes([result])
        previous = transition.previous
        if previous is None or previous.passed != result.passed:
            before = None if previous is None else previous.passed
            self.events.changed(
                StatusChange("check", result.name, result.passed, before, result.output)
            )

    def record_answer(
        self,
        endpoint: str,
        status_code: int,
        report: Report | None,
        exclusions: Collection[str] = (),
    ) -> None:
        """Views call this for every answer: metrics count it, listeners hear of changes.

        The one-check endpoint has no status of its own: its check's changes are the changes.
        """
        self.metrics.record_answer(endpoint, status_code)
        if report is None or endpoint == "check":
            self.events.answered(endpoint, status_code, None, _no_output)
            return
        selection = ",".join(sorted(set(exclusions))) if exclusions else ""
        self.events.answered(
            endpoint, status_code, report.passed, lambda: _summary(report), selection=selection
        )


def _no_output() -> str:
    return ""


def _summary(report: Report) -> str:
    """The output of an endpoint's status change: its failing checks."""
    failing = [result.name for result in report.results if not result.passed]
    return "failing: " + ", ".join(failing) if failing else "all checks pass"


def _state_result(name: str, state: AvailabilityState, word: str, tag: str) -> CheckResult:
    output = state.reason or (word if state.available else f"not {word}")
    return CheckResult.synthetic(name, state.available, output, tag)


def _unproxied(app: Flask) -> Flask:
    """The app itself when given Flask's ``current_app`` proxy, as seed 001 does.

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
    """

    def __init__(self, app: Flask | None = None, path: str | None = None, **options: Any) -> None:
        unknown = set(options) - Settings.option_names()
        if unknown:
            raise TypeError(
                f"unknown option(s) {', '.join(sorted(unknown))}; the options are "
                f"{', '.join(sorted(Settings.option_names()))}"
            )
        if path is not None:
            options["path"] = path
        self._options = options
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
        runner = Runner(settings)
        events = Events(self._change_listeners, self._answer_listeners)
        scheduler = Scheduler(runner, lambda: self._registry)
        availability = Availability()
        lifecycle = Lifecycle(settings, availability)
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

        from .views import LivenessFastPath, make_blueprint

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
            from .probe_port import start_at_init

            start_at_init(app)

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
        """The state of *app*; by default the current app, or the only app initialised."""
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
        """Call *listener* with a :class:`StatusChange` whenever a check or endpoint changes.

        Usable as a decorator. Called on transitions only, never once per request; the
        change is logged too (``INFO`` on recovery, ``WARNING`` on failure).
        """
        self._change_listeners.append(listener)
        return listener

    def on_answer(self, listener: AnswerListener) -> AnswerListener:
        """Call *listener* with ``(endpoint, status_code)`` for every answer of an endpoint."""
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

        A background check without a result yet runs now rather than being reported unknown:
        a one-off run (``flask healthcheck run``) has no scheduler history to read.
        """
        app = self._resolve(app)
        state = self._states[app]
        specs = [
            dataclasses.replace(spec, period=None)
            if spec.period is not None and not state.runner.has_result(spec.name)
            else spec
            for spec in state.registry.select(names=names, tag=tag)
        ]
        return state._report("run", state.runner.run(app, specs) if specs else [])
