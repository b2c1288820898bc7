"""The control never echoes an address its guard refused, and names a refused target as such.

A loopback world: a resolver that answers some names with private (refused) addresses, a web
server on 127.0.0.1 whose pages redirect to those names and to a private IP literal, and a
control that allows 127.0.0.0/8 only (the lab's range).
"""

from __future__ import annotations

import functools

import httpx
import msgspec
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from collector.app import CONTROL_PATH, build_helper_app
from collector.control.helper import HelperConfig
from lab.servers import DnsRecord, Route, Site, Zone, bind_tcp, serve_dns, serve_web
from probe.model import ControlReply

REFUSED = ("10.0.0.7", "fd00::7", "2002:a00:7::1", "169.254.169.254")


async def _world(nursery: trio.Nursery) -> tuple[str, int]:
    listener = await bind_tcp("127.0.0.1", 0)
    port = listener.socket.getsockname()[1]
    records = [DnsRecord("internal.example.test", "A", "10.0.0.7")]
    records += [DnsRecord("internal.example.test", "AAAA", a) for a in ("fd00::7", "2002:a00:7::1")]
    records += [
        DnsRecord("mixed.example.test", "A", "127.0.0.1"),
        DnsRecord("mixed.example.test", "AAAA", "2002:a00:7::1"),
        DnsRecord("metadata.example.test", "A", "169.254.169.254"),
        DnsRecord("hop.example.test", "A", "127.0.0.1"),
        DnsRecord("literal.example.test", "A", "127.0.0.1"),
    ]
    dns_port = await nursery.start(serve_dns, Zone(records=tuple(records)))
    sites = [
        Site(
            host="hop.example.test",
            routes={"/": Route(redirect_to="http://metadata.example.test/latest/")},
        ),
        Site(host="literal.example.test", routes={"/": Route(redirect_to="http://10.0.0.9/")}),
        Site(host="mixed.example.test", routes={"/": Route(body=b"<title>ok</title>")}),
    ]
    await nursery.start(functools.partial(serve_web, sites, listener=listener))
    config = HelperConfig(
        udp_resolver=("127.0.0.1", dns_port),
        doh_url=None,
        allowed_networks=("127.0.0.0/8",),
        dns_s=2.0,
        tcp_s=2.0,
        tls_s=2.0,
        http_s=5.0,
    )
    hc = HypercornConfig()
    hc.bind = ["127.0.0.1:0"]
    hc.accesslog = None
    hc.loglevel = "WARNING"
    binds = await nursery.start(serve, build_helper_app(config), hc)
    return f"{binds[0]}{CONTROL_PATH}", port


async def _ask(control: str, url: str) -> tuple[ControlReply, bytes]:
    async with httpx.AsyncClient(timeout=30) as client:
        r = await client.post(control, json={"url": url, "addresses": ["10.0.0.8"]})
    assert r.status_code == 200, r.text
    return msgspec.json.decode(r.content, type=ControlReply), r.content


def _echoes_nothing_refused(raw: bytes) -> None:
    for address in (*REFUSED, "10.0.0.8", "10.0.0.9"):
        assert address.encode() not in raw, address


async def test_a_name_resolving_only_to_refused_addresses_is_refused_not_echoed(
    nursery: trio.Nursery,
) -> None:
    control, port = await _world(nursery)
    reply, raw = await _ask(control, f"http://internal.example.test:{port}/")
    assert reply.dns.addresses == [] and reply.dns.failure == "refused_address"
    assert reply.http.failure == "refused_address"
    assert reply.tcp == [] and reply.addresses == []
    _echoes_nothing_refused(raw)


async def test_only_the_allowed_addresses_of_a_name_are_echoed(nursery: trio.Nursery) -> None:
    control, port = await _world(nursery)
    reply, raw = await _ask(control, f"http://mixed.example.test:{port}/")
    assert reply.dns.addresses == ["127.0.0.1"] and reply.dns.failure is None
    assert reply.http.status_code == 200
    _echoes_nothing_refused(raw)


async def test_a_redirect_to_a_refused_address_is_reported_as_refused(
    nursery: trio.Nursery,
) -> None:
    control, port = await _world(nursery)
    for host in ("hop.example.test", "literal.example.test"):
        reply, raw = await _ask(control, f"http://{host}:{port}/")
        assert reply.http.failure == "refused_address", host
        assert reply.http.redirects == [f"http://{host}:{port}/"]
        _echoes_nothing_refused(raw.replace(b"http://10.0.0.9/", b""))
