"""Counters the processes of one server add up: each counts into files of its own.

The metrics (:mod:`~flask_healthcheck.metrics`) count every answer of the health endpoints,
the liveness fast path's included, so counting must cost next to nothing; and a scrape that
reaches any worker of a pre-fork server must show the counts of the whole server. So each
process counts into files of its own, in the app's ``metrics`` part of the server directory
(:mod:`~flask_healthcheck.shared`), and a reader adds up the files of every process:

``<pid>-<started>-<serial>.counts``
    The values: unsigned 64-bit integers in the machine's byte order, one 8-byte slot per
    counter, mapped into memory by their process, which adds one to a slot in place. A slot
    is aligned, so the increment is one 8-byte store, which a reader that maps the file too
    reads whole: no lock between processes, and no system call to count.
``<pid>-<started>-<serial>.json``
    The names of the slots in slot order, and a document of the caller's (the metrics keep
    their check series there), replaced whole (:func:`~flask_healthcheck.shared.write_atomically`)
    when a counter is added or the document changes. The process sizes the ``.counts`` file
    before it names a new slot, and a reader reads the names before the values, so every
    slot it knows the name of is in the file.
``exited.json``
    The counts and documents of the processes that have exited, folded into one by the reader
    that found their files, which it then removes: counters never go down when a worker is
    recycled, and a long-lived server keeps files for its live processes only.

A file's name says who writes it: the process id and start time (a later process may get the
id, never both) and a serial number for two writers in one process (two apps whose files
share a directory). A forked child never writes its parent's files: :mod:`~.process` has it
forget them, and it makes its own at its first count.

Readers take an exclusive :func:`~flask_healthcheck.shared.locked` on ``.lock`` in the
directory while they read and fold, so a file is never counted both in ``exited.json`` and
as a live process's; writers never take it. :class:`Counters` is the same interface without
files, for a process that shares nothing.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import mmap
import os
import re
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import process, shared

logger = logging.getLogger("flask_healthcheck")

#: Slots a process's ``.counts`` file starts with; it doubles when they are all named.
INITIAL_SLOTS = 64
_SLOT_SIZE = 8
_PROCESS_FILE = re.compile(r"(\d+)-(\d+)-(\d+)\.(?:counts|json)")
_EXITED = "exited.json"
_LOCK = ".lock"
_SERIALS = itertools.count()

#: A document of the caller's: anything :func:`json.dumps` writes.
Document = Any
#: Folds the documents of several processes into one (for the processes that have exited).
Merge = Callable[[list[Document]], Document]


@dataclass(frozen=True)
class ProcessCounts:
    """What one process of the server counted, as a reader found it."""

    #: The process id; None for the processes that have exited, folded into one.
    pid: int | None
    counts: dict[str, int]
    #: The process's document; None when it has published none.
    document: Document = None


class Counters:
    """Named counters of this process, kept in memory: a process that shares nothing.

    :class:`SharedCounters` has the same interface and keeps them in files the other
    processes of the server read. Thread-safe; a forked child starts with a new lock.
    """

    #: True when other processes read these counters (:class:`SharedCounters`).
    shared = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        _ALL.add(self)

    def increment(self, key: str) -> None:
        """Add one to the counter *key* (made at zero if need be)."""
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1

    def counts(self) -> dict[str, int]:
        """This process's counters."""
        with self._lock:
            return dict(self._counts)

    def publish(self, document: Document) -> None:
        """Let the other processes read *document*; nobody reads it here."""

    def others(self, merge: Merge) -> list[ProcessCounts]:
        """What the other processes of the server counted: none here."""
        return []

    def _forget_parent(self) -> None:
        """In a forked child: a new lock (a thread of the parent may have held the old one);
        the counts stay, as everything in the child's memory does."""
        self._lock = threading.Lock()


