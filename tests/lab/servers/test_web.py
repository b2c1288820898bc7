"""The HTTP server on real loopback sockets, with httpx (and raw streams) as clients."""

from __future__ import annotations

import functools
import hashlib
import socket
import tracemalloc
from collections.abc import Mapping

import httpx
import pytest
import trio

from lab.servers import ClientRoute, Route, ServerLimits, Site, html_page, serve_web
from lab.servers.sites import body_chunks

LATENCY_MS = 200
BIG_BYTES = 32 * 1024 * 1024
BIG = Route(headers=(("content-type", "application/octet-stream"),), body_size=BIG_BYTES)
CHALLENGE = Route(status=403, body=html_page("Checking your browser", "Please wait."))

SITES = [
    Site(
        "www.example.test",
        {
            "/": Route(body=html_page("Example", "Hello.")),
            "/about": Route(body=b"about", headers=(("x-lab", "about"),)),
            "/static/": Route(body=b"static"),
            "/old": Route(redirect_to="/"),
            "/moved": Route(status=301, redirect_to="https://www.example.test/"),
            "/slow": Route(body=b"slow", latency_ms=LATENCY_MS),
            "/big": BIG,
            "/reset": Route(reset=True),
        },
    ),
    Site("bücher.test", {"*": Route(body=b"books")}),
    Site(
        "cdn.test",
        {"/": Route(body=b"content")},
        client_routes=(
            ClientRoute("192.0.2.0/24", "/", Route(status=451)),
            ClientRoute("127.0.0.0/8", "/login", CHALLENGE),
        ),
    ),
    Site("exact.test", {"/index.html": Route(body=b"index")}),
    Site("*.bench.test", {"*": Route(body=b"bench")}),
    Site("own.bench.test", {"*": Route(body=b"own")}),
]


@pytest.fixture
async def base_url(nursery: trio.Nursery) -> str:
    port = await nursery.start(functools.partial(serve_web, SITES))
    return f"http://127.0.0.1:{port}"


async def get(
    url: str, host: str, *, method: str = "GET", headers: Mapping[str, str] | None = None
) -> httpx.Response:
    async with httpx.AsyncClient(timeout=5) as client:
        return await client.request(method, url, headers={"Host": host, **(headers or {})})


ROUTE_CASES = [
    ("root", "www.example.test", "/", 200, b"<title>Example</title>"),
    ("exact", "www.example.test", "/about", 200, b"about"),
    ("query-string-ignored", "www.example.test", "/about?x=1", 200, b"about"),
    ("prefix", "www.example.test", "/static/app.js", 200, b"static"),
    ("root-prefix-catches-all", "www.example.test", "/missing", 200, b"<title>Example"),
    ("no-route", "exact.test", "/missing", 404, b"404 Not Found"),
    ("host-with-port", "www.example.test:8080", "/about", 200, b"about"),
    ("host-case", "WWW.EXAMPLE.TEST", "/about", 200, b"about"),
    ("unicode-host-as-a-label", "xn--bcher-kva.test", "/any/thing", 200, b"books"),
    ("unknown-host", "nowhere.test", "/", 404, b"No site serves this host."),
    ("wildcard-site", "host-7.bench.test", "/x", 200, b"bench"),
    ("exact-beats-wildcard-site", "own.bench.test", "/x", 200, b"own"),
    ("wildcard-site-not-apex", "bench.test", "/x", 404, b"No site serves this host."),
]


@pytest.mark.parametrize(
    ("host", "path", "status", "snippet"),
    [c[1:] for c in ROUTE_CASES],
    ids=[c[0] for c in ROUTE_CASES],
)
async def test_host_and_path_select_the_response(
    base_url: str, host: str, path: str, status: int, snippet: bytes
) -> None:
    response = await get(base_url + path, host)
    assert response.status_code == status
    assert snippet in response.content


async def test_route_headers_and_length_are_sent(base_url: str) -> None:
    response = await get(base_url + "/about", "www.example.test")
    assert response.headers["x-lab"] == "about"
    assert response.headers["content-length"] == "5"
    assert response.headers["content-type"] == "text/html; charset=utf-8"


@pytest.mark.parametrize(
    ("path", "status", "location"),
    [("/old", 302, "/"), ("/moved", 301, "https://www.example.test/")],
    ids=["found", "moved-permanently"],
)
async def test_redirects_carry_status_and_location(
    base_url: str, path: str, status: int, location: str
) -> None:
    response = await get(base_url + path, "www.example.test")
    assert response.status_code == status
    assert response.headers["location"] == location


