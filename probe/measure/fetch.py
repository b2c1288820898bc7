"""The HTTP step of a measurement: fetch the URL pinned to its addresses and follow redirects
hop by hop (`probe.net.follow_redirects`, the loop the control runs too), each hop with its own
DNS, under the HTTP budget per hop.
"""

from __future__ import annotations

from probe.measure.context import StepContext
from probe.measure.resolve import resolve_host
from probe.measure.state import MeasurementState
from probe.net import Fetcher, HopAddresses, WebTarget, follow_redirects


async def fetch_chain(ctx: StepContext, state: MeasurementState, addresses: list[str]) -> None:
    """Fetch the URL and follow redirects hop by hop, recording every attempt in `state`."""
    config = ctx.config
    if not addresses and config.control_url is not None:
        await state.control_done.wait()
        reply = state.records.control.reply if state.records.control else None
        if reply is not None:
            addresses = [a for a in reply.dns.addresses if ctx.addresses.may_dial(a)]

    async def resolve(target: WebTarget, depth: int) -> HopAddresses:
        if target.is_host_ip:
            return HopAddresses([target.host])
        return HopAddresses(await resolve_host(ctx, state, target.host, depth=depth))

    fetcher = Fetcher(
        client=ctx.fetch_client,
        clock=state.clock,
        next_id=state.next_id,
        body_cap_bytes=config.body_cap_bytes,
        max_body_bytes=config.max_body_bytes,
        budget_s=config.budgets.http_s,
        before_dial=state.watch,
    )
    await follow_redirects(
        state.target.url,
        HopAddresses(addresses),
        rules=ctx.fetch_rules,
        fetcher=fetcher,
        resolve=resolve,
        transactions=state.records.http,
    )