class SharedCounters(Counters):
    """Named counters of this process, in files of *directory* that every process of the
    server reads (see the module's docs); :meth:`others` reads theirs.

    One writer per file: this process, whose threads take turns on a lock. A forked child
    starts at zero with files of its own.
    """

    shared = True

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._warned = False
        self._start()
        _ALL.add(self)

    def _start(self) -> None:
        """No file yet: they are made at the first count or document of this process."""
        self._lock = threading.Lock()
        #: Orders the writes of the ``.json`` file, so the last one written is the newest.
        self._publishing = threading.Lock()
        #: Named now, not at the first write: two threads (a count and a check's result)
        #: may make the files at once, and both must name the same.
        self._name = _writer_name()
        self._keys: list[str] = []
        self._slots: dict[str, int] = {}
        self._mapping: mmap.mmap | None = None
        #: The slots: a view of the mapped file, or a list once the file could not be made.
        self._values: memoryview | list[int] = []
        self._in_memory = False
        self._document: Document = None

    def increment(self, key: str) -> None:
        with self._lock:
            slot = self._slots.get(key)
            if slot is not None:
                self._values[slot] += 1
                return
            slot = self._add(key)  # may replace self._values: look it up after
            self._values[slot] += 1
        self._write()

    def _add(self, key: str) -> int:
        """A slot for *key*, in the file before its name is published (under the lock)."""
        slot = len(self._keys)
        if slot >= len(self._values):
            self._grow(max(INITIAL_SLOTS, 2 * len(self._values)))
        self._keys.append(key)
        self._slots[key] = slot
        return slot

    def _grow(self, slots: int) -> None:
        if self._in_memory:
            self._values = [*self._values, *[0] * (slots - len(self._values))]
            return
        size = slots * _SLOT_SIZE
        try:
            if self._mapping is None:
                path = self.directory / f"{self._name}.counts"
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
                try:
                    os.ftruncate(fd, size)
                    mapping = mmap.mmap(fd, size)
                finally:
                    os.close(fd)
            else:
                mapping = self._mapping
                self._release_view()
                mapping.resize(size)  # extends the file too
            self._mapping = mapping
            self._values = memoryview(mapping).cast("Q")
        except OSError as exc:
            # Counting goes on in memory: this process's own scrapes still see every count.
            self._warn("cannot keep its counts in %s (%s): other workers will not see them", exc)
            self._drop_mapping()
            self._in_memory = True
            self._grow(slots)

    def _release_view(self) -> None:
        if isinstance(self._values, memoryview):
            values = self._values
            self._values = values.tolist()
            values.release()

    def _drop_mapping(self) -> None:
        self._release_view()
        mapping, self._mapping = self._mapping, None
        if mapping is not None:
            with contextlib.suppress(BufferError, ValueError):
                mapping.close()

    def counts(self) -> dict[str, int]:
        with self._lock:
            values = self._values
            return {key: values[slot] for key, slot in self._slots.items()}

    def publish(self, document: Document) -> None:
        """Write *document* into this process's ``.json`` file for the other processes.

        Callers publish one document after another (the metrics do it under their lock), so
        the file always ends with the newest.
        """
        with self._publishing:
            self._document = document
        self._write()

    def _write(self) -> None:
        with self._publishing:
            with self._lock:
                keys = list(self._keys)
            data = json.dumps({"keys": keys, "document": self._document}).encode()
            try:
                shared.write_atomically(self.directory / f"{self._name}.json", data)
            except OSError as exc:
                self._warn("cannot write its metrics into %s (%s)", exc)

    def _warn(self, message: str, exc: OSError) -> None:
        if not self._warned:
            self._warned = True
            logger.warning("process %s " + message, os.getpid(), self.directory, exc)

    def others(self, merge: Merge) -> list[ProcessCounts]:
        """What the other processes of the server counted: one entry for each live process,
        and one (``pid`` None) for those that have exited; their files are folded into
        ``exited.json`` on the way, their documents with *merge*."""
        try:
            with shared.locked(self.directory / _LOCK):
                return _read_and_fold(self.directory, self._name, merge)
        except OSError as exc:
            self._warn("cannot read the metrics of the other workers in %s (%s)", exc)
            return []

    def _forget_parent(self) -> None:
        """In a forked child: the parent's files stay the parent's. The child unmaps its
        copy (the parent's mapping is its own) and counts from zero into files of its own."""
        self._drop_mapping()
        self._start()


def _writer_name() -> str:
    """The name of the files of a new writer in this process (see the module's docs)."""
    pid = os.getpid()
    return f"{pid}-{shared.process_start_time(pid) or 0}-{next(_SERIALS)}"


_ALL: weakref.WeakSet[Counters] = weakref.WeakSet()


def _forget_the_parents_counters() -> None:
    for counters in list(_ALL):
        counters._forget_parent()


process.after_fork_in_child(process.Stage.FORGET, _forget_the_parents_counters)


# -- reading -------------------------------------------------------------------------------


