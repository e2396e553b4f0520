"""StorageCheck on real directories, real small volumes and fsspec memory:// and file:// URLs."""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fsspec
import pytest
from flask import Flask, current_app
from fsspec.implementations.memory import MemoryFileSystem

from flask_healthcheck import CheckError, HealthCheck, MissingDependencyError
from flask_healthcheck.contrib.storage import PROBE_PREFIX, StorageCheck
from tests.services import small_volume


def fill(directory: Path) -> None:
    """Write into *directory* until its volume has no byte left."""
    chunk = b"\0" * 65536
    with open(directory / "ballast", "wb", buffering=0) as ballast:
        with contextlib.suppress(OSError):
            while True:
                ballast.write(chunk)
        with contextlib.suppress(OSError):
            while True:
                ballast.write(b"\0")


def probes_in(directory: Path) -> list[str]:
    return [name for name in os.listdir(directory) if name.startswith(PROBE_PREFIX)]


@pytest.fixture
def memory_root() -> Iterator[str]:
    root = f"/test-{uuid.uuid4().hex}"
    yield root
    fs = MemoryFileSystem()
    if fs.exists(root):
        fs.rm(root, recursive=True)


# -- local directories -------------------------------------------------------------------------


def test_passes_in_a_writable_directory_and_leaves_nothing(tmp_path: Path) -> None:
    outcome = StorageCheck(str(tmp_path))()
    assert outcome.passed
    assert outcome.detail == f"storage {tmp_path}: {outcome.output}"
    assert outcome.output.startswith("wrote, read back and deleted a probe file in ")
    assert outcome.observed_unit == "ms"
    assert isinstance(outcome.observed_value, float)
    assert os.listdir(tmp_path) == []


def test_takes_a_path_object(tmp_path: Path) -> None:
    assert StorageCheck(tmp_path)().passed


@pytest.mark.parametrize("location", [None, ""])
def test_passes_when_not_configured(location: str | None) -> None:
    outcome = StorageCheck(location)()
    assert outcome.passed
    assert outcome.output == "storage not configured"


def test_fails_when_the_directory_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "uploads"
    with pytest.raises(CheckError) as caught:
        StorageCheck(missing)()
    assert str(caught.value) == "the directory does not exist"
    assert caught.value.detail == f"storage {missing}: the directory does not exist"


def test_fails_when_the_path_is_a_file(tmp_path: Path) -> None:
    regular = tmp_path / "file.txt"
    regular.write_text("not a directory")
    with pytest.raises(CheckError) as caught:
        StorageCheck(regular)()
    assert str(caught.value) == "not a directory"
    assert caught.value.detail == f"storage {regular}: not a directory"


def test_fails_clearly_in_a_read_only_directory(tmp_path: Path) -> None:
    if os.geteuid() == 0:  # root writes through permissions; a read-only mount stops it
        context: contextlib.AbstractContextManager[Path] = small_volume(
            tmp_path / "ro", "ro,size=64k"
        )
        expected = "read-only file system"
    else:
        (tmp_path / "ro").mkdir()
        (tmp_path / "ro").chmod(0o555)
        context = contextlib.nullcontext(tmp_path / "ro")
        expected = "permission denied"
    with context as directory:
        with pytest.raises(CheckError) as caught:
            StorageCheck(directory)()
        assert str(caught.value) == f"cannot write a probe file: {expected}"
        assert caught.value.detail == f"storage {directory}: {caught.value}"
        assert probes_in(directory) == []


def test_fails_on_a_full_volume_and_removes_its_probe(tmp_path: Path) -> None:
    with small_volume(tmp_path / "full", "size=1m") as volume:
        fill(volume)
        with pytest.raises(CheckError) as caught:
            StorageCheck(volume)()
        assert caught.value.detail == f"storage {volume}: {caught.value}"
        assert str(caught.value) == ("cannot write a probe file: no space left on device")
        assert probes_in(volume) == []


def test_reads_its_location_from_the_app_config_on_each_run(
    make_app: Callable[..., Flask], health: HealthCheck, tmp_path: Path
) -> None:
    health.add_check(StorageCheck(lambda: current_app.config.get("UPLOAD_FOLDER")))
    app = make_app(UPLOAD_FOLDER=str(tmp_path), HEALTHCHECK_SUCCESS_TTL=0)
    client = app.test_client()
    response = client.get("/healthz/storage")
    assert response.status_code == 200
    assert "wrote, read back and deleted" in response.get_json()["results"][0]["output"]
    app.config["UPLOAD_FOLDER"] = None
    response = client.get("/healthz/storage")
    assert response.status_code == 200
    assert response.get_json()["results"][0]["output"] == "storage not configured"


