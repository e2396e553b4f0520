"""Probe traffic stays out of the access logs of real servers: gunicorn with several workers,
with and without ``--preload``, and the Flask development server; failing answers and the
app's own requests are still logged, and ``HEALTHCHECK_LOG_PROBES`` logs everything."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from flask_healthcheck import ConfigurationError
from flask_healthcheck.access_log import ProbeLogFilter

from .app_server import get, serve
from .gunicorn_server import Configuration, gunicorn

#: The requests each server gets, with the status each answers: the switch check is off.
REQUESTS = [
    ("/healthz/live", 200),
    ("/healthz/live?format=json", 200),
    ("/healthz/database", 200),
    ("/healthz/ready", 503),
    ("/healthz/nope", 404),
    ("/hello", 200),
]
#: The requests that must be in the access log by default: failing, refused, the app's own.
LOGGED = {"/healthz/ready", "/healthz/nope", "/hello"}


def send_requests(base: str) -> None:
    for path, status in REQUESTS:
        for _ in range(3):
            assert get(base + path)[0] == status, path


def logged_paths(log: str) -> set[str]:
    """The paths of the request lines in *log* (gunicorn's and Werkzeug's both quote them;
    Werkzeug colours a failing one)."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", log)
    return {found.partition("?")[0] for found in re.findall(r'"GET (\S+) HTTP/1\.[01]"', plain)}


def wait_for_lines(read: Callable[[], str], request: str) -> str:
    """The log once the line of *request* is in it: a server writes its access log after the
    answer has gone out."""
    due = time.monotonic() + 10
    while f"GET {request} HTTP" not in (text := read()):
        assert time.monotonic() < due, text
        time.sleep(0.05)
    return text


@pytest.mark.parametrize("preload", [False, True], ids=["fork", "preload"])
def test_gunicorn_workers_leave_succeeded_probes_out_of_the_access_log(
    tmp_path: Path, preload: bool
) -> None:
    with gunicorn(
        "status_app:create_app()",
        tmp_path,
        Configuration("sync", preload, workers=2),
        environment={"STATUS_APP_SWITCH": str(tmp_path / "off")},
        arguments=["--access-logfile", "-"],
    ) as server:
        server.wait_for_workers(2)
        send_requests(server.url)
        get(server.url + "/hello?last")
        log = wait_for_lines(server.output, "/hello?last")

    # Every request was answered, and nothing of the probes but their failures was logged.
    assert logged_paths(log) == LOGGED, log
    assert log.count('"GET /hello') == 4


def test_the_development_server_leaves_succeeded_probes_out_of_its_log(tmp_path: Path) -> None:
    log = tmp_path / "log"
    environment = {"STATUS_APP_SWITCH": str(tmp_path / "off")}
    with serve("status_app:create_app", server="flask", environment=environment, log=log) as base:
        send_requests(base)
        get(base + "/hello?last")
        text = wait_for_lines(log.read_text, "/hello?last")

    # The server's own start-up probe of /healthz/live (app_server waits on it) left no line.
    assert logged_paths(text) == LOGGED, text


def test_log_probes_logs_every_answer(tmp_path: Path) -> None:
    log = tmp_path / "log"
    environment = {"STATUS_APP_SWITCH": str(tmp_path / "off"), "STATUS_APP_LOG_PROBES": "1"}
    with serve("status_app:create_app", server="flask", environment=environment, log=log) as base:
        send_requests(base)
        get(base + "/hello?last")
        text = wait_for_lines(log.read_text, "/hello?last")

    assert logged_paths(text) == {path.partition("?")[0] for path, _ in REQUESTS}, text


def record(name: str, args: object) -> logging.LogRecord:
    return logging.LogRecord(name, logging.INFO, __file__, 1, "%s", (args,), None)


def test_a_record_the_filter_cannot_read_is_logged() -> None:
    quiet = ProbeLogFilter()
    quiet.add_path("/healthz")

    # gunicorn's atoms, then shapes no server makes: each is kept rather than guessed at.
    assert not quiet.filter(record("gunicorn.access", {"U": "/healthz/live", "s": "200"}))
    assert quiet.filter(record("gunicorn.access", {"U": "/healthz/live", "s": "-"}))
    assert quiet.filter(record("gunicorn.access", {"U": "/healthzz", "s": "200"}))
    assert quiet.filter(record("werkzeug", "GET /healthz/live HTTP/1.1"))
    assert quiet.filter(record("other", {"U": "/healthz/live", "s": "200"}))


def test_a_bad_log_probes_fails_at_init_app_naming_the_key(
    make_app: Callable[..., Flask],
) -> None:
    with pytest.raises(ConfigurationError, match="HEALTHCHECK_LOG_PROBES"):
        make_app(HEALTHCHECK_LOG_PROBES="no")
