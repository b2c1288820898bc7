"""The DNS step of a measurement: ask every configured resolver (and the DNS bait) for a host,
each lookup under the DNS budget, and return the addresses to dial in preference order.

UDP lookups keep listening for late (injected) answers in the measurement's background nursery.
"""

from __future__ import annotations

import trio

from probe.measure.context import StepContext
from probe.measure.state import MeasurementState
from probe.model import DnsQuery, ResolverKind
from probe.net import UdpLookup, dns_timed_out, resolve_doh, resolve_system

BAIT_CONTROL_NAME = "example.com"
"""The harmless name also asked of the DNS bait: if it is answered, the bait is no bait."""


async def resolve_host(
    ctx: StepContext, state: MeasurementState, host: str, *, depth: int
) -> list[str]:
    """Return the host's addresses from every configured resolver, in preference order."""
    budget = ctx.config.budgets.dns_s
    system: list[DnsQuery] = []
    udp_first: list[DnsQuery] = []
    doh: list[DnsQuery] = []
    if depth == 0 and ctx.config.dns_bait is not None:
        _ask_bait(ctx, state, host)
    async with trio.open_nursery() as lookups:
        if ctx.config.system_resolver:
            lookups.start_soon(_system_lookup, ctx, state, host, depth, system)
        if ctx.config.udp_resolver is not None:
            for qtype in ("A", "AAAA"):
                lookup = UdpLookup(
                    host,
                    qtype,
                    ctx.config.udp_resolver,
                    clock=state.clock,
                    txid=state.next_id(),
                    depth=depth,
                    capture_window_s=ctx.config.capture_window_s,
                )
                state.records.udp.append(lookup)
                lookups.start_soon(_udp_first, state, lookup, budget, udp_first)
        if ctx.config.doh_url is not None:
            for qtype in ("A", "AAAA"):
                lookups.start_soon(_doh_lookup, ctx, state, host, qtype, depth, doh)
    ordered: list[str] = []
    for group in (system, udp_first, doh):
        for query in sorted(group, key=lambda q: q.id):
            for answer in query.answers:
                address = answer.address
                if (
                    address is not None
                    and address not in ordered
                    and ctx.addresses.may_dial(address)
                ):
                    ordered.append(address)
    return ordered


def _ask_bait(ctx: StepContext, state: MeasurementState, host: str) -> None:
    """Query the DNS bait (an address with no DNS server) for the host and a harmless name,
    in the background; whatever answers is on the path."""
    assert ctx.config.dns_bait is not None
    for name in (host, BAIT_CONTROL_NAME):
        lookup = UdpLookup(
            name,
            "A",
            (ctx.config.dns_bait, 53),
            clock=state.clock,
            txid=state.next_id(),
            capture_window_s=ctx.config.capture_window_s,
        )
        state.records.bait.append(lookup)
        state.background.start_soon(_bait_lookup, ctx, lookup)


async def _bait_lookup(ctx: StepContext, lookup: UdpLookup) -> None:
    with trio.move_on_after(ctx.config.budgets.dns_s + ctx.config.capture_window_s):
        await lookup.run()


async def _system_lookup(
    ctx: StepContext, state: MeasurementState, host: str, depth: int, out: list[DnsQuery]
) -> None:
    txid = state.next_id()
    record = dns_timed_out(
        host,
        "ANY",
        ResolverKind.SYSTEM,
        "getaddrinfo",
        clock=state.clock,
        txid=txid,
        depth=depth,
        budget_s=ctx.config.budgets.dns_s,
    )
    with trio.move_on_after(ctx.config.budgets.dns_s):
        record = await resolve_system(host, clock=state.clock, txid=txid, depth=depth)
    state.records.dns.append(record)
    out.append(record)


async def _udp_first(
    state: MeasurementState, lookup: UdpLookup, budget_s: float, out: list[DnsQuery]
) -> None:
    with trio.move_on_after(budget_s):
        first: DnsQuery = await state.background.start(lookup.run)
        out.append(first)


async def _doh_lookup(  # noqa: PLR0917 - started by start_soon, which passes no keywords
    ctx: StepContext,
    state: MeasurementState,
    host: str,
    qtype: str,
    depth: int,
    out: list[DnsQuery],
) -> None:
    assert ctx.config.doh_url is not None
    txid = state.next_id()
    record = dns_timed_out(
        host,
        qtype,
        ResolverKind.DOH,
        ctx.config.doh_url,
        clock=state.clock,
        txid=txid,
        depth=depth,
        budget_s=ctx.config.budgets.dns_s,
    )
    with trio.move_on_after(ctx.config.budgets.dns_s):
        record = await resolve_doh(
            host,
            qtype,
            ctx.config.doh_url,
            client=ctx.service_client,
            clock=state.clock,
            txid=txid,
            depth=depth,
        )
    state.records.dns.append(record)
    out.append(record)
