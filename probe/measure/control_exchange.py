"""The control step of a measurement: ask the control (test helper) about the URL under its
budget, record the exchange, and check the further addresses the control resolved.
"""

from __future__ import annotations

import trio

from probe.control import ask_control, control_timed_out
from probe.measure.context import StepContext
from probe.measure.endpoints import check_endpoints
from probe.measure.state import MeasurementState
from probe.model import ControlRequest


async def exchange_with_control(
    ctx: StepContext, state: MeasurementState, addresses: list[str], steps: trio.Nursery
) -> None:
    """Record the control's view of the URL; check its new addresses as tasks in `steps`."""
    assert ctx.config.control_url is not None
    endpoint = ctx.config.control_url
    budget = ctx.config.budgets.control_s
    request = ControlRequest(
        url=state.target.url, addresses=addresses, user_agent=ctx.config.user_agent
    )
    exchange = control_timed_out(endpoint, clock=state.clock, budget_s=budget)
    try:
        with trio.move_on_after(budget):
            exchange = await ask_control(
                endpoint, request, client=ctx.control_client, clock=state.clock
            )
    finally:
        state.records.control = exchange
        state.control_done.set()
    if exchange.reply is not None:
        known = set(addresses)
        for address in exchange.reply.dns.addresses:
            if address not in known and ctx.addresses.may_dial(address):
                known.add(address)
                steps.start_soon(check_endpoints, ctx, state, address)
