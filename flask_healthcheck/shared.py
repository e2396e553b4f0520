"""Where the worker processes of one server keep what they share: the server directory.

A pre-fork server (gunicorn, uWSGI) runs one app in several worker processes, and a probe lands
on any one of them. To act as one health unit they share what they know through files in a
directory of their own, the *server directory*: the latest result of each check and who is
running it (:mod:`~flask_healthcheck.store`), the start-up latch, the counters behind the
metrics, and which worker holds a role for the whole server (runs the background checks,
serves the probe port).

Where it is: ``HEALTHCHECK_SHARED_DIR`` (the setting, else the environment variable of the
same name, as ``PROMETHEUS_MULTIPROC_DIR`` is read) names a base directory; by default it is
``flask-healthcheck-<uid>`` in the system's temporary directory. Inside it each server has a
directory named after its master process: its process id and the time it started, as the
kernel counts it. A server that has died leaves a directory no later server can take for its
own (a reused process id has another start time), so its files are never read as fresh; the
next server to start removes it.

A process that is not part of a pre-fork server (the Flask development server, a test, a
``flask`` command) has nothing to share and uses no directory, unless the setting names one.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import shutil
import stat
import sys
import tempfile
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from . import process

logger = logging.getLogger("flask_healthcheck")

#: The setting (and environment variable) naming the base directory.
ENVIRONMENT_VARIABLE = "HEALTHCHECK_SHARED_DIR"


@dataclass(frozen=True)
class ServerIdentity:
    """The master process of a server: its id and its start time (clock ticks since boot,
    0 where the system does not tell), which together no later process can have."""

    pid: int
    started: int

    @property
    def directory_name(self) -> str:
        return f"{self.pid}-{self.started}"


def process_start_time(pid: int) -> int | None:
    """When process *pid* started, in clock ticks since boot (Linux ``/proc``); 0 where the
    system does not tell; None when no such process is running."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat_file:
            line = stat_file.read()
    except FileNotFoundError:
        return None if os.path.isdir("/proc/self") else _alive_or_none(pid)
    except OSError:
        return _alive_or_none(pid)
    # The command name, in parentheses, may hold spaces; the fields after it do not.
    fields = line[line.rindex(b")") + 2 :].split()
    return int(fields[19])


def _alive_or_none(pid: int) -> int | None:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return 0
    return 0


def server_identity() -> ServerIdentity | None:
    """The master of the pre-fork server this process belongs to, or None outside one.

    Under gunicorn the master loads the app itself with ``--preload`` (then it is this
    process) and otherwise each worker does (then it is the parent). Under uWSGI the master
    says its id.
    """
    if process.in_prefork_master():
        pid = os.getpid()
    elif "uwsgi" in sys.modules:
        master = getattr(sys.modules["uwsgi"], "masterpid", None)
        pid = master() if callable(master) else 0
        if not pid:
            pid = os.getpid()  # uWSGI without a master: one process, or each its own
    elif process.in_prefork_server():
        pid = os.getppid()
    else:
        return None
    started = process_start_time(pid)
    return ServerIdentity(pid, started or 0)


def base_directory(configured: str | None) -> Path:
    """The directory that holds the servers' directories."""
    chosen = configured or os.environ.get(ENVIRONMENT_VARIABLE)
    if chosen:
        return Path(chosen)
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"flask-healthcheck-{uid}"


def locate(configured: str | None) -> ServerDirectory | None:
    """The server directory of this process, made if need be; None when nothing is shared.

    *configured* is ``HEALTHCHECK_SHARED_DIR``. Outside a pre-fork server a directory is used
    only when one is configured (or set in the environment), and then the process counts as
    a server of its own.
    """
    identity = server_identity()
    explicit = configured or os.environ.get(ENVIRONMENT_VARIABLE)
    if identity is None:
        if not explicit:
            return None
        identity = ServerIdentity(os.getpid(), process_start_time(os.getpid()) or 0)
    base = base_directory(configured)
    directory = ServerDirectory(base / identity.directory_name, identity)
    directory.create()
    return directory


