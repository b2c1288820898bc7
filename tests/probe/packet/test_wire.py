"""Reading captured IPv4 packets: TCP, UDP and the header an ICMP error quotes."""

from __future__ import annotations

from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.packet import Raw

from probe.packet.wire import ICMP_TIME_EXCEEDED, parse_ipv4, tcp_flags


def test_a_tcp_segment_keeps_ip_traits_and_sizes_but_not_the_payload() -> None:
    wire = bytes(
        IP(src="192.0.2.2", dst="203.0.113.100", ttl=59, id=4242, flags="DF")
        / TCP(sport=40000, dport=443, flags="PA", seq=7, ack=9, window=512)
        / Raw(b"x" * 100)
    )
    packet = parse_ipv4(wire, 12.5)
    assert packet is not None
    assert (packet.src, packet.dst, packet.ttl, packet.ip_id, packet.is_df) == (
        "192.0.2.2",
        "203.0.113.100",
        59,
        4242,
        True,
    )
    assert (packet.sport, packet.dport, packet.flags, packet.seq, packet.ack) == (
        40000,
        443,
        "PA",
        7,
        9,
    )
    assert (packet.window, packet.payload_bytes, packet.payload, packet.t) == (512, 100, b"", 12.5)


def test_a_udp_datagram_keeps_its_payload_and_checksum() -> None:
    with_sum = parse_ipv4(
        bytes(IP(src="203.0.113.41", dst="192.0.2.2") / UDP(sport=53, dport=5353) / Raw(b"dns")),
        0.0,
    )
    without = parse_ipv4(bytes(IP(src="203.0.113.41", dst="192.0.2.2") / UDP(sport=53, dport=5353, chksum=0) / Raw(b"dns")), 0.0)  # fmt: skip
    assert with_sum is not None and with_sum.payload == b"dns" and with_sum.udp_checksum != 0
    assert without is not None and without.udp_checksum == 0


def test_a_time_exceeded_message_names_the_flow_it_quotes() -> None:
    quoted = IP(src="192.0.2.2", dst="203.0.113.100", ttl=1) / TCP(sport=41000, dport=80, seq=99)
    wire = bytes(
        IP(src="198.51.100.2", dst="192.0.2.2") / ICMP(type=11, code=0) / bytes(quoted)[:28]
    )
    packet = parse_ipv4(wire, 0.0)
    assert packet is not None and packet.icmp_type == ICMP_TIME_EXCEEDED
    assert packet.src == "198.51.100.2"
    assert packet.quoted is not None
    assert (packet.quoted.dst, packet.quoted.sport, packet.quoted.dport, packet.quoted.seq) == (
        "203.0.113.100",
        41000,
        80,
        99,
    )


def test_what_it_does_not_read_is_skipped() -> None:
    assert parse_ipv4(b"", 0.0) is None
    assert parse_ipv4(b"\x60" + b"\x00" * 39, 0.0) is None  # IPv6
    assert parse_ipv4(bytes(IP(dst="192.0.2.1") / ICMP(type=8)), 0.0) is None  # echo request
    fragment = bytes(IP(dst="192.0.2.1", frag=10, proto=6) / Raw(b"x" * 20))
    assert parse_ipv4(fragment, 0.0) is None
    assert parse_ipv4(bytes(IP(dst="192.0.2.1", proto=6) / Raw(b"short")), 0.0) is None


def test_tcp_flags_read_as_scapy_spells_them() -> None:
    assert [tcp_flags(bits) for bits in (0x02, 0x12, 0x18, 0x11, 0x04, 0x14)] == [
        "S",
        "SA",
        "PA",
        "FA",
        "R",
        "RA",
    ]
