"""The DNS step of a measurement: ask every configured resolver (and the DNS bait) for a host,
each lookup under the DNS budget, and return the addresses to dial in preference order.

UDP lookups keep listening for late (injected) answers in the run's background nursery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from probe.measure.run import Run
from probe.model import DnsQuery, ResolverKind
from probe.net import UdpLookup, dns_timed_out, resolve_doh, resolve_system

if TYPE_CHECKING:
    from probe.measure.session import MeasureSession

BAIT_CONTROL_NAME = "example.com"
"""The harmless name also asked of the DNS bait: if it is answered, the bait is no bait."""


async def resolve_host(session: MeasureSession, run: Run, host: str, *, depth: int) -> list[str]:
    """Return the host's addresses from every configured resolver, in preference order."""
    budget = session.config.budgets.dns_s
    system: list[DnsQuery] = []
    udp_first: list[DnsQuery] = []
    doh: list[DnsQuery] = []
    if depth == 0 and session.config.dns_bait is not None:
        _ask_bait(session, run, host)
    async with trio.open_nursery() as lookups:
        if session.config.system_resolver:
            lookups.start_soon(_system_lookup, session, run, host, depth, system)
        if session.config.udp_resolver is not None:
            for qtype in ("A", "AAAA"):
                lookup = UdpLookup(
                    host,
                    qtype,
                    session.config.udp_resolver,
                    clock=run.clock,
                    txid=run.next_id(),
                    depth=depth,
                    capture_window_s=session.config.capture_window_s,
                )
                run.records.udp.append(lookup)
                lookups.start_soon(_udp_first, run, lookup, budget, udp_first)
        if session.config.doh_url is not None:
            for qtype in ("A", "AAAA"):
                lookups.start_soon(_doh_lookup, session, run, host, qtype, depth, doh)
    ordered: list[str] = []
    for group in (system, udp_first, doh):
        for query in sorted(group, key=lambda q: q.id):
            for answer in query.answers:
                address = answer.address
                if address is not None and address not in ordered and session.may_dial(address):
                    ordered.append(address)
    return ordered


def _ask_bait(session: MeasureSession, run: Run, host: str) -> None:
    """Query the DNS bait (an address with no DNS server) for the host and a harmless name,
    in the background; whatever answers is on the path."""
    assert session.config.dns_bait is not None
    for name in (host, BAIT_CONTROL_NAME):
        lookup = UdpLookup(
            name,
            "A",
            (session.config.dns_bait, 53),
            clock=run.clock,
            txid=run.next_id(),
            capture_window_s=session.config.capture_window_s,
        )
        run.records.bait.append(lookup)
        run.background.start_soon(_bait_lookup, session, lookup)


async def _bait_lookup(session: MeasureSession, lookup: UdpLookup) -> None:
    with trio.move_on_after(session.config.budgets.dns_s + session.config.capture_window_s):
        await lookup.run()


async def _system_lookup(
    session: MeasureSession, run: Run, host: str, depth: int, out: list[DnsQuery]
) -> None:
    txid = run.next_id()
    record = dns_timed_out(
        host,
        "ANY",
        ResolverKind.SYSTEM,
        "getaddrinfo",
        clock=run.clock,
        txid=txid,
        depth=depth,
        budget_s=session.config.budgets.dns_s,
    )
    with trio.move_on_after(session.config.budgets.dns_s):
        record = await resolve_system(host, clock=run.clock, txid=txid, depth=depth)
    run.records.dns.append(record)
    out.append(record)


async def _udp_first(run: Run, lookup: UdpLookup, budget_s: float, out: list[DnsQuery]) -> None:
    with trio.move_on_after(budget_s):
        first: DnsQuery = await run.background.start(lookup.run)
        out.append(first)


async def _doh_lookup(  # noqa: PLR0917 - started by start_soon, which passes no keywords
    session: MeasureSession, run: Run, host: str, qtype: str, depth: int, out: list[DnsQuery]
) -> None:
    assert session.config.doh_url is not None
    txid = run.next_id()
    record = dns_timed_out(
        host,
        qtype,
        ResolverKind.DOH,
        session.config.doh_url,
        clock=run.clock,
        txid=txid,
        depth=depth,
        budget_s=session.config.budgets.dns_s,
    )
    with trio.move_on_after(session.config.budgets.dns_s):
        record = await resolve_doh(
            host,
            qtype,
            session.config.doh_url,
            client=session.service_client,
            clock=run.clock,
            txid=txid,
            depth=depth,
        )
    run.records.dns.append(record)
    out.append(record)
