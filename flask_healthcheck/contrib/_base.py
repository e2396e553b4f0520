"""What every built-in check shares: the registration options it carries.

``health.add_check(check)`` reads ``name``, ``tags``, ``critical``, ``timeout`` and the other
check options from the object; options given to ``add_check`` win over them. A built-in check
sets its default name and tags as class attributes and hands the caller's options to
:class:`BuiltinCheck`, so every one of them takes the same options as ``add_check``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask_healthcheck.budget import time_left
from flask_healthcheck.registry import OPTION_NAMES, READY

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from flask_healthcheck.registry import CheckOptions


#: Seconds a check called outside the runner (directly, in a test or a shell) may take.
DEFAULT_TIMEOUT = 2.0


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
