"""The capture: its kernel filter, how packets are filed, and (as root) a real loopback flow."""

from __future__ import annotations

import functools

import pytest
import trio

from probe.packet.capture import MAX_WATCHED, PacketCapture, filter_expression, flow_key
from probe.packet.wire import ICMP, TCP, UDP, Quoted, WirePacket

SERVER = "127.0.0.2"  # the client's end is 127.0.0.1: a flow's two ends must differ


def test_the_filter_passes_watched_hosts_and_icmp_errors_only() -> None:
    assert filter_expression([]) == "(icmp and (icmp[0] == 3 or icmp[0] == 11))"
    both = filter_expression(["203.0.113.2", "203.0.113.1", "203.0.113.2"])
    assert "host 203.0.113.1 or host 203.0.113.2" in both and "tcp or udp" in both
    many = filter_expression(f"10.0.{i // 250}.{i % 250}" for i in range(MAX_WATCHED + 1))
    assert "host" not in many


def test_packets_are_filed_by_flow_as_the_probe_sees_it() -> None:
    watched = {"203.0.113.100"}
    inbound = WirePacket(
        0.0, "203.0.113.100", "192.0.2.2", TCP, 59, 1, True, sport=443, dport=40000
    )
    outbound = WirePacket(0.0, "192.0.2.2", "203.0.113.100", UDP, 64, 1, True, sport=5000, dport=53)
    quote = Quoted("192.0.2.2", "203.0.113.100", TCP, 40000, 443, 1, 1)
    icmp = WirePacket(
        0.0, "198.51.100.2", "192.0.2.2", ICMP, 64, 1, False, icmp_type=11, quoted=quote
    )
    other = WirePacket(0.0, "198.51.100.9", "192.0.2.2", TCP, 59, 1, True, sport=443, dport=40001)
    assert flow_key(inbound, watched) == (TCP, "203.0.113.100", 443, 40000)
    assert flow_key(outbound, watched) == (UDP, "203.0.113.100", 53, 5000)
    assert flow_key(icmp, watched) == (TCP, "203.0.113.100", 443, 40000)
    assert flow_key(other, watched) is None


@pytest.mark.netns
async def test_a_loopback_connection_is_captured_once_per_packet_and_forgotten() -> None:
    capture = PacketCapture()
    capture.start()
    try:
        capture.watch(SERVER)

        async def handler(stream: trio.SocketStream) -> None:
            await stream.send_all(b"hello")

        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(
                functools.partial(trio.serve_tcp, handler, 0, host=SERVER)
            )
            port = listeners[0].socket.getsockname()[1]
            stream = await trio.open_tcp_stream(SERVER, port)
            local = stream.socket.getsockname()[1]
            async with stream:
                assert await stream.receive_some(5) == b"hello"
            key = (TCP, SERVER, port, local)
            data = await capture.wait_for(key, lambda p: p.payload_bytes == 5, 5.0)
            nursery.cancel_scope.cancel()
        assert data is not None and data.src == SERVER and data.sport == port
        packets, seen = capture.packets(key)
        flags = [p.flags for p in packets]
        assert flags[:3] == ["S", "SA", "A"] and flags.count("S") == 1  # no loopback duplicates
        assert seen == len(packets)
        capture.unwatch(SERVER)
        assert capture.packets(key) == ([], 0)
    finally:
        capture.close()
