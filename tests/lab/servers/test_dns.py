"""The DNS server on real loopback sockets, queried with dnspython."""

from __future__ import annotations

import functools
import socket
import time

import dns.asyncbackend
import dns.asyncquery
import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype
import pytest
import trio

from lab.servers import DnsRecord, Injection, NameBehaviour, ServerLimits, Zone, serve_dns

DELAY_MS = 200
ZONE = Zone(
    records=(
        DnsRecord("www.example.test", "A", "192.0.2.10"),
        DnsRecord("www.example.test", "AAAA", "2001:db8::10"),
        DnsRecord("alias.example.test", "CNAME", "www.example.test"),
        DnsRecord("*.bench.test", "A", "192.0.2.20"),
        DnsRecord("blocked.example.test", "A", "192.0.2.30"),
        DnsRecord("slow.example.test", "A", "192.0.2.40"),
    ),
    behaviours={
        "servfail.example.test": NameBehaviour(rcode="SERVFAIL"),
        "refused.example.test": NameBehaviour(rcode="REFUSED"),
        "empty.example.test": NameBehaviour(empty=True),
        "dropped.example.test": NameBehaviour(drop=True),
        "slow.example.test": NameBehaviour(delay_ms=DELAY_MS),
        "blocked.example.test": NameBehaviour(
            delay_ms=DELAY_MS, inject=(Injection(("198.51.100.250",), delay_ms=1),)
        ),
    },
)


@pytest.fixture
async def port(nursery: trio.Nursery) -> int:
    port: int = await nursery.start(serve_dns, ZONE)
    return port


async def query_udp(
    name: str, rtype: str, port: int, host: str = "127.0.0.1"
) -> dns.message.Message:
    query = dns.message.make_query(name, rtype)
    return await dns.asyncquery.udp(query, host, port=port, timeout=3)


def answers(message: dns.message.Message) -> list[str]:
    return sorted(
        f"{rrset.name} {dns.rdatatype.to_text(rrset.rdtype)} {rd}"
        for rrset in message.answer
        for rd in rrset
    )


ANSWER_CASES = [
    ("a", "www.example.test", "A", "NOERROR", ["www.example.test. A 192.0.2.10"]),
    ("aaaa", "www.example.test", "AAAA", "NOERROR", ["www.example.test. AAAA 2001:db8::10"]),
    (
        "cname",
        "alias.example.test",
        "A",
        "NOERROR",
        ["alias.example.test. CNAME www.example.test.", "www.example.test. A 192.0.2.10"],
    ),
    ("wildcard", "host-17.bench.test", "A", "NOERROR", ["host-17.bench.test. A 192.0.2.20"]),
    ("nxdomain", "unknown.example.test", "A", "NXDOMAIN", []),
    ("servfail", "servfail.example.test", "A", "SERVFAIL", []),
    ("refused", "refused.example.test", "A", "REFUSED", []),
    ("empty", "empty.example.test", "A", "NOERROR", []),
]


@pytest.mark.parametrize(
    ("name", "rtype", "rcode", "expected"),
    [c[1:] for c in ANSWER_CASES],
    ids=[c[0] for c in ANSWER_CASES],
)
async def test_udp_query_is_answered_from_the_zone(
    port: int, name: str, rtype: str, rcode: str, expected: list[str]
) -> None:
    reply = await query_udp(name, rtype, port)
    assert dns.rcode.to_text(reply.rcode()) == rcode
    assert answers(reply) == expected


async def test_dropped_name_gets_no_reply(port: int) -> None:
    with trio.move_on_after(0.5) as deadline:
        await query_udp("dropped.example.test", "A", port)
    assert deadline.cancelled_caught


async def test_delay_holds_the_reply(port: int) -> None:
    start = trio.current_time()
    reply = await query_udp("slow.example.test", "A", port)
    elapsed = trio.current_time() - start
    assert answers(reply) == ["slow.example.test. A 192.0.2.40"]
    assert DELAY_MS / 1000 <= elapsed < DELAY_MS / 1000 + 1.0


async def test_delayed_queries_are_handled_concurrently(port: int) -> None:
    replies: list[dns.message.Message] = []

    async def one() -> None:
        replies.append(await query_udp("slow.example.test", "A", port))

    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        for _ in range(20):
            nursery.start_soon(one)
    assert len(replies) == 20
    assert trio.current_time() - start < DELAY_MS / 1000 + 1.0  # serially it would take 4 s


