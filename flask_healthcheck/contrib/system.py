"""System resources through psutil: disk space per path, memory and CPU, with warn and fail limits.

Needs the ``psutil`` extra (``pip install 'flask-health-checks[psutil]'``).

Each check passes under its warn limit, passes with a warning (reported ``warn``, the endpoint
stays ``200``) from its warn limit, and fails from its fail limit. Limits are percentages from 0
to 100, reached when the value is at or above them; ``None`` turns a limit off.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

from flask_healthcheck.contrib._base import BuiltinCheck, renew_after_fork
from flask_healthcheck.exceptions import MissingDependencyError
from flask_healthcheck.results import Outcome

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from flask_healthcheck.registry import CheckOptions

try:
    import psutil
except ImportError as exc:
    raise MissingDependencyError("psutil", "psutil") from exc

_BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def format_bytes(count: float) -> str:
    """``512 B``, ``12.0 MiB``, ``1.5 TiB``: a size as ``df -h`` would show it, in binary units."""
    value = float(count)
    for unit in _BYTE_UNITS:
        if abs(value) < 1024 or unit == _BYTE_UNITS[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _limit(option: str, value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise ValueError(f"{option!r} must be a percentage from 0 to 100, or None; got {value!r}")
    return float(value)


class _Limits:
    """A warn and a fail limit, and how a percentage compares with them."""

    def __init__(self, warn: float | None, fail: float | None) -> None:
        self.warn = _limit("warn", warn)
        self.fail = _limit("fail", fail)

    def grade(self, percent: float) -> tuple[bool, bool]:
        """``(passed, warning)`` for *percent*."""
        if self.fail is not None and percent >= self.fail:
            return False, False
        return True, self.warn is not None and percent >= self.warn

    def note(self, percent: float) -> str:
        """`` (at or above the 90% fail limit)`` when a limit is reached, else nothing."""
        if self.fail is not None and percent >= self.fail:
            return f" (at or above the {self.fail:g}% fail limit)"
        if self.warn is not None and percent >= self.warn:
            return f" (at or above the {self.warn:g}% warn limit)"
        return ""


class _LimitedCheck(BuiltinCheck):
    """A system check with a warn and a fail limit, in percent (``None``: no such limit)."""

    _limits: _Limits

    @property
    def warn(self) -> float | None:
        return self._limits.warn

    @property
    def fail(self) -> float | None:
        return self._limits.fail


class DiskCheck(_LimitedCheck):
    """Each path's file system has room left: percent used as ``df`` shows it, with free bytes.

    ``health.add_check(DiskCheck(["/", "/srv/uploads"]))``. Defaults: warn from 80% used, fail
    from 90%. The percentage is that of ``df`` (space reserved for root counts as used), so
    a volume that refuses the app's writes shows 100%. The observed value is the highest
    percentage of the paths. The message gives each path's use and free bytes, in the order of
    *paths*; the paths themselves are named to the token holder only. A path that does not
    exist fails the check.

    The name defaults to ``disk`` and the tags to ``("ready",)``: a full volume takes the
    instance out of service, and restarting it (liveness) would not free a byte.
    """

    name = "disk"

    def __init__(
        self,
        paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]] = ("/",),
        *,
        warn: float | None = 80.0,
        fail: float | None = 90.0,
        **options: Unpack[CheckOptions],
    ) -> None:
        super().__init__(**options)
        if isinstance(paths, str | os.PathLike):
            paths = [paths]
        self.paths = tuple(os.fspath(path) for path in paths)
        if not self.paths:
            raise ValueError("DiskCheck needs at least one path")
        self._limits = _Limits(warn, fail)

    def __repr__(self) -> str:
        return f"DiskCheck({list(self.paths)!r}, warn={self.warn}, fail={self.fail})"

    def __call__(self) -> Outcome:
        lines: list[str] = []
        detail: list[str] = []
        passed, warning = True, False
        worst: float | None = None
        for path in self.paths:
            try:
                usage = psutil.disk_usage(path)
            except OSError as exc:
                passed = False
                reason = exc.strerror or type(exc).__name__
                line = f"cannot read its file system ({reason.lower()})"
            else:
                percent = float(usage.percent)
                path_passed, path_warning = self._limits.grade(percent)
                passed, warning = passed and path_passed, warning or path_warning
                worst = percent if worst is None else max(worst, percent)
                line = (
                    f"{percent:.1f}% used{self._limits.note(percent)}, "
                    f"{format_bytes(usage.free)} free of {format_bytes(usage.total)}"
                )
            lines.append(line)
            detail.append(f"{path}: {line}")
        return Outcome(
            passed,
            "; ".join(lines),
            observed_value=worst,
            observed_unit="%" if worst is not None else None,
            warning=warning,
            detail="; ".join(detail),
        )


class MemoryCheck(_LimitedCheck):
    """Memory in use, as the percentage of total memory that is not available to new work.

    ``health.add_check(MemoryCheck())``. Defaults: warn from 85%, never fail. The value is
    psutil's ``virtual_memory().percent``, i.e. (total - available) / total: page cache that the
    kernel can drop counts as available. In a container this is the node's memory, not the
    container's limit. The name defaults to ``memory`` and the tags to ``("ready",)``.
    """

    name = "memory"

    def __init__(
        self,
        *,
        warn: float | None = 85.0,
        fail: float | None = None,
        **options: Unpack[CheckOptions],
    ) -> None:
        super().__init__(**options)
        self._limits = _Limits(warn, fail)

    def __repr__(self) -> str:
        return f"MemoryCheck(warn={self.warn}, fail={self.fail})"

    def __call__(self) -> Outcome:
        memory = psutil.virtual_memory()
        percent = float(memory.percent)
        passed, warning = self._limits.grade(percent)
        message = (
            f"memory {percent:.1f}% used{self._limits.note(percent)}, "
            f"{format_bytes(memory.available)} available of {format_bytes(memory.total)}"
        )
        return Outcome(passed, message, observed_value=percent, observed_unit="%", warning=warning)


class _CpuSample(NamedTuple):
    at: float  # time.monotonic()
    busy: float
    total: float


def _cpu_sample() -> _CpuSample:
    """Seconds of CPU time spent busy and in all, summed over the CPUs, as psutil counts them."""
    times: Any = psutil.cpu_times()
    total = sum(times)
    # Guest time is already counted in user time on Linux; psutil leaves it out the same way.
    total -= getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)
    idle = times.idle + getattr(times, "iowait", 0.0)
    return _CpuSample(time.monotonic(), total - idle, total)


class CpuCheck(_LimitedCheck):
    """CPU utilisation of the machine, averaged since the check's previous run.

    ``health.add_check(CpuCheck())``. Defaults: warn from 90%, never fail. A single instant
    says nothing about CPU load, so each run measures the busy share of CPU time since the
    previous run of this check (a probe every 10 s reports the last 10 s) without blocking.
    The first run, a run less than *interval* seconds after the previous one, and a run more
    than *max_window* seconds after it measure over *interval* seconds (default 0.5 s, less if
    the check's time is shorter), so the value always covers a meaningful and recent window.
    Unlike ``psutil.cpu_percent(interval=None)``, whose baseline is shared by every caller in
    the process, the baseline belongs to the check.

    The observed value is the percentage; the message also gives the load average. In a
    container this is the node's CPU, not the container's quota. The name defaults to ``cpu``
    and the tags to ``("ready",)``.
    """

    name = "cpu"

    def __init__(
        self,
        *,
        warn: float | None = 90.0,
        fail: float | None = None,
        interval: float = 0.5,
        max_window: float = 60.0,
        **options: Unpack[CheckOptions],
    ) -> None:
        super().__init__(**options)
        if isinstance(interval, bool) or not isinstance(interval, int | float) or interval <= 0:
            raise ValueError(f"'interval' must be a number of seconds above 0; got {interval!r}")
        if not isinstance(max_window, int | float) or max_window < interval:
            raise ValueError(
                f"'max_window' must be a number of seconds no less than 'interval' ({interval}); "
                f"got {max_window!r}"
            )
        self.interval = float(interval)
        self.max_window = float(max_window)
        self._limits = _Limits(warn, fail)
        self._lock = threading.Lock()
        self._baseline: _CpuSample | None = None
        renew_after_fork(self)

    def __repr__(self) -> str:
        return f"CpuCheck(warn={self.warn}, fail={self.fail})"

    def _after_fork(self) -> None:
        self._lock = threading.Lock()  # a run of the parent may have held it at the fork

    def measure(self) -> tuple[float, float]:
        """``(percent busy, seconds measured over)``, and make now the next run's baseline."""
        with self._lock:
            start = self._baseline
        now = time.monotonic()
        if start is None or now - start.at > self.max_window:
            start = _cpu_sample()
        age = now - start.at
        if age < self.interval:
            budget = self.time_left()
            time.sleep(max(0.05, min(self.interval - age, budget / 2)))
        end = _cpu_sample()
        with self._lock:
            if self._baseline is None or end.at > self._baseline.at:
                self._baseline = end
        total = end.total - start.total
        percent = 100.0 * (end.busy - start.busy) / total if total > 0 else 0.0
        return round(min(100.0, max(0.0, percent)), 1), end.at - start.at

    def __call__(self) -> Outcome:
        percent, window = self.measure()
        passed, warning = self._limits.grade(percent)
        cpus = psutil.cpu_count() or 1
        load = psutil.getloadavg()[0]
        message = (
            f"CPU {percent:.1f}% busy{self._limits.note(percent)} over the last {window:.1f} s "
            f"on {cpus} {'CPU' if cpus == 1 else 'CPUs'}, load average {load:.2f}"
        )
        return Outcome(passed, message, observed_value=percent, observed_unit="%", warning=warning)
