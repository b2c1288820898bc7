"""Read captured IPv4 packets: TCP, UDP and ICMP errors (with the header they quote).

Pure: no I/O, no scapy (the capture thread calls this for every packet, so it must be cheap).
TCP payloads are measured, never kept; UDP payloads are kept (DNS responses are matched by them).
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

TCP = 6
UDP = 17
ICMP = 1
ICMP_UNREACHABLE = 3
ICMP_TIME_EXCEEDED = 11
MAX_UDP_PAYLOAD_BYTES = 1500
_FLAG_LETTERS = "FSRPAUEC"  # bit 0 (FIN) first, as scapy spells flags ("SA", "PA", "RA")


@dataclass(frozen=True, slots=True)
class Quoted:
    """The start of the packet an ICMP error is about (RFC 792: IP header + 8 bytes)."""

    src: str
    dst: str
    proto: int
    sport: int
    dport: int
    ttl: int
    seq: int | None


@dataclass(frozen=True, slots=True)
class WirePacket:
    """One IPv4 packet as captured: addresses, IP traits, and the transport fields we use."""

    t: float
    """Capture time, seconds since the epoch (kernel timestamp where available)."""
    src: str
    dst: str
    proto: int
    ttl: int
    ip_id: int
    is_df: bool
    sport: int = 0
    dport: int = 0
    flags: str = ""
    seq: int = 0
    ack: int = 0
    window: int = 0
    payload_bytes: int = 0
    udp_checksum: int = 0
    payload: bytes = b""
    icmp_type: int | None = None
    quoted: Quoted | None = None


def tcp_flags(bits: int) -> str:
    """Return TCP flag bits as letters in scapy's order, e.g. 0x12 -> "SA"."""
    return "".join(letter for i, letter in enumerate(_FLAG_LETTERS) if bits & (1 << i))


def _address(raw: bytes) -> str:
    return str(ipaddress.IPv4Address(raw))


def _quoted(data: bytes) -> Quoted | None:
    """Return the quoted header inside an ICMP error's body, or None if it is too short."""
    if len(data) < 20 or data[0] >> 4 != 4:
        return None
    ihl = (data[0] & 0x0F) * 4
    proto = data[9]
    transport = data[ihl : ihl + 8]
    if ihl < 20 or len(transport) < 4 or proto not in (TCP, UDP):
        return None
    sport, dport = struct.unpack("!HH", transport[:4])
    seq = struct.unpack("!I", transport[4:8])[0] if proto == TCP and len(transport) >= 8 else None
    return Quoted(
        src=_address(data[12:16]),
        dst=_address(data[16:20]),
        proto=proto,
        sport=sport,
        dport=dport,
        ttl=data[8],
        seq=seq,
    )


def parse_ipv4(data: bytes, t: float) -> WirePacket | None:
    """Return the packet in `data` (starting at the IPv4 header), or None if it is not one we read.

    Read: TCP, UDP, and ICMP destination-unreachable / time-exceeded. Fragments after the first
    and truncated headers are skipped.
    """
    if len(data) < 20 or data[0] >> 4 != 4:
        return None
    ihl = (data[0] & 0x0F) * 4
    total = struct.unpack("!H", data[2:4])[0]
    if ihl < 20 or len(data) < ihl:
        return None
    ip_id, frag = struct.unpack("!HH", data[4:8])
    if frag & 0x1FFF:
        return None
    end = min(len(data), total) if total >= ihl else len(data)
    body = data[ihl:end]
    proto = data[9]
    base = (
        t,
        _address(data[12:16]),
        _address(data[16:20]),
        proto,
        data[8],
        ip_id,
        bool(frag & 0x4000),
    )
    if proto == TCP:
        if len(body) < 20:
            return None
        sport, dport, seq, ack, offset_flags, window = struct.unpack("!HHIIHH", body[:16])
        header = (offset_flags >> 12) * 4
        return WirePacket(
            *base,
            sport=sport,
            dport=dport,
            flags=tcp_flags(offset_flags & 0xFF),
            seq=seq,
            ack=ack,
            window=window,
            payload_bytes=max(0, len(body) - header),
        )
    if proto == UDP:
        if len(body) < 8:
            return None
        sport, dport, length, checksum = struct.unpack("!HHHH", body[:8])
        payload = body[8 : max(8, min(len(body), length))]
        return WirePacket(
            *base,
            sport=sport,
            dport=dport,
            payload_bytes=len(payload),
            udp_checksum=checksum,
            payload=payload[:MAX_UDP_PAYLOAD_BYTES],
        )
    if proto == ICMP and len(body) >= 8 and body[0] in (ICMP_UNREACHABLE, ICMP_TIME_EXCEEDED):
        quoted = _quoted(body[8:])
        if quoted is None:
            return None
        return WirePacket(*base, icmp_type=body[0], quoted=quoted)
    return None
