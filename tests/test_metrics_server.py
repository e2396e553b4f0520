"""Under a real gunicorn with four workers, every scrape speaks for the whole server.

One server per configuration (sync and gthread workers, with and without ``--preload``),
shared by the tests of this module: each test reads what changed while it ran.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from collections.abc import Iterator

import pytest

from .gunicorn_server import CONFIGURATION_PARAMS, Configuration, Gunicorn, gunicorn
from .test_metrics import Samples, parse, value

ANSWERS = "healthcheck_responses_total"
READINESS_REQUESTS = 24
SCRAPES = 16


@pytest.fixture(scope="module", params=CONFIGURATION_PARAMS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gunicorn]:
    configuration: Configuration = request.param
    tmp_path = tmp_path_factory.mktemp(f"metrics-{configuration.id}")
    switch = tmp_path / "switch"
    switch.touch()
    environment = {"STATUS_APP_SWITCH": str(switch)}
    with gunicorn(
        "status_app:create_app()", tmp_path, configuration, environment=environment
    ) as started:
        yield started


def scrape(server: Gunicorn) -> Samples:
    status, _, body = server.get("/healthz/metrics")
    assert status == 200, body
    return parse(body)


def counters(samples: Samples) -> Samples:
    """The samples that only ever rise: counters and the histogram's buckets, count and sum."""
    suffixes = ("_total", "_bucket", "_count", "_sum")
    return {key: count for key, count in samples.items() if key[0].endswith(suffixes)}


def test_every_scrape_counts_the_answers_of_all_workers(server: Gunicorn) -> None:
    before = scrape(server)
    answered = Counter(server.get("/healthz/ready")[0] for _ in range(READINESS_REQUESTS))

    scrapes = []
    for _ in range(SCRAPES):
        samples = scrape(server)
        for code, count in answered.items():
            counted = value(samples, ANSWERS, endpoint="ready", code=str(code))
            earlier = value(before, ANSWERS, endpoint="ready", code=str(code)) or 0
            assert counted == earlier + count, f"readiness {code}: {counted} - {earlier} != {count}"
        scrapes.append(value(samples, ANSWERS, endpoint="metrics", code="200"))

    # Each scrape counts in the next one, whichever worker answers it.
    first = scrapes[0]
    assert first is not None
    assert scrapes == [first + index for index in range(SCRAPES)]


def test_a_killed_worker_takes_no_count_away(server: Gunicorn) -> None:
    for _ in range(READINESS_REQUESTS):
        server.get("/healthz/ready")
    before = counters(scrape(server))
    counted = {int(path.name.split("-")[0]) for path in server.shared_dir.rglob("*.counts")}
    victims = sorted(counted & set(server.workers()))
    assert victims, f"no live worker has counted anything: {counted}, {server.workers()}"

    os.kill(victims[0], signal.SIGKILL)
    server.wait_for_workers(4, exclude=victims[:1])

    for _ in range(8):
        after = counters(scrape(server))
        lower = {
            key: (count, after.get(key))
            for key, count in before.items()
            if (after.get(key) or 0) < count
        }
        assert not lower, f"counters went down when worker {victims[0]} died: {lower}"
    # A scrape folded the killed worker's files into the one file of the exited workers.
    assert not list(server.shared_dir.rglob(f"{victims[0]}-*")), "the dead worker's files stay"
    assert list(server.shared_dir.rglob("exited.json"))
