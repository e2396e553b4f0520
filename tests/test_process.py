"""The process lifecycle: what a forked child runs, in which order, written in one module."""

from __future__ import annotations

import ast
import logging
import os
from pathlib import Path

import pytest

from flask_healthcheck import process
from flask_healthcheck.process import ForkHooks, Stage

from .parsing import parse

PACKAGE = Path(__file__).resolve().parent.parent / "flask_healthcheck"


def test_a_child_forgets_then_restarts_then_runs_what_was_handed_down() -> None:
    hooks = ForkHooks()
    ran: list[str] = []
    hooks.hand_to_workers(lambda: ran.append("serve the probe port"))
    hooks.register(Stage.RESTART, lambda: ran.append("restart the scheduler"))
    hooks.register(Stage.FORGET, lambda: ran.append("forget the runs in flight"))
    hooks.register(Stage.RESTART, lambda: ran.append("restart start-up"))
    hooks.register(Stage.FORGET, lambda: ran.append("close the probe sockets"))

    hooks.run_in_child()

    assert ran == [
        "forget the runs in flight",
        "close the probe sockets",
        "restart the scheduler",
        "restart start-up",
        "serve the probe port",
    ]


def test_work_handed_to_workers_runs_once_per_worker_and_not_in_its_children() -> None:
    hooks = ForkHooks()
    served: list[int] = []
    hooks.hand_to_workers(lambda: served.append(1))
    assert not hooks.forked_worker

    hooks.run_in_child()  # a worker forked from the master
    hooks.run_in_child()  # a process the worker forks (a multiprocessing pool)

    assert served == [1]
    assert hooks.forked_worker


def test_a_failing_callback_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hooks = ForkHooks()
    ran: list[str] = []

    def broken() -> None:
        raise OSError("cannot bind")

    hooks.register(Stage.FORGET, broken)
    hooks.register(Stage.RESTART, lambda: ran.append("restarted"))
    with caplog.at_level(logging.CRITICAL, logger="flask_healthcheck"):
        hooks.run_in_child()

    assert ran == ["restarted"]
    assert "failed right after the fork" in caplog.text


_FORKED: list[int] = []


def _record_pid() -> None:
    _FORKED.append(os.getpid())  # harmless in every later fork of the test process


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_registered_callback_runs_in_a_real_forked_child() -> None:
    process.after_fork_in_child(Stage.RESTART, _record_pid)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running pytest's teardown
        os.write(write_end, str(_FORKED[-1] == os.getpid()).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        answer = pipe.read()
    os.waitpid(pid, 0)

    assert answer == "True"
    assert os.getpid() not in _FORKED


def _calls_of(function: str) -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = node.func.value
                if isinstance(owner, ast.Name) and f"{owner.id}.{node.func.attr}" == function:
                    found.append(str(path.relative_to(PACKAGE)))
    return found


def test_only_the_process_module_hooks_into_fork_and_exit() -> None:
    assert _calls_of("os.register_at_fork") == ["process.py"]
    assert _calls_of("atexit.register") == ["process.py"]
