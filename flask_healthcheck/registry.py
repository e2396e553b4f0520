"""Registered checks: their names, options, and which of them an endpoint selects."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .config import validate_check_seconds

CheckFunction = Callable[[], Any]

#: Tag of checks the liveness endpoint runs. No check has it unless given.
LIVE = "live"
#: Tag of checks the readiness endpoint runs; a check registered without tags gets it.
READY = "ready"
#: Tag for checks that matter when a new process starts (e.g. pending migrations).
STARTUP = "startup"

#: Names taken by the endpoints under the base path, and by the app's own availability state.
RESERVED_NAMES = frozenset({"live", "ready", "startup", "metrics", "liveness", "readiness"})

_VALID_NAME = re.compile(r"[A-Za-z0-9_.:\-]{1,128}")


@dataclass(frozen=True)
class CheckSpec:
    """A registered check and its options. ``None`` options fall back to the app's settings."""

    name: str
    func: CheckFunction
    tags: frozenset[str]
    critical: bool = True
    timeout: float | None = None
    success_ttl: float | None = None
    failed_ttl: float | None = None


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


def _attribute_default(func: object, attribute: str, given: Any, fallback: Any) -> Any:
    """An option given at registration, else one the check object carries, else *fallback*."""
    if given is not None:
        return given
    carried = getattr(func, attribute, None)
    return fallback if carried is None else carried


def make_spec(
    func: CheckFunction,
    *,
    name: str | None = None,
    tags: Iterable[str] | str | None = None,
    critical: bool | None = None,
    timeout: float | None = None,
    success_ttl: float | None = None,
    failed_ttl: float | None = None,
) -> CheckSpec:
    """Validate registration options and build the :class:`CheckSpec`.

    A check object (such as the built-in checks) may carry ``name``, ``tags``, ``critical``,
    ``timeout``, ``success_ttl`` and ``failed_ttl`` attributes; they are its defaults, and the
    options given here win over them.
    """
    if not callable(func):
        raise TypeError(f"a check must be callable; got {func!r}")
    name = name if name is not None else default_name(func)
    if not isinstance(name, str) or not _VALID_NAME.fullmatch(name):
        raise ValueError(
            f"check name {name!r} cannot be used in a URL; use 'name=' to give the check a name "
            "made of letters, digits and '_', '.', ':' or '-'"
        )
    if name in RESERVED_NAMES:
        raise ValueError(
            f"check name {name!r} is taken by an endpoint; use 'name=' to give the check another "
            f"name (taken: {', '.join(sorted(RESERVED_NAMES))})"
        )
    tags = _attribute_default(func, "tags", tags, (READY,))
    tag_set = frozenset([tags] if isinstance(tags, str) else tags)
    if not tag_set or not all(
        isinstance(tag, str) and _VALID_NAME.fullmatch(tag) for tag in tag_set
    ):
        raise ValueError(f"tags of check {name!r} must be non-empty names; got {tags!r}")
    critical = _attribute_default(func, "critical", critical, True)
    if not isinstance(critical, bool):
        raise ValueError(f"'critical' of check {name!r} must be True or False; got {critical!r}")
    return CheckSpec(
        name=name,
        func=func,
        tags=tag_set,
        critical=critical,
        timeout=validate_check_seconds(
            "timeout", _attribute_default(func, "timeout", timeout, None), allow_zero=False
        ),
        success_ttl=validate_check_seconds(
            "success_ttl",
            _attribute_default(func, "success_ttl", success_ttl, None),
            allow_zero=True,
        ),
        failed_ttl=validate_check_seconds(
            "failed_ttl", _attribute_default(func, "failed_ttl", failed_ttl, None), allow_zero=True
        ),
    )


class UnknownCheckError(LookupError):
    """A request or call named checks that are not registered."""

    def __init__(self, names: Collection[str], known: Collection[str]) -> None:
        listed = ", ".join(repr(name) for name in sorted(names))
        available = ", ".join(sorted(known)) or "none"
        noun = "check" if len(names) == 1 else "checks"
        super().__init__(f"unknown {noun} {listed}; registered checks: {available}")
        self.names = frozenset(names)


class Registry:
    """The checks of one extension, in registration order. Shared by every app it serves."""

    def __init__(self) -> None:
        self._specs: dict[str, CheckSpec] = {}
        self._tags: set[str] = set()

    def add(self, spec: CheckSpec) -> None:
        if spec.name in self._specs:
            raise ValueError(
                f"a check named {spec.name!r} is already registered; use 'name=' to provide a "
                "unique name"
            )
        self._specs[spec.name] = spec
        self._tags |= spec.tags

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

        Raises :class:`UnknownCheckError` for a name in *names* or *exclude* that is not
        registered, so a typo in a probe's URL is an error rather than a silent pass.
        """
        unknown = {name for name in (*(names or ()), *exclude) if name not in self._specs}
        if unknown:
            raise UnknownCheckError(unknown, self._specs)
        if names is not None:
            chosen = [self._specs[name] for name in dict.fromkeys(names)]
        else:
            chosen = [spec for spec in self._specs.values() if tag is None or tag in spec.tags]
        return [spec for spec in chosen if spec.name not in exclude]