async def test_route_latency_holds_the_response(base_url: str) -> None:
    start = trio.current_time()
    response = await get(base_url + "/slow", "www.example.test")
    elapsed = trio.current_time() - start
    assert response.content == b"slow"
    assert LATENCY_MS / 1000 <= elapsed < LATENCY_MS / 1000 + 1.0


async def test_default_latency_adds_to_every_response(nursery: trio.Nursery) -> None:
    port = await nursery.start(functools.partial(serve_web, SITES, default_latency_ms=LATENCY_MS))
    start = trio.current_time()
    response = await get(f"http://127.0.0.1:{port}/slow", "www.example.test")
    assert response.status_code == 200
    assert trio.current_time() - start >= 2 * LATENCY_MS / 1000


async def test_a_reset_route_gets_a_reset_from_the_server_and_no_response(base_url: str) -> None:
    port = int(base_url.rsplit(":", 1)[1])
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(b"GET /reset HTTP/1.1\r\nHost: www.example.test\r\n\r\n")
        with pytest.raises(trio.BrokenResourceError) as raised:
            with trio.fail_after(5):
                while await stream.receive_some(1024):  # ends: the server sends nothing
                    pass
        assert isinstance(raised.value.__cause__, ConnectionResetError)
    assert (await get(base_url + "/about", "www.example.test")).content == b"about"


async def test_client_routes_apply_only_inside_their_network(base_url: str) -> None:
    challenged = await get(base_url + "/login", "cdn.test")
    assert challenged.status_code == 403
    assert b"Checking your browser" in challenged.content
    served = await get(base_url + "/", "cdn.test")  # 192.0.2.0/24 does not hold 127.0.0.1
    assert (served.status_code, served.content) == (200, b"content")


async def test_head_gets_headers_without_a_body(base_url: str) -> None:
    response = await get(base_url + "/big", "www.example.test", method="HEAD")
    assert response.status_code == 200
    assert response.headers["content-length"] == str(BIG_BYTES)
    assert response.content == b""


async def test_32_mib_body_streams_in_full_with_bounded_memory(base_url: str) -> None:
    expected = hashlib.sha256()
    for chunk in body_chunks(BIG, 1 << 20):
        expected.update(chunk)
    received = hashlib.sha256()
    size = 0
    tracemalloc.start()
    try:
        async with (
            httpx.AsyncClient(timeout=10) as client,
            client.stream(
                "GET", base_url + "/big", headers={"Host": "www.example.test"}
            ) as response,
        ):
            async for chunk in response.aiter_raw():
                size += len(chunk)
                received.update(chunk)
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size == BIG_BYTES
    assert received.digest() == expected.digest()
    assert peak_bytes < 8 * 1024 * 1024  # server and client together, far below 32 MiB


async def count_connections(base_url: str, host: str, requests: int) -> tuple[int, list[str]]:
    """Return how many TCP connections httpx opened for `requests` GETs, and Connection headers."""
    opened = 0

    async def trace(event: str, info: Mapping[str, object]) -> None:
        nonlocal opened
        if event == "connection.connect_tcp.started":
            opened += 1

    closes = []
    async with httpx.AsyncClient(timeout=5) as client:
        for _ in range(requests):
            response = await client.get(
                base_url + "/about", headers={"Host": host}, extensions={"trace": trace}
            )
            assert response.status_code == 200
            closes.append(response.headers.get("connection", ""))
    return opened, closes


async def test_keep_alive_reuses_one_connection(base_url: str) -> None:
    opened, closes = await count_connections(base_url, "www.example.test", 3)
    assert opened == 1
    assert closes == ["", "", ""]


async def test_request_limit_closes_the_connection(nursery: trio.Nursery) -> None:
    limits = ServerLimits(max_requests_per_connection=2)
    port = await nursery.start(functools.partial(serve_web, SITES, limits=limits))
    opened, closes = await count_connections(f"http://127.0.0.1:{port}", "www.example.test", 4)
    assert opened == 2
    assert closes == ["", "close", "", "close"]


async def receive_all(stream: trio.SocketStream, limit_s: float = 3.0) -> bytes:
    """Return what `stream` sends until it closes, within `limit_s`."""
    data = b""
    with trio.fail_after(limit_s):
        for _ in range(1000):
            chunk = await stream.receive_some(65536)
            if not chunk:
                break
            data += chunk
    return data


