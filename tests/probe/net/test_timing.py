"""Tests of the measurement clock under trio's MockClock."""

from __future__ import annotations

import trio
import trio.testing

from probe.net import StepClock


async def test_clock_reads_milliseconds_since_its_start(mock_clock: trio.testing.MockClock) -> None:
    clock = StepClock.starting_now()
    assert clock.ms() == 0.0
    mock_clock.jump(1.2345678)
    assert clock.ms() == 1234.568


async def test_clock_never_reads_negative(mock_clock: trio.testing.MockClock) -> None:
    clock = StepClock(trio.current_time() + 5)
    assert clock.ms() == 0.0


def test_time_after_a_budget_is_on_the_same_scale() -> None:
    clock = StepClock(0.0)
    assert clock.ms_after(10.5, 0.25) == 260.5
    assert clock.ms_after(10.5, -1.0) == 10.5
