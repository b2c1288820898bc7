"""Turn captured packets into measurement records: TCP flows, and DNS responses with IP traits.

Pure: no I/O, no clock (`wall_zero`, the epoch time of the measurement's 0 ms, is an argument).
"""

from __future__ import annotations

from collections.abc import Sequence

import dns.exception
import dns.message
import dns.rcode
import msgspec

from probe.model import MAX_FLOW_PACKETS, DnsQuery, DnsResponse, TcpFlow, TcpPacket
from probe.net.dns_answers import answers_of
from probe.packet.wire import TCP, UDP, WirePacket


def ms_since(t: float, wall_zero: float) -> float:
    """Return capture time `t` (epoch seconds) as ms since the measurement started, never < 0."""
    return round(max(0.0, (t - wall_zero) * 1000.0), 3)


def tcp_flow_record(
    *,
    transaction: int,
    address: str,
    port: int,
    local_port: int,
    packets: Sequence[WirePacket],
    seen: int,
    wall_zero: float,
) -> TcpFlow:
    """Return the flow record of one TCP connection from its captured packets (ICMP left out)."""
    tcp = [p for p in packets if p.proto == TCP and p.quoted is None]
    tcp_seen = max(seen - (len(packets) - len(tcp)), len(tcp))
    if len(tcp) > MAX_FLOW_PACKETS:
        half = MAX_FLOW_PACKETS // 2
        tcp = [*tcp[:half], *tcp[-half:]]
    return TcpFlow(
        transaction=transaction,
        address=address,
        port=port,
        local_port=local_port,
        packets=[
            TcpPacket(
                t_ms=ms_since(p.t, wall_zero),
                is_inbound=p.src == address,
                flags=p.flags,
                ip_ttl=p.ttl,
                ip_id=p.ip_id,
                seq=p.seq,
                ack=p.ack,
                window=p.window,
                payload_bytes=p.payload_bytes,
            )
            for p in tcp
        ],
        packets_seen=tcp_seen,
    )


def _same_response(packet: WirePacket, response: DnsResponse) -> bool:
    """Return whether a captured UDP packet carries this recorded DNS response."""
    if f"{packet.src}:{packet.sport}" != response.source:
        return False
    try:
        message = dns.message.from_wire(packet.payload)
    except (dns.exception.DNSException, ValueError):
        return False
    return (
        dns.rcode.to_text(message.rcode()) == response.rcode
        and answers_of(message) == response.answers
    )


def with_packet_traits(query: DnsQuery, packets: Sequence[WirePacket]) -> DnsQuery:
    """Return the query with each response's IP ID and UDP checksum presence filled in from the
    captured packet that carried it (matched in order by source, rcode and answers)."""
    inbound = [p for p in packets if p.proto == UDP and p.quoted is None and p.payload]
    cursor = 0
    changed: list[DnsResponse] = []
    for response in query.responses:
        match = next(
            (i for i in range(cursor, len(inbound)) if _same_response(inbound[i], response)), None
        )
        if match is None:
            changed.append(response)
            continue
        packet = inbound[match]
        cursor = match + 1
        changed.append(
            msgspec.structs.replace(
                response,
                ip_ttl=response.ip_ttl if response.ip_ttl is not None else packet.ttl,
                ip_id=packet.ip_id,
                udp_checksum=packet.udp_checksum != 0,
            )
        )
    return msgspec.structs.replace(query, responses=changed)