async def test_injected_reply_arrives_before_the_real_one(port: int) -> None:
    backend = dns.asyncbackend.get_backend("trio")
    query = dns.message.make_query("blocked.example.test", "A")
    destination = ("127.0.0.1", port)
    sock = await backend.make_socket(  # type: ignore[no-untyped-call]
        socket.AF_INET, socket.SOCK_DGRAM, 0, ("127.0.0.1", 0)
    )
    async with sock:
        await dns.asyncquery.send_udp(sock, query, destination)
        expiration = time.time() + 3
        first, t_first, _ = await dns.asyncquery.receive_udp(
            sock, destination, expiration, query=query
        )
        second, t_second, _ = await dns.asyncquery.receive_udp(
            sock, destination, expiration, query=query
        )
    assert answers(first) == ["blocked.example.test. A 198.51.100.250"]
    assert answers(second) == ["blocked.example.test. A 192.0.2.30"]
    assert first.id == second.id == query.id
    assert t_second - t_first >= (DELAY_MS - 1) / 1000 - 0.05


async def test_tcp_query_gets_only_the_real_reply(port: int) -> None:
    for name, expected in [
        (
            "alias.example.test",
            ["alias.example.test. CNAME www.example.test.", "www.example.test. A 192.0.2.10"],
        ),
        ("blocked.example.test", ["blocked.example.test. A 192.0.2.30"]),
    ]:
        query = dns.message.make_query(name, "A")
        reply = await dns.asyncquery.tcp(query, "127.0.0.1", port=port, timeout=3)
        assert answers(reply) == expected


async def test_several_queries_share_one_tcp_connection(port: int) -> None:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        for txid in (1, 2, 3):
            query = dns.message.make_query("www.example.test", "A")
            query.id = txid
            wire = query.to_wire()
            await stream.send_all(len(wire).to_bytes(2, "big") + wire)
            buffer = b""
            with trio.fail_after(3):
                while len(buffer) < 2 or len(buffer) < 2 + int.from_bytes(buffer[:2], "big"):
                    chunk = await stream.receive_some(4096)
                    assert chunk
                    buffer += chunk
            assert dns.message.from_wire(buffer[2:]).id == txid


async def test_garbage_datagram_does_not_stop_the_server(port: int) -> None:
    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with sock:
        await sock.sendto(b"\x00", ("127.0.0.1", port))
        await sock.sendto(b"not a dns message at all", ("127.0.0.1", port))
    reply = await query_udp("www.example.test", "A", port)
    assert answers(reply) == ["www.example.test. A 192.0.2.10"]


async def test_queries_beyond_the_pending_limit_are_dropped(nursery: trio.Nursery) -> None:
    limits = ServerLimits(max_pending_queries=1)
    port = await nursery.start(functools.partial(serve_dns, ZONE, limits=limits))
    backend = dns.asyncbackend.get_backend("trio")
    destination = ("127.0.0.1", port)
    slow = dns.message.make_query("slow.example.test", "A")
    fast = dns.message.make_query("www.example.test", "A")
    fast.id = (slow.id + 1) % 65536
    sock = await backend.make_socket(  # type: ignore[no-untyped-call]
        socket.AF_INET, socket.SOCK_DGRAM, 0, ("127.0.0.1", 0)
    )
    async with sock:
        # One socket's datagrams are queued in order: the slow query takes the only slot first.
        await dns.asyncquery.send_udp(sock, slow, destination)
        await dns.asyncquery.send_udp(sock, fast, destination)
        reply, _, _ = await dns.asyncquery.receive_udp(
            sock, destination, time.time() + 3, ignore_unexpected=True, query=slow
        )
        with trio.move_on_after(DELAY_MS / 1000) as deadline:
            await dns.asyncquery.receive_udp(sock, destination, time.time() + 3)
    assert answers(reply) == ["slow.example.test. A 192.0.2.40"]
    assert deadline.cancelled_caught


async def test_a_taken_fixed_port_raises(nursery: trio.Nursery) -> None:
    taken = trio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with taken:
        await taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        with pytest.raises(OSError):
            await nursery.start(functools.partial(serve_dns, ZONE, port=taken.getsockname()[1]))


async def test_host_must_be_an_ip_literal(nursery: trio.Nursery) -> None:
    with pytest.raises(ValueError, match="IP literal"):
        await nursery.start(functools.partial(serve_dns, ZONE, host="localhost"))


def ipv6_loopback_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback_available(), reason="::1 is not available on this host")
async def test_ipv6_loopback_serves_udp_and_tcp(nursery: trio.Nursery) -> None:
    port = await nursery.start(functools.partial(serve_dns, ZONE, host="::1"))
    reply = await query_udp("www.example.test", "AAAA", port, host="::1")
    assert answers(reply) == ["www.example.test. AAAA 2001:db8::10"]
    query = dns.message.make_query("www.example.test", "A")
    reply = await dns.asyncquery.tcp(query, "::1", port=port, timeout=3)
    assert answers(reply) == ["www.example.test. A 192.0.2.10"]
