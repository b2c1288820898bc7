"""The ISP's transparent proxy on loopback, in front of the lab's own web server."""

from __future__ import annotations

import functools
import hashlib

import httpx
import pytest
import trio

from lab.servers import Route, Site, html_page, serve_web
from lab.servers.proxy import serve_transparent_proxy
from lab.servers.sites import filler_bytes

LOOPBACK = "127.0.0.1"
BIG_BYTES = 3 * 1024 * 1024
SITES = [
    Site(
        "www.example.test",
        {
            "/": Route(body=html_page("Example", "Hello."), headers=(("X-Lab", "www"),)),
            "/moved": Route(status=301, redirect_to="https://www.example.test/"),
            "/big": Route(
                headers=(("content-type", "application/octet-stream"),), body_size=BIG_BYTES
            ),
        },
    ),
    Site("яндекс.example.test", {"/": Route(body=b"unicode")}),
]


@pytest.fixture
async def proxy_port(nursery: trio.Nursery) -> int:
    web_port = await nursery.start(functools.partial(serve_web, SITES, host=LOOPBACK))
    routes = {
        "WWW.example.test": LOOPBACK,
        "яндекс.example.test": LOOPBACK,
        "unserved.test": LOOPBACK,
    }
    start = functools.partial(
        serve_transparent_proxy, routes, host=LOOPBACK, port=0, upstream_port=web_port
    )
    port: int = await nursery.start(start)
    return port


async def get(port: int, host: str, path: str = "/") -> httpx.Response:
    async with httpx.AsyncClient(timeout=5) as client:
        return await client.get(f"http://{LOOPBACK}:{port}{path}", headers={"Host": host})


async def test_the_proxy_relays_the_sites_response_unchanged(proxy_port: int) -> None:
    response = await get(proxy_port, "www.example.test")
    assert response.status_code == 200
    assert response.content == html_page("Example", "Hello.")
    assert response.headers["x-lab"] == "www"
    assert response.headers["content-length"] == str(len(response.content))


async def test_redirects_are_relayed_not_followed(proxy_port: int) -> None:
    response = await get(proxy_port, "www.example.test", "/moved")
    assert response.status_code == 301
    assert response.headers["location"] == "https://www.example.test/"


async def test_a_large_body_streams_through_intact(proxy_port: int) -> None:
    response = await get(proxy_port, "www.example.test", "/big")
    assert len(response.content) == BIG_BYTES
    assert (
        hashlib.sha256(response.content).digest()
        == hashlib.sha256(filler_bytes(BIG_BYTES)).digest()
    )


async def test_unicode_hosts_are_matched_in_idna_form(proxy_port: int) -> None:
    response = await get(proxy_port, "xn--d1acpjx3f.example.test")
    assert response.content == b"unicode"


async def test_unknown_hosts_get_a_502_page(proxy_port: int) -> None:
    response = await get(proxy_port, "elsewhere.test")
    assert response.status_code == 502
    assert b"502 Bad Gateway" in response.content


async def test_a_site_that_is_reachable_but_unserved_gets_the_sites_own_answer(
    proxy_port: int,
) -> None:
    response = await get(proxy_port, "unserved.test")  # routed, but no site of that name
    assert response.status_code == 404


async def test_an_unreachable_upstream_gets_a_502_page(nursery: trio.Nursery) -> None:
    with trio.socket.socket() as sock:  # a port that is bound but never listens: refused
        await sock.bind((LOOPBACK, 0))
        dead_port = sock.getsockname()[1]
        start = functools.partial(
            serve_transparent_proxy,
            {"www.example.test": LOOPBACK},
            host=LOOPBACK,
            port=0,
            upstream_port=dead_port,
        )
        port = await nursery.start(start)
        response = await get(port, "www.example.test")
    assert response.status_code == 502


async def test_keep_alive_serves_several_requests_on_one_connection(proxy_port: int) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        ports = set()
        for _ in range(3):
            response = await client.get(
                f"http://{LOOPBACK}:{proxy_port}/", headers={"Host": "www.example.test"}
            )
            assert response.status_code == 200
            stream = response.extensions["network_stream"]
            ports.add(stream.get_extra_info("client_addr")[1])
    assert len(ports) == 1


async def test_routes_must_be_ip_literals() -> None:
    with pytest.raises(ValueError):
        await serve_transparent_proxy({"www.example.test": "www.example.test"}, port=0)