async def test_idle_connection_is_closed(nursery: trio.Nursery) -> None:
    limits = ServerLimits(idle_timeout_s=0.2)
    port = await nursery.start(functools.partial(serve_web, SITES, limits=limits))
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        assert await receive_all(stream) == b""


async def test_malformed_request_gets_400_and_the_server_goes_on(base_url: str) -> None:
    port = int(base_url.rsplit(":", 1)[1])
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(b"THIS IS NOT HTTP\r\n\r\n")
        assert (await receive_all(stream)).startswith(b"HTTP/1.1 400 ")
    response = await get(base_url + "/about", "www.example.test")
    assert response.status_code == 200


async def test_request_without_host_gets_404(base_url: str) -> None:
    port = int(base_url.rsplit(":", 1)[1])
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(b"GET /about HTTP/1.0\r\n\r\n")
        assert (await receive_all(stream)).startswith(b"HTTP/1.1 404 ")


async def test_absolute_form_target_names_the_host(base_url: str) -> None:
    port = int(base_url.rsplit(":", 1)[1])
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(
            b"GET http://www.example.test/about HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        reply = await receive_all(stream)
    assert reply.startswith(b"HTTP/1.1 200 ")
    assert reply.endswith(b"about")


async def test_request_bodies_are_read_and_bounded(nursery: trio.Nursery) -> None:
    limits = ServerLimits(max_request_body_bytes=1000)
    port = await nursery.start(functools.partial(serve_web, SITES, limits=limits))
    async with httpx.AsyncClient(timeout=5) as client:
        url = f"http://127.0.0.1:{port}/about"
        small = await client.post(url, content=b"x" * 1000, headers={"Host": "www.example.test"})
        assert (small.status_code, small.content) == (200, b"about")
        big = await client.post(url, content=b"x" * 1001, headers={"Host": "www.example.test"})
        assert big.status_code == 413


async def test_connection_limit_queues_further_clients(nursery: trio.Nursery) -> None:
    limits = ServerLimits(max_connections=1)
    port = await nursery.start(functools.partial(serve_web, SITES, limits=limits))
    request = b"GET /about HTTP/1.1\r\nHost: www.example.test\r\nConnection: close\r\n\r\n"
    first = await trio.open_tcp_stream("127.0.0.1", port)
    second = await trio.open_tcp_stream("127.0.0.1", port)
    async with second:
        async with first:
            await second.send_all(request)
            with trio.move_on_after(0.3) as waiting:
                await second.receive_some(65536)
            assert waiting.cancelled_caught  # the only slot is held by the idle first client
        assert (await receive_all(second)).startswith(b"HTTP/1.1 200 ")


async def test_client_that_stops_reading_loses_its_slot(nursery: trio.Nursery) -> None:
    limits = ServerLimits(max_connections=1, idle_timeout_s=0.3)
    port = await nursery.start(functools.partial(serve_web, SITES, limits=limits))
    stalled = await trio.open_tcp_stream("127.0.0.1", port)
    async with stalled:
        await stalled.send_all(b"GET /big HTTP/1.1\r\nHost: www.example.test\r\n\r\n")
        second = await trio.open_tcp_stream("127.0.0.1", port)
        async with second:
            await second.send_all(
                b"GET /about HTTP/1.1\r\nHost: www.example.test\r\nConnection: close\r\n\r\n"
            )
            assert (await receive_all(second)).startswith(b"HTTP/1.1 200 ")


async def test_duplicate_site_hosts_are_refused(nursery: trio.Nursery) -> None:
    sites = [Site("a.test", {}), Site("A.TEST.", {})]
    with pytest.raises(ValueError, match="two sites"):
        await nursery.start(functools.partial(serve_web, sites))


def ipv6_loopback_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback_available(), reason="::1 is not available on this host")
async def test_ipv6_server_sees_ipv6_clients(nursery: trio.Nursery) -> None:
    site = Site(
        "v6.test", {"/": Route(body=b"v6")}, (ClientRoute("::1/128", "/", Route(status=403)),)
    )
    port = await nursery.start(functools.partial(serve_web, [site], host="::1"))
    response = await get(f"http://[::1]:{port}/", "v6.test")
    assert response.status_code == 403
