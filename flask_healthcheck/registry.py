"""Registered checks: their names, options, and which of them an endpoint selects."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypedDict

from .config import validate_check_seconds
from .exceptions import UnknownCheckError

CheckFunction = Callable[[], Any]

#: Tag of checks the liveness endpoint (:attr:`Endpoint.LIVE <.endpoints.Endpoint.LIVE>`)
#: runs. No check has it unless given.
LIVE = "live"
#: Tag of checks the readiness endpoint (:attr:`Endpoint.READY <.endpoints.Endpoint.READY>`)
#: runs; a check registered without tags gets it.
READY = "ready"
#: Tag for checks that matter when a new process starts (e.g. pending migrations).
STARTUP = "startup"

#: Names taken by the endpoints under the base path, and by what the app reports of itself
#: (its availability, load and request watchdog; heartbeats are named "heartbeat:<name>").
RESERVED_NAMES = frozenset(
    {
        "live",
        "ready",
        "startup",
        "metrics",
        "fleet",
        "history",
        "liveness",
        "readiness",
        "load",
        "requests",
    }
)

# "." and ".." would be resolved away by clients as URL path segments.
_VALID_NAME = re.compile(r"(?!\.+\Z)[A-Za-z0-9_.:\-]{1,128}")


class CheckOptions(TypedDict, total=False):
    """Options of one check, given to ``add_check``/``@check`` or carried by a check object."""

    name: str
    tags: Iterable[str] | str
    critical: bool
    timeout: float
    success_ttl: float
    failed_ttl: float
    period: float
    max_age: float
    fail_after: int
    fail_after_seconds: float
    recover_after: int
    shared: bool
    fleet_ttl: float
    depends_on: Iterable[str] | str
    cron: bool | str


@dataclass(frozen=True)
class CheckSpec:
    """A registered check and its options. ``None`` options fall back to the app's settings.

    ``period``: run in the background every *period* seconds; requests read the latest result.
    ``max_age``: a result older than this is reported stale (background checks default to
    twice the period plus the timeout). ``fail_after``/``fail_after_seconds``: consecutive
    failures, and seconds of failing, before a passing check is reported failing;
    ``recover_after``: consecutive passes before a failing check is reported passing.
    ``shared``: the dependency is shared by every server of the fleet (the primary database,
    the broker), so the fleet judges its failures (:mod:`~flask_healthcheck.fleet`).
    ``fleet_ttl``: run it once per *fleet_ttl* seconds for the whole fleet; the other servers
    take that run's result (an expensive check: a schema comparison, a queue's depth).
    ``depends_on``: names of the checks it needs; while one of them fails, this one is not
    called and reads "not run: database is failing".
    ``cron``: the slug of the Sentry cron monitor each background run reports to (``cron=True``
    gives ``healthcheck-<name>``), so Sentry alerts when the runs stop (docs/integrations/sentry).
    """

    name: str
    func: CheckFunction
    tags: frozenset[str]
    critical: bool = True
    timeout: float | None = None
    success_ttl: float | None = None
    failed_ttl: float | None = None
    period: float | None = None
    max_age: float | None = None
    fail_after: int = 1
    fail_after_seconds: float = 0.0
    recover_after: int = 1
    shared: bool = False
    fleet_ttl: float | None = None
    depends_on: tuple[str, ...] = ()
    cron: str | None = None


def default_name(func: object) -> str:
    """The name a check gets when none is given, as py-healthcheck names it where it can.

    A function's ``__name__``; the wrapped function's for a ``functools.partial``; a check
    object's ``name`` attribute, or its class name.
    """
    while isinstance(func, functools.partial):
        func = func.func
    name = getattr(func, "name", None)
    if isinstance(name, str) and name:
        return name
    name = getattr(func, "__name__", None)
    if isinstance(name, str):
        return name
    return type(func).__name__


def _count(option: str, value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise ValueError(f"{option} must be a whole number, 1 or more; got {value!r}")


def _seconds(allow_zero: bool) -> Callable[[str, object], float | None]:
    return lambda option, value: validate_check_seconds(option, value, allow_zero=allow_zero)


_NUMERIC_OPTIONS: dict[str, Callable[[str, object], Any]] = {
    "timeout": _seconds(allow_zero=False),
    "success_ttl": _seconds(allow_zero=True),
    "failed_ttl": _seconds(allow_zero=True),
    "period": _seconds(allow_zero=False),
    "max_age": _seconds(allow_zero=False),
    "fail_after": _count,
    "fail_after_seconds": _seconds(allow_zero=True),
    "recover_after": _count,
    "fleet_ttl": _seconds(allow_zero=False),
}
OPTION_NAMES = frozenset(
    {"name", "tags", "critical", "shared", "depends_on", "cron", *_NUMERIC_OPTIONS}
)
#: A Sentry monitor's slug, as Sentry makes them: lower-case letters, digits, ``-`` and ``_``.
_CRON_SLUG = re.compile(r"[a-z0-9_-]{1,50}")


def make_spec(func: CheckFunction, **options: Any) -> CheckSpec:
    """Validate registration options and build the :class:`CheckSpec`.

    A check object (such as the built-in checks) may carry any option as an attribute
    (``name``, ``tags``, ``timeout``, ...); those are its defaults, and the options given here
    win over them. Raises ``TypeError`` for an unknown option, ``ValueError`` for a bad value.
    """
    unknown = set(options) - OPTION_NAMES
    if unknown:
        raise TypeError(
            f"unknown check option(s) {', '.join(sorted(unknown))}; the options are "
            f"{', '.join(sorted(OPTION_NAMES))}"
        )
    if not callable(func):
        raise TypeError(f"a check must be callable; got {func!r}")

    def option(key: str) -> Any:
        given = options.get(key)
        return getattr(func, key, None) if given is None else given

    name = options.get("name")
    name = name if name is not None else default_name(func)
    if not isinstance(name, str) or not _VALID_NAME.fullmatch(name):
        raise ValueError(
            f"check name {name!r} cannot be used in a URL; use 'name=' to give the check a name "
            "made of letters, digits and '_', '.', ':' or '-'"
        )
    if name in RESERVED_NAMES or name.startswith("heartbeat:"):
        raise ValueError(
            f"check name {name!r} is taken by an endpoint; use 'name=' to give the check another "
            f"name (taken: {', '.join(sorted(RESERVED_NAMES))})"
        )
    tags = option("tags")
    tags = (READY,) if tags is None else tags
    tag_set = frozenset([tags] if isinstance(tags, str) else tags)
    if not tag_set or not all(
        isinstance(tag, str) and _VALID_NAME.fullmatch(tag) for tag in tag_set
    ):
        raise ValueError(f"tags of check {name!r} must be non-empty names; got {tags!r}")
    critical = option("critical")
    critical = True if critical is None else critical
    if not isinstance(critical, bool):
        raise ValueError(f"'critical' of check {name!r} must be True or False; got {critical!r}")
    shared = option("shared")
    shared = False if shared is None else shared
    if not isinstance(shared, bool):
        raise ValueError(f"'shared' of check {name!r} must be True or False; got {shared!r}")
    numbers: dict[str, Any] = {}
    for key, validate in _NUMERIC_OPTIONS.items():
        value = option(key)
        if value is not None:
            try:
                numbers[key] = validate(key, value)
            except ValueError as exc:
                raise ValueError(f"check {name!r}: {exc}") from None
    period, max_age = numbers.get("period"), numbers.get("max_age")
    if period is not None and max_age is not None and max_age <= period:
        raise ValueError(
            f"check {name!r}: max_age ({max_age:g} s) must be longer than its period "
            f"({period:g} s), or every result goes stale before the next one arrives"
        )
    depends_on = _dependencies(name, option("depends_on"))
    cron = _cron_slug(name, option("cron"), period)
    return CheckSpec(
        name=name,
        func=func,
        tags=tag_set,
        critical=critical,
        shared=shared,
        depends_on=depends_on,
        cron=cron,
        **numbers,
    )


def _cron_slug(name: str, given: object, period: float | None) -> str | None:
    """The ``cron`` option of check *name*: its Sentry monitor's slug, or None."""
    if given is None or given is False:
        return None
    if period is None:
        raise ValueError(
            f"check {name!r}: 'cron' needs 'period': a Sentry cron monitor expects runs on a "
            "schedule, which only a background check has"
        )
    if given is True:
        slug = "healthcheck-" + re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-")
        return slug[:50].rstrip("-")
    if isinstance(given, str) and _CRON_SLUG.fullmatch(given):
        return given
    raise ValueError(
        f"'cron' of check {name!r} must be True or a Sentry monitor slug (up to 50 lower-case "
        f"letters, digits, '-' and '_'); got {given!r}"
    )


