"""End to end: the sample app under gunicorn, on the real PostgreSQL, Redis and RabbitMQ, with a
real Celery worker (see :mod:`tests.sample_stack`).

Each test takes one dependency away and brings it back while threads probe readiness, liveness
and the full report. Readiness must turn 503 within one probe period, naming that dependency
and no other, while liveness stays 200; it must recover within the failed result's TTL and one
run of the checks; and no probe request may fail meanwhile: no connection error, no answer
slower than the probe budget, no status but 200 and 503 (liveness: 200 only).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .sample_stack import (
    PATHS,
    POLL_INTERVAL,
    PROBE_PERIOD,
    RECOVERY_WITHIN,
    SUCCESS_TTL,
    TIMEOUT,
    WEB_APPLICATION,
    Answer,
    ProbeTraffic,
    Stack,
    backends,
    probe,
    sample_services,
    sample_stack,
    terminate_backends,
    wait_for,
)

pytestmark = pytest.mark.e2e

#: Seconds every readiness answer must name the dependency, once the results from before it
#: went have expired, before it is brought back.
HOLD = 2.0
#: Seconds Redis stays paused: longer than a probe period, so readiness must fail meanwhile.
REDIS_PAUSE = PROBE_PERIOD + 2.0


@pytest.fixture(scope="module")
def services() -> Iterator[tuple[str, str]]:
    """The module's PostgreSQL database and RabbitMQ virtual host, deleted afterwards."""
    with sample_services("e2e") as database_and_vhost:
        yield database_and_vhost


@pytest.fixture
def stack(services: tuple[str, str], tmp_path: Path) -> Iterator[Stack]:
    database, vhost = services
    with sample_stack(tmp_path, database, vhost) as deployed:
        yield deployed


@pytest.fixture
def traffic(stack: Stack) -> Iterator[ProbeTraffic]:
    """Probe traffic for the whole test; the test asserts that none of it failed."""
    with ProbeTraffic(stack.base_url) as running:
        yield running


def poll_readiness(stack: Stack) -> Answer:
    """One poll: readiness, and liveness, which must answer 200 whatever readiness says."""
    ready = probe(stack.base_url, "ready")
    live = probe(stack.base_url, "live")
    assert live.status == 200, f"liveness failed while readiness answered {ready}: {live}"
    assert ready.problem is None, ready.problem
    return ready


def wait_for_every_process(
    stack: Stack, status: int, seconds: float, polls: list[tuple[float, Answer]] | None = None
) -> tuple[float, float]:
    """Poll until each web process has answered readiness *status*; liveness stays 200.

    Returns the seconds until the first such answer, and until the last process gave one; each
    answer is added to *polls* with the time it came (``time.monotonic()``). Each gunicorn
    process runs and caches its checks itself, so one process answering is not enough:
    gunicorn's access log tells which process answered what.
    """
    mark = stack.access_mark()
    started = time.monotonic()
    first: float | None = None
    while True:
        ready = poll_readiness(stack)
        if polls is not None:
            polls.append((time.monotonic(), ready))
        elapsed = time.monotonic() - started
        if ready.status == status and first is None:
            first = elapsed
        if first is not None and stack.every_process_answered(mark, "ready", status):
            return first, elapsed
        if elapsed > seconds:
            detail = ready.failing() if ready.status == 503 else ready.body[:200]
            raise AssertionError(
                f"not every web process answered readiness {status} within {seconds:g} s; "
                f"last answer: {ready} {detail}\n{stack.logs()}"
            )
        time.sleep(POLL_INTERVAL)


@dataclass(frozen=True)
class Outage:
    """How readiness took an outage, in seconds: to the first 503, to the first one naming
    the dependency, until every process answered 503; the failing checks then; and to the
    first 200 after the dependency came back, until every process answered 200."""

    first_503: float
    named: float
    detected: float
    failing: dict[str, str]
    first_200: float
    recovered: float

    def __str__(self) -> str:
        return (
            f"503 after {self.first_503:.2f} s, naming it after {self.named:.2f} s (every "
            f"process 503 after {self.detected:.2f} s); 200 again after {self.first_200:.2f} s "
            f"(every process {self.recovered:.2f} s)"
        )


def outage(
    stack: Stack,
    *,
    take_away: Callable[[], object],
    bring_back: Callable[[], object],
    name: str,
    allowed: set[str],
    hold: float = HOLD,
) -> Outage:
    """Take a dependency away and bring it back; assert what readiness says meanwhile.

    Within :data:`PROBE_PERIOD` of the dependency being gone, every web process answers
    readiness 503, and the answers name check *name* failing. Once the passing results from
    before have expired, every answer does, with no failing check outside *allowed*, for
    *hold* seconds (before, a check sharing the dependency may rightly fail first while
    *name* still has a fresh pass). Every process answers 200 again within
    :data:`RECOVERY_WITHIN` of the dependency being back. Times are measured from when
    *take_away* and *bring_back* return (a stopped process has exited, a new worker consumes).
    """
    wait_for_every_process(stack, 200, PROBE_PERIOD)
    take_away()
    gone = time.monotonic()
    polls: list[tuple[float, Answer]] = []
    first_503, detected = wait_for_every_process(stack, 503, PROBE_PERIOD, polls)
    # A run that had started before the dependency went may still pass: wait for it too.
    time.sleep(max(0.0, gone + SUCCESS_TTL + TIMEOUT - time.monotonic()))
    held = time.monotonic() + hold
    while True:
        answer = poll_readiness(stack)
        polls.append((time.monotonic(), answer))
        assert answer.status == 503, f"readiness passed while {name} was away: {answer}"
        failing = answer.failing()
        assert name in failing, failing
        assert set(failing) <= allowed, failing
        assert answer.results()[name]["critical"]
        if time.monotonic() >= held:
            break
        time.sleep(POLL_INTERVAL)
    named = min(at for at, poll in polls if poll.status == 503 and name in poll.failing()) - gone
    assert named <= PROBE_PERIOD, f"readiness named {name} only after {named:.1f} s"
    bring_back()
    first_200, recovered = wait_for_every_process(stack, 200, RECOVERY_WITHIN)
    result = Outage(first_503, named, detected, failing, first_200, recovered)
    print(f"\n{name}: {result}\n  failing: {failing}")
    return result