@dataclass
class _Exited:
    """``exited.json``: what the processes that have exited counted, folded into one."""

    counts: dict[str, int] = field(default_factory=dict)
    document: Document = None
    #: Processes whose files are folded in here: their files, if still there, are not read
    #: (a reader stopped between writing this file and removing theirs).
    folded: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, directory: Path) -> _Exited:
        try:
            data = json.loads((directory / _EXITED).read_bytes())
            counts = data["counts"]
            folded = data["folded"]
            if not (
                isinstance(counts, dict)
                and all(isinstance(value, int) for value in counts.values())
                and isinstance(folded, list)
            ):
                raise ValueError("malformed")
            return cls(counts, data.get("document"), [str(name) for name in folded])
        except FileNotFoundError:
            return cls()
        except (ValueError, KeyError, TypeError):
            logger.warning("ignoring %s: it is not what this version writes", directory / _EXITED)
            return cls()

    def write(self, directory: Path) -> None:
        data = {"counts": self.counts, "document": self.document, "folded": self.folded}
        shared.write_atomically(directory / _EXITED, json.dumps(data).encode())


def _process_names(directory: Path) -> Iterator[tuple[str, int, int]]:
    """The writers that have files in *directory*: name, process id and start time."""
    seen = set()
    for entry in os.scandir(directory):
        match = _PROCESS_FILE.fullmatch(entry.name)
        if match is None:
            continue
        name = entry.name.rsplit(".", 1)[0]
        if name not in seen:
            seen.add(name)
            yield name, int(match.group(1)), int(match.group(2))


def _running(pid: int, started: int) -> bool:
    """True while the process that wrote a file runs (not one that has its id since)."""
    now = shared.process_start_time(pid)
    return now is not None and not (now and started and now != started)


def _read_and_fold(directory: Path, own: str, merge: Merge) -> list[ProcessCounts]:
    exited = _Exited.read(directory)
    folded = set(exited.folded)
    found: list[ProcessCounts] = []
    ended: list[tuple[str, dict[str, int], Document]] = []
    for name, pid, started in sorted(_process_names(directory)):
        if name == own or name in folded:
            continue
        counts, document = _read_process(directory, name)
        if _running(pid, started):
            found.append(ProcessCounts(pid, counts, document))
        else:
            ended.append((name, counts, document))
    if ended:
        exited = _fold(directory, exited, ended, merge)
    if exited.counts or exited.document is not None:
        found.append(ProcessCounts(None, exited.counts, exited.document))
    return found


def _fold(
    directory: Path,
    exited: _Exited,
    ended: list[tuple[str, dict[str, int], Document]],
    merge: Merge,
) -> _Exited:
    """Fold the files of the processes that have *ended* into ``exited.json``, then remove
    them; the names of earlier folds whose files are gone are forgotten."""
    counts = dict(exited.counts)
    for _, process_counts, _ in ended:
        for key, count in process_counts.items():
            counts[key] = counts.get(key, 0) + count
    documents = [exited.document, *(document for _, _, document in ended)]
    present = {name for name, _, _ in _process_names(directory)}
    names = [name for name in exited.folded if name in present]
    folded = _Exited(counts, merge(documents), names + [name for name, _, _ in ended])
    folded.write(directory)
    for name, _, _ in ended:
        for suffix in (".counts", ".json"):
            with contextlib.suppress(FileNotFoundError):
                (directory / f"{name}{suffix}").unlink()
    return folded


def _read_process(directory: Path, name: str) -> tuple[dict[str, int], Document]:
    """The counters and document of one writer: names first, then values (module docs)."""
    try:
        data = json.loads((directory / f"{name}.json").read_bytes())
        keys, document = data["keys"], data.get("document")
        if not (isinstance(keys, list) and all(isinstance(key, str) for key in keys)):
            raise ValueError("malformed")
    except FileNotFoundError:
        return {}, None  # counting has begun; the names follow
    except (ValueError, KeyError, TypeError):
        logger.warning("ignoring %s: it is not what this version writes", directory / name)
        return {}, None
    values = _read_values(directory / f"{name}.counts")
    return {key: values[slot] for slot, key in enumerate(keys) if slot < len(values)}, document


def _read_values(path: Path) -> list[int]:
    """The slots of a ``.counts`` file, each read whole (one 8-byte load, as it is written):
    a ``read()`` copies bytes, and could catch a slot between two of them."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return []
    try:
        size = os.fstat(fd).st_size // _SLOT_SIZE * _SLOT_SIZE
        if not size:
            return []
        with mmap.mmap(fd, size, access=mmap.ACCESS_READ) as mapping:
            view = memoryview(mapping).cast("Q")
            try:
                return view.tolist()
            finally:
                view.release()
    finally:
        os.close(fd)
