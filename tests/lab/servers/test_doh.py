"""DNS-over-HTTPS (RFC 8484) answered by `serve_web` from a zone, on loopback."""

from __future__ import annotations

import base64
import functools
import ssl
from pathlib import Path

import dns.message
import httpx
import pytest
import trio

from lab.servers import (
    DNS_MESSAGE_TYPE,
    DnsRecord,
    Injection,
    NameBehaviour,
    Route,
    Site,
    TlsSetup,
    Zone,
    serve_web,
)

DELAY_MS = 200
ZONE = Zone(
    records=(
        DnsRecord("www.example.test", "A", "192.0.2.10"),
        DnsRecord("blocked.example.test", "A", "192.0.2.30"),
        DnsRecord("slow.example.test", "A", "192.0.2.40"),
    ),
    behaviours={
        "slow.example.test": NameBehaviour(delay_ms=DELAY_MS),
        "dropped.example.test": NameBehaviour(drop=True),
        "blocked.example.test": NameBehaviour(inject=(Injection(("198.51.100.250",)),)),
    },
)
SITES = [Site("127.0.0.1", {"/": Route(body=b"resolver home")})]


@pytest.fixture
async def url(nursery: trio.Nursery) -> str:
    port = await nursery.start(functools.partial(serve_web, SITES, doh_zone=ZONE))
    return f"http://127.0.0.1:{port}/dns-query"


def addresses(content: bytes) -> list[str]:
    message = dns.message.from_wire(content)
    return [rd.to_text() for rrset in message.answer for rd in rrset]


async def post(url: str, wire: bytes, content_type: str = DNS_MESSAGE_TYPE) -> httpx.Response:
    async with httpx.AsyncClient(timeout=5) as client:
        return await client.post(url, content=wire, headers={"content-type": content_type})


async def get(url: str, params: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(timeout=5) as client:
        return await client.get(url, params=params, headers={"accept": DNS_MESSAGE_TYPE})


def query(name: str) -> bytes:
    message = dns.message.make_query(name, "A")
    message.id = 0  # RFC 8484 section 4.1: 0 for cache friendliness
    return message.to_wire()


async def test_post_is_answered_from_the_zone(url: str) -> None:
    response = await post(url, query("www.example.test"))
    assert response.status_code == 200
    assert response.headers["content-type"] == DNS_MESSAGE_TYPE
    assert addresses(response.content) == ["192.0.2.10"]


async def test_get_with_unpadded_base64url_is_answered(url: str) -> None:
    encoded = base64.urlsafe_b64encode(query("www.example.test")).rstrip(b"=").decode()
    response = await get(url, {"dns": encoded})
    assert response.status_code == 200
    assert addresses(response.content) == ["192.0.2.10"]


async def test_doh_gets_the_real_answer_never_the_injected_one(url: str) -> None:
    response = await post(url, query("blocked.example.test"))
    assert addresses(response.content) == ["192.0.2.30"]


async def test_doh_waits_the_name_delay(url: str) -> None:
    start = trio.current_time()
    response = await post(url, query("slow.example.test"))
    elapsed = trio.current_time() - start
    assert addresses(response.content) == ["192.0.2.40"]
    assert DELAY_MS / 1000 <= elapsed < DELAY_MS / 1000 + 1.0


async def test_dropped_name_gets_no_doh_answer(url: str) -> None:
    with trio.move_on_after(0.5) as deadline:
        await post(url, query("dropped.example.test"))
    assert deadline.cancelled_caught


async def test_other_paths_still_serve_the_site(url: str) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.get(url.removesuffix("/dns-query") + "/")
    assert response.content == b"resolver home"


REJECT_CASES = [
    ("wrong-content-type", "POST", {}, "text/plain", 415),
    ("missing-dns-parameter", "GET", {}, None, 400),
    ("bad-base64", "GET", {"dns": "!!!"}, None, 400),
    ("short-message", "GET", {"dns": "AAAA"}, None, 400),
    ("wrong-method", "PUT", {}, DNS_MESSAGE_TYPE, 405),
]


@pytest.mark.parametrize(
    ("method", "params", "content_type", "status"),
    [c[1:] for c in REJECT_CASES],
    ids=[c[0] for c in REJECT_CASES],
)
async def test_bad_doh_requests_are_rejected(
    url: str, method: str, params: dict[str, str], content_type: str | None, status: int
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    body = query("www.example.test") if method != "GET" else None
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.request(method, url, params=params, headers=headers, content=body)
    assert response.status_code == status


async def test_doh_works_over_verified_https(nursery: trio.Nursery, tmp_path: Path) -> None:
    tls = TlsSetup.create()
    port = await nursery.start(functools.partial(serve_web, SITES, tls=tls, doh_zone=ZONE))
    ca_file = tmp_path / "ca.pem"
    tls.ca.write_pem(ca_file)
    context = ssl.create_default_context(cafile=str(ca_file))
    wire = query("www.example.test")
    encoded = base64.urlsafe_b64encode(wire).rstrip(b"=").decode()
    async with httpx.AsyncClient(verify=context, timeout=5) as client:
        url = f"https://127.0.0.1:{port}/dns-query"  # the default certificate has an IP SAN
        posted = await client.post(url, content=wire, headers={"content-type": DNS_MESSAGE_TYPE})
        fetched = await client.get(url, params={"dns": encoded})
    assert addresses(posted.content) == addresses(fetched.content) == ["192.0.2.10"]
