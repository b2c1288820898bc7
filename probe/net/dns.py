"""One-shot DNS lookups through the system resolver (getaddrinfo) and over TCP, each returning a
`DnsQuery` record, and the record of a lookup whose budget ran out.

Failures are recorded, never raised. A step has no timeout of its own: the caller's deadline ends
it, and the caller then records `dns_timed_out(...)`. The UDP lookup, which keeps listening for
late answers, is in `dns_udp`.
"""

from __future__ import annotations

import socket
from functools import partial

import dns.asyncquery
import dns.message
import dns.rcode
import trio

from probe.model.failures import Failure
from probe.model.observations import DnsAnswer, DnsQuery, DnsResponse, ResolverKind
from probe.net.classify import NETWORK_ERRORS, classify
from probe.net.dns_answers import answers_of, parse_query_type, rcode_failure
from probe.net.names import (
    address_family_is_ipv6,
    encode_hostname,
    endpoint_text,
    hostname_for_record,
)
from probe.net.timing import StepClock

SYSTEM_RESOLVER_ADDRESS = "getaddrinfo"


def dns_timed_out(
    hostname: str,
    query_type: str,
    resolver_kind: ResolverKind,
    resolver_address: str,
    *,
    clock: StepClock,
    txid: int,
    depth: int = 0,
    budget_s: float,
) -> DnsQuery:
    """Return the record of a lookup whose `budget_s` ran out: build it just before starting it."""
    t0_ms = clock.ms()
    return DnsQuery(
        id=txid,
        depth=depth,
        resolver_kind=resolver_kind,
        resolver_address=resolver_address,
        hostname=hostname_for_record(hostname),
        query_type=query_type,
        t0_ms=t0_ms,
        t_ms=clock.ms_after(t0_ms, budget_s),
        failure=Failure.GENERIC_TIMEOUT.value,
    )


async def resolve_system(hostname: str, *, clock: StepClock, txid: int, depth: int = 0) -> DnsQuery:
    """Return the addresses getaddrinfo gives for `hostname` (A and AAAA, deduplicated, in order).

    Runs getaddrinfo in a thread that is abandoned if the caller's deadline cancels the lookup.
    """
    t0_ms = clock.ms()
    record = partial(
        DnsQuery,
        id=txid,
        depth=depth,
        resolver_kind=ResolverKind.SYSTEM,
        resolver_address=SYSTEM_RESOLVER_ADDRESS,
        hostname=hostname_for_record(hostname),
        query_type="ANY",
        t0_ms=t0_ms,
    )
    try:
        name = encode_hostname(hostname)
        infos = await trio.to_thread.run_sync(
            partial(socket.getaddrinfo, name, None, socket.AF_UNSPEC, socket.SOCK_STREAM),
            abandon_on_cancel=True,
        )
    except NETWORK_ERRORS as exc:
        return record(t_ms=clock.ms(), failure=classify(exc))
    answers: list[DnsAnswer] = []
    seen: set[str] = set()
    for family, _type, _proto, _canon, sockaddr in infos:
        address = str(sockaddr[0])
        if family not in (socket.AF_INET, socket.AF_INET6) or address in seen:
            continue
        seen.add(address)
        kind = "A" if family == socket.AF_INET else "AAAA"
        answers.append(DnsAnswer(answer_type=kind, address=address))
    failure = None if answers else Failure.DNS_NO_ANSWER.value
    return record(t_ms=clock.ms(), answers=answers, failure=failure)


async def resolve_tcp(
    hostname: str,
    query_type: str,
    server: tuple[str, int],
    *,
    clock: StepClock,
    txid: int,
    depth: int = 0,
) -> DnsQuery:
    """Return the record of one DNS query over TCP (one response; the connection is closed).

    Raises:
        ValueError: `query_type` is not a DNS record type, or the server is not an IP address.
    """
    rdtype = parse_query_type(query_type)
    address_family_is_ipv6(server[0])  # validates the address before any traffic
    t0_ms = clock.ms()
    record = partial(
        DnsQuery,
        id=txid,
        depth=depth,
        resolver_kind=ResolverKind.TCP,
        resolver_address=endpoint_text(*server),
        hostname=hostname_for_record(hostname),
        query_type=query_type,
        t0_ms=t0_ms,
    )
    try:
        query = dns.message.make_query(encode_hostname(hostname), rdtype)
        sent_ms = clock.ms()
        message = await dns.asyncquery.tcp(query, server[0], port=server[1])
    except NETWORK_ERRORS as exc:
        return record(t_ms=clock.ms(), failure=classify(exc))
    t_ms = clock.ms()
    response = DnsResponse(
        t_ms=t_ms,
        delay_ms=round(max(0.0, t_ms - sent_ms), 3),
        source=endpoint_text(*server),
        rcode=dns.rcode.to_text(message.rcode()),
        answers=answers_of(message),
    )
    return record(
        t_ms=t_ms,
        rcode=response.rcode,
        answers=response.answers,
        responses=[response],
        failure=rcode_failure(message, query),
    )