class ServerDirectory:
    """The directory of one server's shared state (see the module's docs)."""

    def __init__(self, path: Path, identity: ServerIdentity) -> None:
        self.path = path
        self.identity = identity

    def __repr__(self) -> str:
        return f"ServerDirectory({str(self.path)!r})"

    def create(self) -> None:
        """Make the directory, private to this user, and remove those of dead servers."""
        base = self.path.parent
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
        _require_private(base)
        if not self.path.is_dir():
            _remove_dead_servers(base)
            self.path.mkdir(mode=0o700, exist_ok=True)
        _require_private(self.path)

    def sub(self, *parts: str) -> Path:
        """A subdirectory (made if need be) for one app's or one part's files."""
        path = self.path.joinpath(*parts)
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        return path

    def role(self, name: str) -> Role:
        """The role *name* (``scheduler``, ``probe-port``), which one process holds at a time."""
        return Role(self.path / f"{name}.role")


def _require_private(path: Path) -> None:
    """Refuse a directory another user owns or can write: its files could be forged."""
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode):
        raise OSError(errno.ENOTDIR, f"{path} is not a directory")
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise PermissionError(errno.EPERM, f"{path} belongs to another user", str(path))
    if info.st_mode & 0o022:
        raise PermissionError(errno.EPERM, f"{path} is writable by other users", str(path))


def _remove_dead_servers(base: Path) -> None:
    for entry in base.iterdir():
        pid_text, _, started_text = entry.name.partition("-")
        if not (pid_text.isdigit() and started_text.isdigit()):
            continue
        started = process_start_time(int(pid_text))
        if started is None or (started and started != int(started_text)):
            logger.debug("removing %s, left by a server that has stopped", entry)
            shutil.rmtree(entry, ignore_errors=True)


class Role:
    """Something one process of the server does for all of them (run the background checks,
    serve the probe port), held with an exclusive :func:`fcntl.flock` on a file.

    The kernel releases the lock when its process dies, however it dies, so another process
    takes the role over at its next :meth:`try_take`, or at once if a thread of it waits in
    :meth:`wait_and_take`. A forked child does not inherit the role:
    :mod:`~flask_healthcheck.process` has it drop the descriptor without unlocking.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._pid = 0
        self._waiting: int | None = None
        _ROLES.add(self)

    @property
    def held(self) -> bool:
        """True while this process holds the role."""
        return self._fd is not None and self._pid == os.getpid()

    def try_take(self) -> bool:
        """Take the role unless another process holds it; True when this process holds it."""
        if self.held:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._claim(fd)
        return True

    def wait_and_take(self) -> None:
        """Block until this process holds the role, for a thread of its own that has nothing
        else to do.

        The kernel wakes the waiter as soon as the holder lets the role go or dies, so the
        role changes hands within milliseconds and nobody polls. A forked child does not
        inherit the wait (:mod:`~flask_healthcheck.process` has it drop the descriptor).
        """
        if self.held:
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._waiting = fd
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            self._waiting = None
            os.close(fd)
            raise
        self._waiting = None
        self._claim(fd)

    def _claim(self, fd: int) -> None:
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd, self._pid = fd, os.getpid()

    def holder(self) -> int | None:
        """The process id of the holder, as it wrote it, or None when nobody holds the role."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                text = os.read(fd, 32).decode(errors="replace").strip()
                return int(text) if text.isdigit() else 0
            return None
        finally:
            os.close(fd)

    def release(self) -> None:
        """Give the role up (the next :meth:`try_take` of another process gets it)."""
        fd, self._fd = self._fd, None
        if fd is not None and self._pid == os.getpid():
            os.close(fd)

    def _forget(self) -> None:
        # In a forked child: the descriptor is the parent's lock (or the wait for it, which a
        # thread of the parent may win at any time); closing our copy of it leaves the
        # parent's lock in place, where unlocking it would release it.
        held, self._fd = self._fd, None
        waiting, self._waiting = self._waiting, None
        for fd in (held, waiting):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)


_ROLES: weakref.WeakSet[Role] = weakref.WeakSet()


def _forget_the_parents_roles() -> None:
    for role in list(_ROLES):
        role._forget()


process.after_fork_in_child(process.Stage.FORGET, _forget_the_parents_roles)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace *path* with *data* so that a reader sees the old content or the new, whole."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as output:
            output.write(data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


@contextlib.contextmanager
def locked(path: Path) -> Iterator[int]:
    """Hold an exclusive :func:`fcntl.flock` on *path* (made if need be) for a short while;
    yields the descriptor."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)
