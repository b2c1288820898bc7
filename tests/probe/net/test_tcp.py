"""Tests of the TCP connect step on loopback."""

from __future__ import annotations

import pytest
import trio

from probe.model.failures import Failure
from probe.net import StepClock, connect_tcp, tcp_timed_out


async def test_connect_to_a_listening_port_succeeds(web_port: int, clock: StepClock) -> None:
    record = await connect_tcp("127.0.0.1", web_port, clock=clock, txid=3, depth=1)
    assert record.failure is None
    assert (record.address, record.port, record.id, record.depth) == ("127.0.0.1", web_port, 3, 1)
    assert 0 <= record.t0_ms <= record.t_ms
    assert record.local_port is not None and record.local_port not in (0, web_port)


async def test_connect_to_ipv6_loopback_succeeds(web6_port: int, clock: StepClock) -> None:
    record = await connect_tcp("::1", web6_port, clock=clock, txid=1)
    assert record.failure is None


async def test_connect_to_a_closed_port_is_refused(closed_port: int, clock: StepClock) -> None:
    record = await connect_tcp("127.0.0.1", closed_port, clock=clock, txid=1)
    assert record.failure == Failure.CONNECTION_REFUSED.value


async def test_an_expired_budget_keeps_the_timed_out_record_and_cancellation_is_not_swallowed(
    web_port: int, clock: StepClock
) -> None:
    record = tcp_timed_out("127.0.0.1", web_port, clock=clock, txid=1, budget_s=0.5)
    with trio.CancelScope() as scope:
        scope.cancel()
        record = await connect_tcp("127.0.0.1", web_port, clock=clock, txid=1)
    assert scope.cancelled_caught
    assert record.failure == Failure.GENERIC_TIMEOUT.value
    assert record.t_ms == pytest.approx(record.t0_ms + 500)


async def test_an_address_that_is_not_an_ip_is_a_caller_error(clock: StepClock) -> None:
    with pytest.raises(ValueError):
        await connect_tcp("localhost", 80, clock=clock, txid=1)
