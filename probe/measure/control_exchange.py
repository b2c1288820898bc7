"""The control step of a measurement: ask the control (test helper) about the URL under its
budget, record the exchange, and check the further addresses the control resolved.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from probe.control import ask_control, control_timed_out
from probe.measure.endpoints import check_endpoints
from probe.measure.run import Run
from probe.model import ControlRequest

if TYPE_CHECKING:
    from probe.measure.session import MeasureSession


async def exchange_with_control(
    session: MeasureSession, run: Run, addresses: list[str], steps: trio.Nursery
) -> None:
    """Record the control's view of the URL; check its new addresses as tasks in `steps`."""
    assert session.config.control_url is not None
    endpoint = session.config.control_url
    budget = session.config.budgets.control_s
    request = ControlRequest(
        url=run.target.url, addresses=addresses, user_agent=session.config.user_agent
    )
    exchange = control_timed_out(endpoint, clock=run.clock, budget_s=budget)
    try:
        with trio.move_on_after(budget):
            exchange = await ask_control(
                endpoint, request, client=session.service_client, clock=run.clock
            )
    finally:
        run.records.control = exchange
        run.control_done.set()
    if exchange.reply is not None:
        known = set(addresses)
        for address in exchange.reply.dns.addresses:
            if address not in known and session.may_dial(address):
                known.add(address)
                steps.start_soon(check_endpoints, session, run, address)