def assert_no_failed_request(traffic: ProbeTraffic) -> None:
    traffic.stop()
    print(f"probe traffic: {traffic.summary()}")
    assert len(traffic.answers) > 20, traffic.summary()
    assert traffic.failures() == []


def test_database_outage_fails_readiness_naming_the_database_and_recovers(
    stack: Stack, traffic: ProbeTraffic
) -> None:
    result = outage(
        stack,
        take_away=stack.postgres.stop,
        bring_back=stack.postgres.start,
        name="database",
        allowed={"database", "notes"},
    )

    # The kind of failure; which database is for the token holder only.
    output = result.failing["database"]
    assert output in {"connection refused", "server is shutting down", "connection lost"}, output
    assert_no_failed_request(traffic)


def test_killed_database_backends_are_replaced_without_a_failed_request(
    stack: Stack, traffic: ProbeTraffic
) -> None:
    wait_for(lambda: bool(backends(stack.database, WEB_APPLICATION)), 10, "no web connection")
    mark = stack.access_mark()

    killed = terminate_backends(stack.database, WEB_APPLICATION)

    assert killed
    # Past the TTL of the results from before the kill, each 200 comes from checks run after it.
    time.sleep(SUCCESS_TTL + 0.5)
    _, recovered = wait_for_every_process(stack, 200, RECOVERY_WITHIN)
    replaced = backends(stack.database, WEB_APPLICATION)
    assert replaced
    assert not set(replaced) & set(killed)
    ready = [status for _, path, status in stack.answered_since(mark) if path == PATHS["ready"]]
    print(
        f"\nkilled {len(killed)} backends; every process passed again {recovered:.2f} s after "
        f"the results from before expired; {ready.count(503)} of {len(ready)} readiness "
        f"answers failed meanwhile; {len(replaced)} new backends"
    )
    assert_no_failed_request(traffic)


def test_stopped_redis_fails_readiness_naming_redis_and_recovers_on_restart(
    stack: Stack, traffic: ProbeTraffic
) -> None:
    result = outage(
        stack,
        take_away=stack.redis.stop,
        bring_back=stack.redis.start,
        name="redis",
        allowed={"redis"},
    )

    assert result.failing["redis"] == "connection refused"  # where, for the token holder only
    assert_no_failed_request(traffic)


def test_paused_redis_fails_readiness_with_a_timeout_and_recovers(
    stack: Stack, traffic: ProbeTraffic
) -> None:
    paused_until = 0.0

    def pause() -> None:
        nonlocal paused_until
        stack.redis.pause(REDIS_PAUSE)
        paused_until = time.monotonic() + REDIS_PAUSE

    def pause_ends() -> None:  # CLIENT UNPAUSE would be paused too
        time.sleep(max(0.0, paused_until - time.monotonic()))

    # No hold: the pause ends by itself, and a hold could outlast it on a slow machine.
    result = outage(
        stack, take_away=pause, bring_back=pause_ends, name="redis", allowed={"redis"}, hold=0
    )

    assert "timed out" in result.failing["redis"]
    assert_no_failed_request(traffic)


def test_broker_outage_fails_readiness_naming_the_broker_and_recovers(
    stack: Stack, traffic: ProbeTraffic
) -> None:
    result = outage(
        stack,
        take_away=stack.broker.stop,
        bring_back=stack.broker.start,
        name="celery_broker",
        allowed={"celery_broker", "celery_workers", "celery_queues"},
    )

    assert result.failing["celery_broker"] == "connection refused"  # the broker's URL is withheld
    assert_no_failed_request(traffic)


def test_stopped_worker_fails_readiness_naming_celery_workers_and_recovers_with_a_new_one(
    stack: Stack, traffic: ProbeTraffic
) -> None:
    result = outage(
        stack,
        take_away=stack.stop_worker,
        bring_back=stack.start_worker,
        name="celery_workers",
        allowed={"celery_workers"},
    )

    # The ping waits for replies within the check's timeout; on a loaded machine the broker's
    # own round trip can use that up first, and the check then says it timed out: both name it.
    failing = result.failing["celery_workers"]
    assert "no worker answered a ping" in failing or failing.startswith(
        f"timed out after {TIMEOUT:g} s"
    )
    assert stack.workers_started == 2
    assert_no_failed_request(traffic)
