"""The server directory: where it is, who may use it, what a dead server leaves, and roles."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask

from flask_healthcheck import ConfigurationError, HealthCheck, shared


def _dead_pid() -> int:
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(finished.stdout)


def test_outside_a_prefork_server_nothing_is_shared_unless_a_directory_is_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(shared.ENVIRONMENT_VARIABLE, raising=False)
    assert shared.locate(None) is None

    directory = shared.locate(str(tmp_path / "base"))

    assert directory is not None
    assert directory.path.parent == tmp_path / "base"
    assert directory.identity.pid == os.getpid()
    assert (directory.path.stat().st_mode & 0o777) == 0o700


def test_the_environment_variable_places_it_when_the_setting_does_not(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(shared.ENVIRONMENT_VARIABLE, str(tmp_path))
    directory = shared.locate(None)
    assert directory is not None
    assert directory.path.parent == tmp_path


def test_a_dead_servers_directory_is_removed_and_never_read(tmp_path: Path) -> None:
    dead = tmp_path / f"{_dead_pid()}-12345"
    (dead / "app" / "results").mkdir(parents=True, mode=0o700)
    (dead / "app" / "results" / "database.record").write_bytes(b"old")
    reused = tmp_path / f"{os.getpid()}-1"  # this process's id, another start time: not ours
    reused.mkdir(mode=0o700)

    directory = shared.locate(str(tmp_path))

    assert directory is not None
    assert not dead.exists()
    assert not reused.exists()
    assert directory.path.exists()


def test_a_directory_others_can_write_is_refused_at_init_app_naming_the_key(
    tmp_path: Path,
) -> None:
    base = tmp_path / "open"
    base.mkdir()
    base.chmod(0o777)
    app = Flask("open")
    app.config["HEALTHCHECK_SHARED_DIR"] = str(base)

    with pytest.raises(ConfigurationError, match=r"HEALTHCHECK_SHARED_DIR.*writable by other"):
        HealthCheck(app)
    assert "healthcheck" not in app.extensions


def test_a_role_is_held_by_one_process_and_taken_over_when_it_dies(tmp_path: Path) -> None:
    path = tmp_path / "scheduler.role"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT);"
         "fcntl.flock(fd, fcntl.LOCK_EX); os.write(fd, str(os.getpid()).encode());"
         "print('held', flush=True); time.sleep(60)", str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "held\n"
        role = shared.Role(path)
        assert role.holder() == holder.pid
        assert not role.try_take()

        holder.kill()
        holder.wait()

        assert role.holder() is None
        assert role.try_take()
        assert role.held
        assert role.holder() == os.getpid()
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_does_not_hold_its_parents_role(tmp_path: Path) -> None:
    role = shared.Role(tmp_path / "scheduler.role")
    assert role.try_take()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: it must neither hold the role nor release the parent's
        try:
            answer = b"%d%d" % (role.held, role.try_take())
        finally:
            os.write(write, answer)
            os._exit(0)
    os.close(write)
    answer = os.read(read, 2)
    os.waitpid(pid, 0)
    os.close(read)
    assert answer == b"00"
    assert role.held
    assert shared.Role(tmp_path / "scheduler.role").holder() == os.getpid()
    # and holds it still, after the child has exited
    assert not shared.Role(tmp_path / "scheduler.role").try_take()
