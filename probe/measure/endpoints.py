"""The endpoint step of a measurement: a TCP connect to each address on the URL's port (and 443
for http URLs), then a TLS handshake with the URL's host as SNI, each under its own budget.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from probe.measure.run import Run
from probe.net import WebTarget, connect_tcp, handshake_tls, tcp_timed_out, tls_timed_out

if TYPE_CHECKING:
    from probe.measure.session import MeasureSession

TLS_CHECK_PORT = 443


def _ports(target: WebTarget) -> list[int]:
    if target.scheme == "http" and target.port == 80:
        return [80, TLS_CHECK_PORT]
    return [target.port]


async def check_endpoints(session: MeasureSession, run: Run, address: str) -> None:
    """Connect to `address` on the URL's port (and 443 for http URLs), then try TLS."""
    target = run.target
    for port in _ports(target):
        if (address, port) in run.records.tested:
            continue
        run.records.tested.add((address, port))
        session.watch(run, address)
        txid = run.next_id()
        tcp = tcp_timed_out(
            address, port, clock=run.clock, txid=txid, budget_s=session.config.budgets.tcp_s
        )
        with trio.move_on_after(session.config.budgets.tcp_s):
            tcp = await connect_tcp(address, port, clock=run.clock, txid=txid)
        run.records.tcp.append(tcp)
        needs_tls = target.scheme == "https" or port == TLS_CHECK_PORT
        if tcp.failure is not None or not needs_tls or target.is_host_ip:
            continue
        txid = run.next_id()
        tls = tls_timed_out(
            address,
            port,
            target.host,
            clock=run.clock,
            txid=txid,
            budget_s=session.config.budgets.tls_s,
        )
        with trio.move_on_after(session.config.budgets.tls_s):
            tls = await handshake_tls(
                address,
                port,
                target.host,
                context=session.tls_context,
                clock=run.clock,
                txid=txid,
            )
        run.records.tls.append(tls)
