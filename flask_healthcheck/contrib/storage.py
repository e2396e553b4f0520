"""Storage: write, stat, read back and delete a probe file in a directory or an fsspec URL.

A local directory needs nothing more. A URL (``s3://bucket/uploads``, ``gcs://...``,
``memory://``, ``file:///srv/media``) needs the ``fsspec`` extra
(``pip install 'flask-health-checks[fsspec]'``) and the fsspec backend of its scheme (s3fs, gcsfs).
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

from flask_healthcheck.contrib._base import BuiltinCheck
from flask_healthcheck.contrib._outcomes import answered, describe_os_error, failure
from flask_healthcheck.exceptions import MissingDependencyError
from flask_healthcheck.redact import mask_credentials
from flask_healthcheck.results import Outcome

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from flask_healthcheck.registry import CheckOptions

#: Names of probe files start with this; each run adds a random part.
PROBE_PREFIX = ".flask_healthcheck-probe-"

Location: TypeAlias = "str | os.PathLike[str]"

_STEP_FAILED = {
    "open": "cannot open the file system",
    "write": "cannot write a probe file",
    "stat": "cannot stat the probe file",
    "read back": "cannot read the probe file back",
    "delete": "cannot delete the probe file",
}


class _ProbeMismatchError(Exception):
    """The storage answered, but did not give back what was written."""


def _fsspec() -> Any:
    try:
        import fsspec
    except ImportError as exc:
        raise MissingDependencyError("fsspec", "fsspec") from exc
    return fsspec


def _is_url(location: str) -> bool:
    return "://" in location


class StorageCheck(BuiltinCheck):
    """Files can be written, listed, read back and deleted where the app keeps them.

    ``health.add_check(StorageCheck("/srv/uploads"))``, or with an fsspec URL such as
    ``StorageCheck("s3://media/uploads", storage_options={"anon": False})``. Each run writes a
    small file named ``.flask_healthcheck-probe-<random hex>`` with random content, checks its
    size, reads it back, compares and deletes it; the file is removed even when a step fails.
    The observed value is the time of the round trip in ms.

    *directory_or_url* may be a callable, called on every run inside the app context, for a
    location known only from the app's config (``lambda: current_app.config["UPLOAD_FOLDER"]``).
    ``None`` or an empty string means "no storage configured": the check passes and says so.
    *storage_options* are passed to fsspec's filesystem. *fsync* (default True) flushes a local
    probe file to the disk before reading it back, so a full or failing device is noticed.

    The name defaults to ``storage`` and the tags to ``("ready",)``; the other options are those
    of :meth:`~flask_healthcheck.HealthCheck.add_check`. The public sees what happened ("wrote,
    read back and deleted a probe file in 0.4 ms", "cannot write a probe file: permission
    denied"); the token holder sees the directory or URL (credentials masked) as well.
    """

    name = "storage"

    def __init__(
        self,
        directory_or_url: Location | Callable[[], Location | None] | None = None,
        *,
        storage_options: Mapping[str, Any] | None = None,
        fsync: bool = True,
        **options: Unpack[CheckOptions],
    ) -> None:
        super().__init__(**options)
        if callable(directory_or_url):
            self._locate: Callable[[], Location | None] = directory_or_url
        else:
            fixed = directory_or_url
            if fixed is not None and _is_url(os.fspath(fixed)):
                self._protocol_class(os.fspath(fixed))  # an unknown scheme fails at start-up
            self._locate = lambda: fixed
        self.storage_options = dict(storage_options or {})
        self.fsync = fsync
        self._filesystems: dict[str, tuple[Any, str]] = {}

    def __repr__(self) -> str:
        return f"StorageCheck(name={self.name!r})"

    @staticmethod
    def _protocol_class(url: str) -> Any:
        fsspec = _fsspec()
        protocol = url.split("://", 1)[0]
        try:
            return fsspec.get_filesystem_class(protocol)
        except ValueError:
            raise ValueError(
                f"fsspec knows no file system for {protocol}:// (in {mask_credentials(url)!r})"
            ) from None

    def __call__(self) -> Outcome:
        location = self._locate()
        if location is None or os.fspath(location) == "":
            return Outcome(True, "storage not configured")
        location = os.fspath(location)
        probe_name = f"{PROBE_PREFIX}{uuid.uuid4().hex}"
        payload = os.urandom(32)
        started = time.perf_counter()
        if _is_url(location):
            where = f"storage {mask_credentials(location)}"
            self._probe_fsspec(location, where, probe_name, payload)
        else:
            where = f"storage {location}"
            self._probe_directory(location, where, probe_name, payload)
        return answered(where, "wrote, read back and deleted a probe file", started)

    def _probe_directory(self, directory: str, where: str, probe_name: str, payload: bytes) -> None:
        try:
            mode = os.stat(directory).st_mode
        except FileNotFoundError as exc:
            raise failure("the directory does not exist", where) from exc
        except OSError as exc:
            raise failure(describe_os_error(exc), where) from exc
        if not stat.S_ISDIR(mode):
            raise failure("not a directory", where)
        path = os.path.join(directory, probe_name)
        step = "write"
        created = False
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            created = True
            with os.fdopen(descriptor, "wb") as probe:
                probe.write(payload)
                probe.flush()
                if self.fsync:
                    os.fsync(probe.fileno())
            step = "stat"
            if os.stat(path).st_size != len(payload):
                raise _ProbeMismatchError("the probe file has another size than was written")
            step = "read back"
            with open(path, "rb") as probe:
                if probe.read() != payload:
                    raise _ProbeMismatchError("the probe file reads back other bytes")
            step = "delete"
            os.remove(path)
            created = False
        except _ProbeMismatchError as exc:
            raise failure(str(exc), where) from exc
        except OSError as exc:
            raise failure(f"{_STEP_FAILED[step]}: {describe_os_error(exc)}", where) from exc
        finally:
            if created:
                with contextlib.suppress(OSError):
                    os.remove(path)

    def _filesystem(self, url: str) -> tuple[Any, str]:
        cached = self._filesystems.get(url)
        if cached is None:
            self._protocol_class(url)
            fs, root = _fsspec().core.url_to_fs(url, **self.storage_options)
            cached = self._filesystems[url] = (fs, str(root))
        return cached

    def _probe_fsspec(self, url: str, where: str, probe_name: str, payload: bytes) -> None:
        step = "open"
        written = False
        fs: Any = None
        path = ""
        try:
            fs, root = self._filesystem(url)
            path = f"{root.rstrip('/')}/{probe_name}"
            step = "write"
            written = True  # a failed write may still leave a partial object behind
            fs.pipe_file(path, payload)
            step = "stat"
            size = fs.info(path).get("size")
            if size is not None and int(size) != len(payload):
                raise _ProbeMismatchError("the probe file has another size than was written")
            step = "read back"
            if bytes(fs.cat_file(path)) != payload:
                raise _ProbeMismatchError("the probe file reads back other bytes")
            step = "delete"
            fs.rm_file(path)
            written = False
        except (_ProbeMismatchError, MissingDependencyError) as exc:
            raise failure(str(exc), where) from exc
        except OSError as exc:
            raise failure(f"{_STEP_FAILED[step]}: {describe_os_error(exc)}", where) from exc
        except Exception as exc:  # backends raise their own errors (botocore, google.api_core)
            raise failure(f"{_STEP_FAILED[step]} ({type(exc).__name__})", where) from exc
        finally:
            if written and fs is not None:
                with contextlib.suppress(Exception):
                    fs.rm_file(path)
