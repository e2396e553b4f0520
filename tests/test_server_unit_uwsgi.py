"""One server, one health unit under uWSGI: four workers, the app loaded in the master (uWSGI's
default, like ``gunicorn --preload``) or in each worker (``--lazy-apps``)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from .gunicorn_server import Gunicorn, uwsgi
from .services import POSTGRES, require
from .test_server_unit import flood


@pytest.fixture(
    scope="module",
    params=[pytest.param(False, id="preloaded"), pytest.param(True, id="lazy-apps")],
)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gunicorn]:
    tmp_path = tmp_path_factory.mktemp("uwsgi")
    environment = {"UNIT_DATABASE_URL": require(POSTGRES)}
    with uwsgi(
        "server_unit_wsgi", tmp_path, lazy_apps=request.param, environment=environment
    ) as running:
        running.wait_for_workers(4)
        yield running


def test_a_flood_of_readiness_probes_calls_the_check_once_per_ttl_for_the_whole_server(
    server: Gunicorn,
) -> None:
    deadline = time.monotonic() + 10
    while server.get("/healthz/ready")[0] != 200:  # the background checks' first results
        assert time.monotonic() < deadline, server.get("/healthz/ready")
        time.sleep(0.05)
    before = len(server.calls("flooded"))
    started = time.monotonic()
    statuses = flood(server, "/healthz/ready", 2.0, clients=8)
    elapsed = time.monotonic() - started
    calls = server.calls("flooded")[before:]

    assert len(statuses) > 50
    assert set(statuses) == {200}
    assert len(calls) <= int(elapsed) + 2, calls


def test_one_worker_not_the_master_runs_the_background_checks(server: Gunicorn) -> None:
    [role] = list(server.shared_dir.glob("*/scheduler-*.role"))
    holder = int(role.read_text())
    assert holder in server.workers()
    callers = set(server.calls("background"))
    assert callers == {str(holder)}
