"""What every built-in check shares: the registration options it carries.

``health.add_check(check)`` reads ``name``, ``tags``, ``critical``, ``timeout`` and the other
check options from the object; options given to ``add_check`` win over them. A built-in check
sets its default name and tags as class attributes and hands the caller's options to
:class:`BuiltinCheck`, so every one of them takes the same options as ``add_check``.

A check that keeps a lock or a connection between its runs starts afresh in a forked child
(gunicorn ``--preload``, ``multiprocessing``): :func:`renew_after_fork` has
:mod:`~flask_healthcheck.process` call its ``_after_fork`` there, which makes new locks (a run
in a thread of the parent may have held them at the fork) and forgets the connection without
closing it (its socket is the parent's too).
"""

from __future__ import annotations

import logging
import weakref
from typing import TYPE_CHECKING, Any, Protocol

from flask_healthcheck import process
from flask_healthcheck.budget import time_left
from flask_healthcheck.registry import OPTION_NAMES, READY

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from flask_healthcheck.registry import CheckOptions


logger = logging.getLogger("flask_healthcheck")

#: Seconds a check called outside the runner (directly, in a test or a shell) may take.
DEFAULT_TIMEOUT = 2.0


class ForkAware(Protocol):
    """What :func:`renew_after_fork` calls in a forked child."""

    def _after_fork(self) -> None: ...


_RENEWED: weakref.WeakSet[ForkAware] = weakref.WeakSet()


def renew_after_fork(owner: ForkAware) -> None:
    """Call ``owner._after_fork()`` in every process forked from this one, while *owner* lives."""
    _RENEWED.add(owner)


def _renew_in_child() -> None:
    for owner in list(_RENEWED):
        try:
            owner._after_fork()
        except Exception:
            logger.exception("%r could not start afresh after the fork", owner)


process.after_fork_in_child(process.Stage.FORGET, _renew_in_child)


class BuiltinCheck:
    """Base of the built-in checks. ``None`` options keep the class's default, or the app's."""

    name: str = "check"
    tags: tuple[str, ...] = (READY,)
    critical: bool | None = None
    timeout: float | None = None
    success_ttl: float | None = None
    failed_ttl: float | None = None
    period: float | None = None
    max_age: float | None = None
    fail_after: int | None = None
    fail_after_seconds: float | None = None
    recover_after: int | None = None

    def __init__(self, **options: Unpack[CheckOptions]) -> None:
        unknown = set(options) - OPTION_NAMES
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got unknown option(s) {', '.join(sorted(unknown))}; "
                f"the check options are {', '.join(sorted(OPTION_NAMES))}"
            )
        given: dict[str, Any] = {key: value for key, value in options.items() if value is not None}
        tags = given.get("tags")
        if tags is not None:
            given["tags"] = (tags,) if isinstance(tags, str) else tuple(tags)
        for key, value in given.items():
            setattr(self, key, value)

    def time_left(self) -> float:
        """Seconds this run of the check has left (:func:`~flask_healthcheck.time_left`);
        outside the runner, the check's own timeout, else :data:`DEFAULT_TIMEOUT`."""
        return time_left(self.timeout if self.timeout is not None else DEFAULT_TIMEOUT)
