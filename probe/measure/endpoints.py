"""The endpoint step of a measurement: a TCP connect to each address on the URL's port (and 443
for http URLs), then a TLS handshake with the URL's host as SNI, each under its own budget.
"""

from __future__ import annotations

import trio

from probe.measure.context import StepContext
from probe.measure.state import MeasurementState
from probe.net import (
    connect_tcp,
    endpoint_ports,
    handshake_tls,
    needs_tls,
    tcp_timed_out,
    tls_timed_out,
)


async def check_endpoints(ctx: StepContext, state: MeasurementState, address: str) -> None:
    """Connect to `address` on the URL's port (and 443 for http URLs), then try TLS."""
    target = state.target
    for port in endpoint_ports(target):
        if (address, port) in state.records.tested:
            continue
        state.records.tested.add((address, port))
        state.watch(address)
        txid = state.next_id()
        tcp = tcp_timed_out(
            address, port, clock=state.clock, txid=txid, budget_s=ctx.config.budgets.tcp_s
        )
        with trio.move_on_after(ctx.config.budgets.tcp_s):
            tcp = await connect_tcp(address, port, clock=state.clock, txid=txid)
        state.records.tcp.append(tcp)
        if tcp.failure is not None or not needs_tls(target, port):
            continue
        txid = state.next_id()
        tls = tls_timed_out(
            address,
            port,
            target.host,
            clock=state.clock,
            txid=txid,
            budget_s=ctx.config.budgets.tls_s,
        )
        with trio.move_on_after(ctx.config.budgets.tls_s):
            tls = await handshake_tls(
                address,
                port,
                target.host,
                context=ctx.tls_context,
                clock=state.clock,
                txid=txid,
            )
        state.records.tls.append(tls)
