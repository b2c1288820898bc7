"""Measurements with packet evidence, one per packet rule, for the analysis tests."""

from __future__ import annotations

import msgspec

from probe.model import (
    CensorPath,
    DnsQuery,
    DnsResponse,
    HopVotes,
    Localisation,
    PacketEvidence,
    ProbeOutcome,
    ResolverKind,
    TriggerKind,
    TtlProbe,
)
from probe.model import Failure as F

from .build import SITE, World, answers, flow, handshake_then, tcp_packet

FORGED = "203.0.113.250"


def sni_reset_world(failure: str = F.CONNECTION_RESET) -> World:
    """An https URL whose TLS handshake (and fetch) failed with `failure`; no packets yet."""
    w = World(url="https://news.example.test/")
    w.lookup(ResolverKind.SYSTEM, SITE).lookup(ResolverKind.DOH, SITE).connect(SITE)
    w.handshake(SITE, failure)
    return w.with_control()


def with_injected_end(flags: str) -> World:
    """A TLS failure ended by an RST ("R") or FIN ("FA") with a foreign TTL, the server still
    answering after it."""
    failure = F.CONNECTION_RESET if "R" in flags else F.EOF
    w = sni_reset_world(failure)
    packets = handshake_then(
        tcp_packet(12.0, flags, ttl=63, ip_id=0, seq=1000, ack=5517),
        tcp_packet(13.0, "PA", ttl=59, ip_id=3001, seq=1000, ack=5517, payload=1200),
    )
    w.packets = PacketEvidence(is_captured=True, flows=[flow(w.last_id, *packets)])
    return w


def dns_response(
    delay_ms: float, address: str, *, ttl: int, ip_id: int, checksum: bool = True
) -> DnsResponse:
    return DnsResponse(
        t_ms=delay_ms,
        delay_ms=delay_ms,
        source="192.0.2.53:53",
        ip_ttl=ttl,
        ip_id=ip_id,
        udp_checksum=checksum,
        rcode="NOERROR",
        answers=answers(address),
    )


def udp_query(
    *responses: DnsResponse, txid: int = 50, hostname: str = "news.example.test"
) -> DnsQuery:
    return DnsQuery(
        id=txid,
        resolver_kind=ResolverKind.UDP,
        resolver_address="192.0.2.53:53",
        hostname=hostname,
        query_type="A",
        t0_ms=0.0,
        t_ms=responses[0].t_ms if responses else 2000.0,
        rcode=responses[0].rcode if responses else None,
        answers=responses[0].answers if responses else [],
        responses=list(responses),
        failure=None if responses else F.GENERIC_TIMEOUT,
    )


def injected_with_packet_traits(
    *, forged_ttl: int = 64, forged_id: int = 4242, checksum: bool = True
) -> World:
    """A forged answer first (its own TTL and a random IP ID), the resolver's real one 50 ms later."""
    w = World()
    w.dns.append(
        udp_query(
            dns_response(1.0, FORGED, ttl=forged_ttl, ip_id=forged_id, checksum=checksum),
            dns_response(51.0, SITE, ttl=61, ip_id=0),
        )
    )
    w.lookup(ResolverKind.DOH, SITE)
    return w.fetch(FORGED, failure=F.GENERIC_TIMEOUT, stage="tcp").with_control()


def bait_answered(*, harmless_answered: bool = False) -> World:
    """A healthy site, but the bait address (no DNS server) answered a query for its host."""
    w = World()
    w.lookup(ResolverKind.SYSTEM, SITE).connect(SITE)
    w.fetch(SITE, failure=F.CONNECTION_RESET, stage="http").with_control()
    bait = [
        udp_query(dns_response(2.0, FORGED, ttl=63, ip_id=777), txid=90),
        udp_query(
            *([dns_response(2.0, FORGED, ttl=63, ip_id=778)] if harmless_answered else []),
            txid=91,
            hostname="example.com",
        ),
    ]
    bait = [msgspec.structs.replace(q, resolver_address="203.0.113.254:53") for q in bait]
    w.packets = PacketEvidence(bait=bait)
    return w


def located(*, censor_found: bool = True) -> World:
    """A TLS reset, localised at hop 2 of a path whose server answers at TTL 4."""
    w = sni_reset_world()
    reset = TtlProbe(outcome=ProbeOutcome.RESET, response_ttl=63)
    expired = [
        TtlProbe(outcome=ProbeOutcome.EXPIRED, icmp_source=f"198.51.100.{t}") for t in (1, 2, 3)
    ]
    hops = [
        HopVotes(
            ttl=1,
            trigger=[expired[0]] * 3,
            control=[expired[0]] * 3,
            trigger_vote=ProbeOutcome.EXPIRED,
            control_vote=ProbeOutcome.EXPIRED,
            is_blocked=False,
        ),
        HopVotes(
            ttl=2,
            trigger=[expired[1]] * 3,
            control=[expired[1]] * 3,
            trigger_vote=ProbeOutcome.EXPIRED,
            control_vote=ProbeOutcome.EXPIRED,
            is_blocked=False,
        ),
        HopVotes(
            ttl=3,
            trigger=[reset] * 3,
            control=[expired[2]] * 3,
            trigger_vote=ProbeOutcome.RESET,
            control_vote=ProbeOutcome.EXPIRED,
            is_blocked=True,
        ),
    ]
    w.packets = PacketEvidence(
        is_captured=True,
        localisation=Localisation(
            address=SITE,
            port=443,
            trigger=TriggerKind.TLS,
            server_name="news.example.test",
            control_name="example.com",
            t0_ms=100.0,
            t_ms=900.0,
            max_ttl=16,
            repetitions=3,
            hops=hops,
            server_ttl=4,
            blocking_ttl=3 if censor_found else None,
            censor_hop=2 if censor_found else None,
            censor_address="198.51.100.2" if censor_found else None,
            icmp_sources=["198.51.100.1", "198.51.100.2"],
            path=CensorPath.IN_PATH if censor_found else None,
            packets_sent=60,
        ),
    )
    return w