def _dependencies(name: str, given: object) -> tuple[str, ...]:
    """The ``depends_on`` option of check *name*, validated: check names, not its own."""
    if given is None:
        return ()
    names = (given,) if isinstance(given, str) else given
    try:
        dependencies = tuple(dict.fromkeys(names))  # type: ignore[call-overload]
    except TypeError:
        dependencies = None
    if dependencies is None or not all(
        isinstance(dependency, str) and _VALID_NAME.fullmatch(dependency)
        for dependency in dependencies
    ):
        raise ValueError(
            f"'depends_on' of check {name!r} must be a check's name or a list of them; "
            f"got {given!r}"
        )
    if name in dependencies:
        raise ValueError(f"check {name!r} cannot depend on itself")
    return dependencies


class Registry:
    """The checks of one extension, in registration order. Shared by every app it serves."""

    def __init__(self) -> None:
        self._specs: dict[str, CheckSpec] = {}
        self._tags: set[str] = set()
        self._background = False

    def add(self, spec: CheckSpec, *, complete: bool = False) -> None:
        """Register *spec*; raises ``ValueError`` when its name or its Sentry cron monitor is
        taken, or, once the registry is *complete* (an app uses it), when it depends on a check
        not registered."""
        if spec.name in self._specs:
            raise ValueError(
                f"a check named {spec.name!r} is already registered; use 'name=' to provide a "
                "unique name"
            )
        monitor_taken_by = [
            other.name for other in self._specs.values() if spec.cron and other.cron == spec.cron
        ]
        if monitor_taken_by:
            # Their check-ins would interleave in one monitor, each check's passes resetting
            # the other's failures in a row.
            raise ValueError(
                f"checks {monitor_taken_by[0]!r} and {spec.name!r} would report to the same "
                f"Sentry cron monitor {spec.cron!r}; use cron='another-slug' on one of them"
            )
        missing = [name for name in spec.depends_on if name not in self._specs]
        if complete and missing:
            raise ValueError(
                f"check {spec.name!r} depends on {', '.join(map(repr, missing))}, which is not "
                "registered; register the checks it depends on first"
            )
        self._specs[spec.name] = spec
        self._tags |= spec.tags
        self._background = self._background or spec.period is not None

    def check_dependencies(self) -> None:
        """Raise ``ValueError`` naming a check that depends on one not registered, or the
        checks of a cycle (``a -> b -> a``)."""
        for spec in self._specs.values():
            missing = [name for name in spec.depends_on if name not in self._specs]
            if missing:
                raise ValueError(
                    f"check {spec.name!r} depends on {', '.join(map(repr, missing))}, which "
                    "is not registered"
                )
        done: set[str] = set()
        for start in self._specs:
            path: list[str] = []
            self._walk(start, path, done)

    def _walk(self, name: str, path: list[str], done: set[str]) -> None:
        if name in path:
            cycle = [*path[path.index(name) :], name]
            raise ValueError(f"checks depend on each other in a cycle: {' -> '.join(cycle)}")
        if name in done:
            return
        path.append(name)
        for dependency in self._specs[name].depends_on:
            self._walk(dependency, path, done)
        path.pop()
        done.add(name)

    @property
    def has_background(self) -> bool:
        """True when some registered check runs in the background (has a ``period``)."""
        return self._background

    def has_tag(self, tag: str) -> bool:
        """True when some registered check carries *tag*."""
        return tag in self._tags

    def __iter__(self) -> Iterator[CheckSpec]:
        return iter(list(self._specs.values()))

    def __len__(self) -> int:
        return len(self._specs)

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def get(self, name: str) -> CheckSpec:
        """The check named *name*; raises :class:`~flask_healthcheck.UnknownCheckError`."""
        try:
            return self._specs[name]
        except KeyError:
            raise UnknownCheckError([name], self._specs) from None

    def select(
        self,
        *,
        tag: str | None = None,
        names: Collection[str] | None = None,
        exclude: Collection[str] = (),
    ) -> list[CheckSpec]:
        """The checks with *tag* (all when None) or of *names*, less *exclude*.

        Raises :class:`~flask_healthcheck.UnknownCheckError` for a name in *names* or
        *exclude* that is not registered, so a typo in a probe's URL is an error rather than a
        silent pass.
        """
        unknown = {name for name in (*(names or ()), *exclude) if name not in self._specs}
        if unknown:
            raise UnknownCheckError(unknown, self._specs)
        if names is not None:
            chosen = [self._specs[name] for name in dict.fromkeys(names)]
        else:
            chosen = [spec for spec in self._specs.values() if tag is None or tag in spec.tags]
        return [spec for spec in chosen if spec.name not in exclude]
