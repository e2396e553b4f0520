"""The library's life in a process: what a forked child does, and what ends with the process.

Pre-fork servers (gunicorn, uWSGI) and ``multiprocessing`` fork the process that loaded the
app. A child has only the thread that forked: every other thread (a check's run, the
scheduler, the probe port's server) stayed behind in the parent, and a lock one of them held
stays locked in the child for ever. Each module that keeps such process-wide state registers
here what a child must do; this module installs the one :func:`os.register_at_fork` hook that
does it, in a fixed order:

1. :attr:`Stage.FORGET`: drop what belongs to the parent (the runner's runs in flight and
   their locks, the scheduler's locks, the probe sockets the child inherited);
2. :attr:`Stage.RESTART`: start again what the parent ran (the scheduler and start-up
   threads of each app);
3. the work the parent handed to its workers with :func:`hand_to_workers` (the probe port of
   an app preloaded by a gunicorn master, served by each worker).

Within a stage, callbacks run in the order they were registered; one that raises is logged
and the others still run. The hooks never take a lock: a lock is the one thing a child cannot
trust.

It also tells the master of a pre-fork server from its workers (:func:`in_prefork_master`,
:func:`in_prefork_server`), and runs the callbacks given to :func:`at_exit` when the process
exits.
"""

from __future__ import annotations

import atexit
import enum
import importlib
import logging
import os
import sys
from collections.abc import Callable
from types import FrameType

logger = logging.getLogger("flask_healthcheck")


class Stage(enum.IntEnum):
    """When a callback registered with :func:`after_fork_in_child` runs, earliest first."""

    #: Forget what belongs to the parent: its runs in flight, locks, sockets.
    FORGET = 1
    #: Start again, in the child, the threads that ran in the parent.
    RESTART = 2


class ForkHooks:
    """Callbacks to run in a forked child, in the order of :class:`Stage`, then the work the
    parent handed to its workers. The module keeps one, called by the at-fork hook."""

    def __init__(self) -> None:
        self._callbacks: list[tuple[Stage, Callable[[], None]]] = []
        self._handed_down: list[Callable[[], None]] = []
        #: True in a process that has run work handed down by its parent.
        self.forked_worker = False
        #: True in a process forked from the one that registered the hooks.
        self.forked = False
        self._ran_in = 0

    def register(self, stage: Stage, callback: Callable[[], None]) -> None:
        """Run *callback* in each child at *stage*; see :func:`after_fork_in_child`."""
        self._callbacks.append((stage, callback))

    def hand_to_workers(self, callback: Callable[[], None]) -> None:
        """Run *callback* in each child after the stages; see :func:`hand_to_workers`."""
        self._handed_down.append(callback)

    def run_in_child(self) -> None:
        """What a child runs right after the fork (once, however many hooks call it)."""
        if self._ran_in == os.getpid():
            return
        self._ran_in = os.getpid()
        self.forked = True
        # A stable sort: registration order within a stage.
        for _, callback in sorted(self._callbacks, key=lambda entry: entry[0]):
            _call(callback)
        handed_down = list(self._handed_down)
        # The worker's own children (a multiprocessing pool) are not workers of the master.
        self._handed_down.clear()
        if handed_down:
            self.forked_worker = True
        for callback in handed_down:
            _call(callback)


def _call(callback: Callable[[], None]) -> None:
    try:
        callback()
    except Exception:
        logger.critical(
            "process %s: %r failed right after the fork", os.getpid(), callback, exc_info=True
        )


_hooks = ForkHooks()


def after_fork_in_child(stage: Stage, callback: Callable[[], None]) -> None:
    """Run *callback* in every child forked from this process from now on, at *stage*."""
    _hooks.register(stage, callback)


def hand_to_workers(callback: Callable[[], None]) -> None:
    """Run *callback* in each child forked from this process from now on, after the stages.

    For a pre-fork master (``gunicorn --preload``) that must not do what its workers do. A
    worker does not hand the work on to the processes it forks itself.
    """
    _hooks.hand_to_workers(callback)


def in_prefork_server() -> bool:
    """True in a process of a pre-fork server: gunicorn, uWSGI, or a worker that ran work
    its master handed down with :func:`hand_to_workers`."""
    return _hooks.forked_worker or "gunicorn.arbiter" in sys.modules or "uwsgi" in sys.modules


def in_prefork_master() -> bool:
    """True while gunicorn's master loads the app (``--preload``), or uWSGI's (without
    ``--lazy-apps``), before it forks workers.

    A gunicorn worker loads the app from ``Worker.load_wsgi``; the master (preloading) from
    its ``Arbiter``. The call stack tells them apart. uWSGI says which process is its master.
    """
    uwsgi = sys.modules.get("uwsgi")
    if uwsgi is not None and not _hooks.forked:
        master = getattr(uwsgi, "masterpid", None)
        return callable(master) and master() == os.getpid()
    arbiter = sys.modules.get("gunicorn.arbiter")
    if arbiter is None or _hooks.forked:
        return False  # a forked process is a worker, even while the fork is on its stack
    base = sys.modules.get("gunicorn.workers.base")
    worker_loading = getattr(getattr(base, "Worker", None), "load_wsgi", None)
    worker_code = getattr(worker_loading, "__code__", None)
    arbiter_file = getattr(arbiter, "__file__", None)
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if frame.f_code is worker_code:
            return False
        if frame.f_code.co_filename == arbiter_file:
            return True
        frame = frame.f_back
    return False


def prefork_master_addresses() -> list[object]:
    """While gunicorn's master preloads the app: the addresses it is about to listen on (its
    ``bind`` setting: ``(host, port)`` pairs, Unix socket paths); empty anywhere else.

    The master binds them only after loading the app, so a port the app binds while it
    loads (the probe port) could otherwise take one of them and be told apart from it only
    by gunicorn's own "Connection in use" error.
    """
    arbiter = sys.modules.get("gunicorn.arbiter")
    arbiter_class = getattr(arbiter, "Arbiter", None)
    if arbiter_class is None or not in_prefork_master():
        return []
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        master = frame.f_locals.get("self")
        if isinstance(master, arbiter_class):
            return list(getattr(master, "address", None) or [])
        frame = frame.f_back
    return []


def at_exit(callback: Callable[[], None]) -> None:
    """Run *callback* when the process exits normally (:mod:`atexit`)."""
    atexit.register(callback)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_hooks.run_in_child)


def _hook_uwsgi() -> None:
    """uWSGI forks its workers in C, where Python's at-fork hooks run only with
    ``--py-call-osafterfork``: its own post-fork hook runs them in any case (once)."""
    try:
        decorators = importlib.import_module("uwsgidecorators")
    except ImportError:  # not in uWSGI, or a build without it
        return
    decorators.postfork(_hooks.run_in_child)


if "uwsgi" in sys.modules:
    _hook_uwsgi()