def test_volume_filling_up_fails_readiness_but_not_liveness(
    make_app: Callable[..., Flask], health: HealthCheck, tmp_path: Path
) -> None:
    with small_volume(tmp_path / "filling", "size=1m") as volume:
        health.add_check(StorageCheck(volume))
        client = make_app(HEALTHCHECK_SUCCESS_TTL=0, HEALTHCHECK_FAILED_TTL=0).test_client()
        assert client.get("/healthz/ready").status_code == 200
        fill(volume)
        response = client.get("/healthz/ready")
        assert response.status_code == 503
        storage = next(r for r in response.get_json()["results"] if r["checker"] == "storage")
        assert storage["output"].endswith("no space left on device")
        assert client.get("/healthz/live").status_code == 200


# -- fsspec URLs -------------------------------------------------------------------------------


def test_passes_on_an_fsspec_memory_url_and_leaves_nothing(memory_root: str) -> None:
    url = f"memory://{memory_root}/uploads"
    outcome = StorageCheck(url)()
    assert outcome.passed
    assert outcome.output.startswith("wrote, read back and deleted a probe file")
    assert outcome.detail == f"storage {url}: {outcome.output}"
    assert MemoryFileSystem().find(memory_root) == []


def test_passes_on_a_file_url(tmp_path: Path) -> None:
    outcome = StorageCheck(f"file://{tmp_path}")()
    assert outcome.passed
    assert os.listdir(tmp_path) == []


def test_fails_on_a_file_url_whose_directory_does_not_exist(tmp_path: Path) -> None:
    url = f"file://{tmp_path}/missing"
    with pytest.raises(CheckError) as caught:
        StorageCheck(url)()
    assert caught.value.detail == f"storage {url}: {caught.value}"
    assert str(caught.value) == ("cannot write a probe file: no such file or directory")


class _UnreadableMemory(MemoryFileSystem):
    protocol = ("unreadable-memory",)

    def cat_file(self, path: str, start: Any = None, end: Any = None, **kwargs: Any) -> bytes:
        raise OSError(errno.EIO, "Input/output error")


class _CorruptingMemory(MemoryFileSystem):
    protocol = ("corrupting-memory",)

    def cat_file(self, path: str, start: Any = None, end: Any = None, **kwargs: Any) -> bytes:
        return b"not what was written"


@pytest.fixture
def faulty_filesystems() -> None:
    fsspec.register_implementation("unreadable-memory", _UnreadableMemory, clobber=True)
    fsspec.register_implementation("corrupting-memory", _CorruptingMemory, clobber=True)


@pytest.mark.usefixtures("faulty_filesystems")
@pytest.mark.parametrize(
    ("protocol", "reason"),
    [
        ("unreadable-memory", "cannot read the probe file back: input/output error"),
        ("corrupting-memory", "the probe file reads back other bytes"),
    ],
)
def test_removes_its_probe_when_reading_back_fails(
    memory_root: str, protocol: str, reason: str
) -> None:
    url = f"{protocol}://{memory_root}"
    with pytest.raises(CheckError) as caught:
        StorageCheck(url)()
    assert str(caught.value) == reason
    assert caught.value.detail == f"storage {url}: {reason}"
    assert MemoryFileSystem().find(memory_root) == []


def test_never_shows_credentials_of_the_url(memory_root: str) -> None:
    url = f"memory://user:hunter2@{memory_root.lstrip('/')}/x"
    outcome = StorageCheck(url)()
    assert "hunter2" not in outcome.output


def test_rejects_an_unknown_protocol_at_start_up() -> None:
    with pytest.raises(ValueError, match="no-such-protocol://"):
        StorageCheck("no-such-protocol://bucket/path")


def test_url_without_fsspec_names_the_extra_and_directories_still_work(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "fsspec", None)
    with pytest.raises(MissingDependencyError) as caught:
        StorageCheck("memory://bucket")
    assert caught.value.extra == "fsspec"
    with pytest.raises(CheckError, match=r"flask-health-checks\[fsspec\]"):
        StorageCheck(lambda: "memory://bucket")()
    assert StorageCheck(tmp_path)().passed


def test_defaults_name_and_tags_and_takes_overrides(health: HealthCheck) -> None:
    spec = health.add_check(StorageCheck("/srv/uploads"))
    assert (spec.name, spec.tags) == ("storage", {"ready"})
    spec = health.add_check(StorageCheck(None, name="media", critical=False, timeout=5))
    assert (spec.name, spec.critical, spec.timeout) == ("media", False, 5)
