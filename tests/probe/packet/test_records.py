"""Captured packets as measurement records: flows, and DNS responses with their IP traits."""

from __future__ import annotations

import dns.message
import dns.rrset

from probe.model import MAX_FLOW_PACKETS, DnsAnswer, DnsQuery, DnsResponse, ResolverKind
from probe.packet.records import ms_since, tcp_flow_record, with_packet_traits
from probe.packet.wire import ICMP, TCP, UDP, Quoted, WirePacket

SERVER = "203.0.113.100"
PROBE = "192.0.2.2"
ZERO = 1_700_000_000.0


def segment(t: float, src: str, dst: str, flags: str, *, payload: int = 0) -> WirePacket:
    return WirePacket(ZERO + t, src, dst, TCP, 64 if src == PROBE else 59, 3, True,
                      sport=40000 if src == PROBE else 443, dport=443 if src == PROBE else 40000,
                      flags=flags, payload_bytes=payload)  # fmt: skip


def test_a_flow_record_says_which_way_each_packet_went_and_leaves_icmp_out() -> None:
    icmp = WirePacket(ZERO + 0.004, "198.51.100.2", PROBE, ICMP, 64, 1, False, icmp_type=11,
                      quoted=Quoted(PROBE, SERVER, TCP, 40000, 443, 1, 5))  # fmt: skip
    packets = [
        segment(0.001, PROBE, SERVER, "S"),
        segment(0.002, SERVER, PROBE, "SA"),
        icmp,
        segment(0.003, PROBE, SERVER, "PA", payload=517),
    ]
    flow = tcp_flow_record(
        transaction=4, address=SERVER, port=443, local_port=40000, packets=packets, seen=4,
        wall_zero=ZERO,
    )  # fmt: skip
    assert [(p.is_inbound, p.flags, p.t_ms) for p in flow.packets] == [
        (False, "S", 1.0),
        (True, "SA", 2.0),
        (False, "PA", 3.0),
    ]
    assert flow.packets[2].payload_bytes == 517 and flow.packets_seen == 3


def test_a_long_flow_keeps_its_first_and_last_packets() -> None:
    packets = [segment(i / 1000, SERVER, PROBE, "A", payload=i) for i in range(100)]
    flow = tcp_flow_record(
        transaction=4, address=SERVER, port=443, local_port=40000, packets=packets, seen=500,
        wall_zero=ZERO,
    )  # fmt: skip
    kept = [p.payload_bytes for p in flow.packets]
    half = MAX_FLOW_PACKETS // 2
    assert kept == [*range(half), *range(100 - half, 100)]
    assert flow.packets_seen == 500


def test_capture_times_before_the_start_clamp_to_zero() -> None:
    assert ms_since(ZERO - 1, ZERO) == 0.0 and ms_since(ZERO + 0.0125, ZERO) == 12.5


def _response_wire(qid: int, address: str) -> bytes:
    query = dns.message.make_query("news.example.test", "A")
    query.id = qid
    reply = dns.message.make_response(query)
    reply.answer.append(dns.rrset.from_text("news.example.test.", 60, "IN", "A", address))
    return reply.to_wire()


def _recorded(address: str, t_ms: float) -> DnsResponse:
    return DnsResponse(
        t_ms=t_ms, delay_ms=t_ms, source="203.0.113.41:53", ip_ttl=62, rcode="NOERROR",
        answers=[DnsAnswer(answer_type="A", address=address, ttl=60)],
    )  # fmt: skip


def test_dns_responses_get_the_ip_traits_of_the_packet_that_carried_them() -> None:
    forged = WirePacket(ZERO, "203.0.113.41", PROBE, UDP, 62, 4242, False, sport=53, dport=5000,
                        udp_checksum=0, payload=_response_wire(7, "203.0.113.250"))  # fmt: skip
    stray = WirePacket(ZERO, "203.0.113.41", PROBE, UDP, 62, 1, True, sport=53, dport=5000,
                       udp_checksum=9, payload=b"not dns")  # fmt: skip
    real = WirePacket(ZERO, "203.0.113.41", PROBE, UDP, 62, 0, True, sport=53, dport=5000,
                      udp_checksum=1234, payload=_response_wire(7, "203.0.113.100"))  # fmt: skip
    query = DnsQuery(
        id=3, resolver_kind=ResolverKind.UDP, resolver_address="203.0.113.41:53",
        hostname="news.example.test", query_type="A", t0_ms=0.0, t_ms=1.0,
        responses=[_recorded("203.0.113.250", 1.0), _recorded("203.0.113.100", 50.0)],
    )  # fmt: skip
    traits = with_packet_traits(query, [forged, stray, real]).responses
    assert [(r.ip_id, r.udp_checksum) for r in traits] == [(4242, False), (0, True)]
    unmatched = with_packet_traits(query, [real]).responses
    assert [(r.ip_id, r.udp_checksum) for r in unmatched] == [(None, None), (0, True)]
