"""The clocks: the manual one moves only when told, and wakes waits that have ended."""

from __future__ import annotations

import threading

import pytest

from flask_healthcheck.clock import SYSTEM_CLOCK, ManualClock


def test_manual_clock_moves_only_when_advanced() -> None:
    clock = ManualClock(start=50.0, epoch=1_000.0)

    before = (clock.monotonic(), clock.time())
    clock.advance(2.5)

    assert before == (50.0, 1_000.0)
    assert (clock.monotonic(), clock.time()) == (52.5, 1_002.5)
    with pytest.raises(ValueError, match="cannot go back"):
        clock.advance(-1)


def test_a_manual_wait_ends_when_the_clock_passes_its_end_and_not_before() -> None:
    clock = ManualClock()
    event = threading.Event()
    outcome: list[bool] = []
    waiter = threading.Thread(target=lambda: outcome.append(clock.wait(event, 10.0)))
    waiter.start()

    clock.advance(9.0)
    waiter.join(0.2)
    still_waiting = waiter.is_alive()
    clock.advance(1.0)
    waiter.join(5.0)

    assert still_waiting
    assert outcome == [False]


def test_a_manual_wait_ends_at_once_when_its_event_is_set() -> None:
    clock = ManualClock()
    event = threading.Event()
    outcome: list[bool] = []
    waiter = threading.Thread(target=lambda: outcome.append(clock.wait(event, 3600.0)))
    waiter.start()

    event.set()
    waiter.join(5.0)

    assert outcome == [True]
    assert clock.monotonic() == ManualClock().monotonic()


def test_the_system_clock_waits_on_the_event() -> None:
    event = threading.Event()
    event.set()

    assert SYSTEM_CLOCK.wait(event, 10.0) is True
    assert SYSTEM_CLOCK.wait(threading.Event(), -1.0) is False
