"""The results the workers of one server share, and who is running each check now.

With a server directory (:mod:`~flask_healthcheck.shared`), the runner of each worker keeps a
:class:`SharedResults`: one file per check holding its :class:`Record`, the server's view of
the check: the latest reported result, its failure streak, until when it is fresh, the
*lease* of the worker running it now, and its recent runs (:mod:`~flask_healthcheck.history`).
The runner's own cache stays in front of it, so a fresh result costs a worker one read of the
file per TTL.

Who writes: every change is a read-modify-write under an exclusive :func:`fcntl.flock` on the
check's lock file, held for microseconds (never while a check runs), and the file is replaced
whole (:func:`~flask_healthcheck.shared.write_atomically`), so a reader needs no lock and sees
the old record or the new one.

One run per check per TTL for the whole server: a worker whose cached result has expired
*claims* the check. The claim returns the record's fresh result if another worker has just
stored one; the lease, if no live worker holds one; or "busy" when another worker is running
it, and that worker's runner then waits for the holder's result. A lease ends when its run
ends or at the run's timeout, whichever comes first, and a lease whose holder has died
counts as ended: a worker that hangs or dies never blocks the others for longer than the
check's timeout.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .history import Entry
from .results import CheckResult
from .shared import locked, write_atomically
from .verdict import Streak


@dataclass(frozen=True)
class Lease:
    """A worker's right to run a check until *until* (epoch seconds)."""

    pid: int
    token: int
    until: float

    def held_at(self, now: float) -> bool:
        """True while the lease runs and its holder lives."""
        return now < self.until and _alive(self.pid)


@dataclass(frozen=True)
class Record:
    """The server's view of one check."""

    #: The latest reported result (after the failure tolerance), None before the first.
    result: CheckResult | None = None
    #: The check's own results in a row, for the failure tolerance.
    streak: Streak = dataclasses.field(default_factory=Streak)
    #: Until when (epoch seconds) :attr:`result` is fresh and no worker runs the check.
    fresh_until: float = 0.0
    #: The worker running the check now, if any.
    lease: Lease | None = None
    #: The check's recent runs, oldest first (:mod:`~flask_healthcheck.history`).
    history: tuple[Entry, ...] = ()

    def fresh_at(self, now: float) -> bool:
        return self.result is not None and now < self.fresh_until


@dataclass(frozen=True)
class Claim:
    """What :meth:`SharedResults.claim` found: a fresh result to use, the lease to run the
    check (*granted*), or another worker's lease (*busy*)."""

    record: Record
    granted: Lease | None = None

    @property
    def fresh(self) -> bool:
        return self.granted is None and self.record.lease is None

    @property
    def busy(self) -> bool:
        return self.granted is None and self.record.lease is not None


_tokens = itertools.count(1)


class SharedResults:
    """The records of one app's checks in *directory* (see the module's docs)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def __repr__(self) -> str:
        return f"SharedResults({str(self.directory)!r})"

    def _paths(self, name: str) -> tuple[Path, Path]:
        safe = "".join(char if char.isalnum() or char in "-_." else "_" for char in name)
        stem = f"{safe[:80]}-{hashlib.sha256(name.encode()).hexdigest()[:10]}"
        return self.directory / f"{stem}.record", self.directory / f"{stem}.lock"

    def read(self, name: str) -> Record | None:
        """The record of check *name*, or None before anything was stored; no lock taken."""
        path, _ = self._paths(name)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            record = pickle.loads(data)  # noqa: S301 (our own files, in a private directory)
        except Exception:
            return None  # a file of another version of the library: as if none
        return record if isinstance(record, Record) else None

    def update(self, name: str, change: Callable[[Record], Record | None]) -> tuple[Record, bool]:
        """Apply *change* to the record of *name* under its lock; returns the record as it is
        afterwards and whether *change* replaced it (it returns None to leave it)."""
        path, lock = self._paths(name)
        with locked(lock):
            current = self.read(name) or Record()
            replacement = change(current)
            if replacement is None:
                return current, False
            stored = replacement
            if replacement.result is not None:
                # The text the formats cached on the result stays with this process.
                stored = dataclasses.replace(
                    replacement, result=dataclasses.replace(replacement.result)
                )
            write_atomically(path, pickle.dumps(stored, protocol=pickle.HIGHEST_PROTOCOL))
            return replacement, True

    def claim(self, name: str, now: float, until: float) -> Claim:
        """Take the lease of check *name* to run it until *until*, unless its result is fresh
        at *now* or a live worker holds the lease (see :class:`Claim`)."""
        granted: list[Lease] = []

        def take(record: Record) -> Record | None:
            if record.fresh_at(now):
                return None
            if record.lease is not None and record.lease.held_at(now):
                return None
            lease = Lease(os.getpid(), next(_tokens), until)
            granted.append(lease)
            return dataclasses.replace(record, lease=lease)

        record, _ = self.update(name, take)
        if granted:
            return Claim(record, granted[0])
        if record.fresh_at(now):
            return Claim(dataclasses.replace(record, lease=None))
        return Claim(record)

    def clear(self) -> None:
        """Forget every record (tests, and an app that starts afresh)."""
        for path in self.directory.glob("*.record"):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
