"""SSRF against the control: whatever spelling, DNS answer, address list or redirect a request
uses, the control never connects to an internal target (a canary listening on loopback).

The control is allowed exactly one loopback address, 127.0.0.2 (standing in for the public
internet: a redirector), so redirects are really followed; 127.0.0.1 and ::1 are internal.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass, field

import httpx
import pytest
import trio

from collector.control.helper import HelperConfig
from lab.servers import DnsRecord, Zone, bind_tcp, serve_dns
from tests.collector.control.test_endpoint import control_url

PUBLIC = "127.0.0.2"


@dataclass
class Canary:
    """Listeners on internal addresses that count every connection made to them."""

    port: int = 0
    connections: list[str] = field(default_factory=list)


async def serve_canary(nursery: trio.Nursery) -> Canary:
    """Listen on 127.0.0.1 (and ::1 on the same port when free); return the canary."""
    canary = Canary()

    async def record(stream: trio.SocketStream) -> None:
        canary.connections.append(str(stream.socket.getsockname()))
        await stream.aclose()

    listener = await bind_tcp("127.0.0.1", 0)
    canary.port = listener.socket.getsockname()[1]
    listeners = [listener]
    with contextlib.suppress(OSError):
        listeners.append(await bind_tcp("::1", canary.port))
    for one in listeners:
        nursery.start_soon(functools.partial(trio.serve_listeners, record, [one]))
    return canary


async def serve_redirector(nursery: trio.Nursery, targets: list[str]) -> tuple[int, list[int]]:
    """Serve on 127.0.0.2: `/N` redirects to targets[N]; return the port and the hits."""
    hits: list[int] = []

    async def redirect(stream: trio.SocketStream) -> None:
        request = await stream.receive_some(65536)
        path = request.split(b" ", 2)[1].decode() if request.count(b" ") >= 2 else "/"
        index = int(path.strip("/")) if path.strip("/").isdigit() else 0
        hits.append(index)
        location = targets[index % len(targets)].encode()
        await stream.send_all(
            b"HTTP/1.1 302 Found\r\nLocation: " + location + b"\r\nContent-Length: 0\r\n\r\n"
        )
        await stream.aclose()

    listener = await bind_tcp(PUBLIC, 0)
    nursery.start_soon(functools.partial(trio.serve_listeners, redirect, [listener]))
    return listener.socket.getsockname()[1], hits


def internal_urls(port: int) -> list[str]:
    """Return URLs that all point at the canary, in as many spellings as we know."""
    hosts = [
        *("127.0.0.1", "127.1", "127.0.1", "2130706433", "0x7f000001", "0x7f.0.0.1"),
        *("0177.0.0.1", "017700000001", "127.000.000.001", "0.0.0.0", "0"),
        *("[::1]", "[0:0:0:0:0:0:0:1]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]"),
        *("[0:0:0:0:0:ffff:7f00:1]", "[::127.0.0.1]", "[::]", "[64:ff9b::7f00:1]"),
        *("[2002:7f00:1::]", "localhost", "LOCALHOST.", "localhost.localdomain"),
        *("internal.example.test", "internal6.example.test", "mapped.example.test"),
        *("zero.example.test", "mixed.example.test", "%31%32%37.0.0.1"),
    ]
    return [f"{scheme}://{host}:{port}/" for host in hosts for scheme in ("http", "https")]


def zone() -> Zone:
    """Names whose answers point inside (alone or beside an allowed address)."""
    return Zone(
        records=(
            DnsRecord("internal.example.test", "A", "127.0.0.1"),
            DnsRecord("internal6.example.test", "AAAA", "::1"),
            DnsRecord("mapped.example.test", "AAAA", "::ffff:127.0.0.1"),
            DnsRecord("zero.example.test", "A", "0.0.0.0"),
            DnsRecord("mixed.example.test", "A", PUBLIC),
            DnsRecord("mixed.example.test", "A", "127.0.0.1"),
            DnsRecord("jump.example.test", "A", PUBLIC),
        )
    )


@pytest.mark.slow
async def test_no_ssrf_attempt_reaches_an_internal_target(nursery: trio.Nursery) -> None:
    canary = await serve_canary(nursery)
    direct = internal_urls(canary.port)
    jump_port, hits = await serve_redirector(nursery, direct)
    resolver = await nursery.start(serve_dns, zone())
    config = HelperConfig(
        udp_resolver=("127.0.0.1", resolver),
        doh_url=None,
        allowed_networks=(f"{PUBLIC}/32",),
        dns_s=1.0,
        tcp_s=1.0,
        tls_s=1.0,
        http_s=2.0,
    )
    url = await control_url(nursery, config)
    addresses = [
        *("127.0.0.1", "::1", "::ffff:127.0.0.1", "0.0.0.0", "::", "127.1"),
        *("2130706433", "0x7f000001", "::ffff:7f00:1", "0:0:0:0:0:0:0:1"),
    ]
    attempts: list[dict[str, object]] = [{"url": u} for u in direct]
    attempts += [
        {"url": f"http://public.example.test:{canary.port}/", "addresses": [a]} for a in addresses
    ]
    attempts += [
        {"url": f"http://mixed.example.test:{canary.port}/", "addresses": [PUBLIC, a]}
        for a in addresses
    ]
    attempts += [{"url": f"http://jump.example.test:{jump_port}/{n}"} for n in range(len(direct))]
    attempts += [{"url": f"http://{PUBLIC}:{jump_port}/{n}"} for n in range(len(direct))]
    statuses: list[int] = []
    async with httpx.AsyncClient(trust_env=False, timeout=30.0) as client:
        with trio.fail_after(120):
            async with trio.open_nursery() as requests:
                limiter = trio.CapacityLimiter(8)

                async def attempt(body: dict[str, object]) -> None:
                    async with limiter:
                        statuses.append((await client.post(url, json=body)).status_code)

                for body in attempts:
                    requests.start_soon(attempt, body)
    assert len(statuses) == len(attempts) > 170
    assert all(status < 500 for status in statuses), sorted(set(statuses))
    assert canary.connections == []
    # The redirector (allowed) was really reached and every redirect was offered to the control.
    assert sorted(set(hits)) == list(range(len(direct)))


async def test_the_canary_counts_a_control_allowed_to_reach_it(nursery: trio.Nursery) -> None:
    canary = await serve_canary(nursery)
    config = HelperConfig(
        udp_resolver=("127.0.0.1", 9), doh_url=None, allowed_networks=("127.0.0.0/8",), tcp_s=1.0
    )
    url = await control_url(nursery, config)
    async with httpx.AsyncClient(trust_env=False, timeout=30.0) as client:
        answer = await client.post(url, json={"url": f"http://127.0.0.1:{canary.port}/"})
    assert answer.status_code == 200
    assert canary.connections != []
