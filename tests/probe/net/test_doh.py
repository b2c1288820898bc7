"""Tests of DNS over HTTPS against the lab's DoH endpoint on loopback."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import httpx
import pytest

from probe.model.failures import Failure
from probe.model.observations import ResolverKind
from probe.net import StepClock, make_http_client, resolve_doh
from tests.probe.net.conftest import StartBehaviour


@pytest.fixture
async def doh_client(tls_context: ssl.SSLContext) -> AsyncIterator[httpx.AsyncClient]:
    """Return an HTTP client trusting the lab CA, closed after the test."""
    async with make_http_client(tls_context) as client:
        yield client


async def test_doh_answer_is_recorded_with_the_servers_host_and_port(
    doh_port: int, doh_client: httpx.AsyncClient, clock: StepClock
) -> None:
    url = f"https://127.0.0.1:{doh_port}/dns-query"
    query = await resolve_doh(
        "www.example.test", "A", url, client=doh_client, clock=clock, txid=11, depth=2
    )
    assert query.failure is None
    assert [a.address for a in query.answers] == ["198.51.100.80"]
    assert query.resolver_kind is ResolverKind.DOH
    assert query.resolver_address == url
    assert query.rcode == "NOERROR"
    (response,) = query.responses
    assert response.source == f"127.0.0.1:{doh_port}"
    assert response.ip_ttl is None
    assert query.id == 11
    assert query.depth == 2


async def test_doh_returns_only_the_real_answer_of_an_injected_name(
    doh_port: int, doh_client: httpx.AsyncClient, clock: StepClock
) -> None:
    url = f"https://127.0.0.1:{doh_port}/dns-query"
    query = await resolve_doh(
        "injected.example.test", "A", url, client=doh_client, clock=clock, txid=1
    )
    assert [a.address for a in query.answers] == ["198.51.100.81"]


async def test_doh_nxdomain_is_a_failure(
    doh_port: int, doh_client: httpx.AsyncClient, clock: StepClock
) -> None:
    url = f"https://127.0.0.1:{doh_port}/dns-query"
    query = await resolve_doh("nx.example.test", "A", url, client=doh_client, clock=clock, txid=1)
    assert query.failure == Failure.DNS_NXDOMAIN.value
    assert query.rcode == "NXDOMAIN"


async def test_doh_non_200_status_is_a_server_failure(
    doh_port: int, doh_client: httpx.AsyncClient, clock: StepClock
) -> None:
    url = f"https://127.0.0.1:{doh_port}/not-doh"
    query = await resolve_doh("www.example.test", "A", url, client=doh_client, clock=clock, txid=1)
    assert query.failure == Failure.DNS_SERVER_FAILURE.value
    assert query.responses == []


async def test_doh_to_a_closed_port_is_connection_refused(
    closed_port: int, doh_client: httpx.AsyncClient, clock: StepClock
) -> None:
    url = f"https://127.0.0.1:{closed_port}/dns-query"
    query = await resolve_doh("www.example.test", "A", url, client=doh_client, clock=clock, txid=1)
    assert query.failure == Failure.CONNECTION_REFUSED.value


async def test_doh_server_with_an_untrusted_certificate_is_unknown_authority(
    doh_port: int, clock: StepClock
) -> None:
    async with make_http_client(ssl.create_default_context()) as client:
        url = f"https://127.0.0.1:{doh_port}/dns-query"
        query = await resolve_doh("www.example.test", "A", url, client=client, clock=clock, txid=1)
    assert query.failure == Failure.SSL_UNKNOWN_AUTHORITY.value


BAD_REPLIES = [
    ("oversized", "doh-oversized"),
    ("not-a-dns-message", "doh-not-dns"),
    ("wrong-content-type", "doh-wrong-type"),
]


@pytest.mark.parametrize("behaviour", [c[1] for c in BAD_REPLIES], ids=[c[0] for c in BAD_REPLIES])
async def test_doh_reply_that_is_not_a_dns_response_is_misbehaving(
    misbehaving_server: StartBehaviour,
    doh_client: httpx.AsyncClient,
    clock: StepClock,
    behaviour: str,
) -> None:
    port = await misbehaving_server(behaviour)
    url = f"http://127.0.0.1:{port}/dns-query"
    query = await resolve_doh("www.example.test", "A", url, client=doh_client, clock=clock, txid=1)
    assert query.failure == Failure.DNS_BAD_RESPONSE.value
    assert query.responses == []
