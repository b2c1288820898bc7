"""Tests of the pinned HTTP fetch against the lab's web servers and tiny misbehaving servers."""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import AsyncIterator

import httpx
import pytest
import trio

from lab.servers import filler_bytes
from probe.model.failures import Failure
from probe.model.observations import HttpTransaction
from probe.net import HttpProgress, StepClock, fetch_http, make_http_client, redirect_target
from tests.probe.net.conftest import (
    BIG_BODY_BYTES,
    MIB,
    THROTTLE_TOTAL_BYTES,
    WWW_PAGE,
    StartBehaviour,
)

USER_AGENT = ("User-Agent", "crenel-test/1")


@pytest.fixture
async def client(tls_context: ssl.SSLContext) -> AsyncIterator[httpx.AsyncClient]:
    """Return an HTTP client trusting the lab CA, closed after the test."""
    async with make_http_client(tls_context) as http_client:
        yield http_client


async def fetch(
    url: str,
    client: httpx.AsyncClient,
    clock: StepClock,
    *,
    address: str = "127.0.0.1",
    body_cap_bytes: int = MIB,
    max_body_bytes: int = 64 * MIB,
    progress: HttpProgress | None = None,
) -> HttpTransaction:
    """Return `fetch_http` of `url` pinned to `address` with the tests' usual limits."""
    return await fetch_http(
        url,
        address,
        client=client,
        clock=clock,
        txid=1,
        headers=[USER_AGENT],
        body_cap_bytes=body_cap_bytes,
        max_body_bytes=max_body_bytes,
        progress=progress or HttpProgress(),
    )


def header(pairs: list[tuple[str, str]], name: str) -> str | None:
    """Return the first value of header `name` (case-insensitive), if any."""
    return next((v for k, v in pairs if k.lower() == name.lower()), None)


async def test_https_fetch_pinned_to_loopback_keeps_host_and_sni(
    https_port: int, client: httpx.AsyncClient, clock: StepClock
) -> None:
    url = f"https://www.example.test:{https_port}/"
    transaction = await fetch(url, client, clock)
    assert transaction.failure is None
    assert transaction.url == url
    assert (transaction.address, transaction.port) == ("127.0.0.1", https_port)
    assert header(transaction.request_headers, "host") == f"www.example.test:{https_port}"
    assert header(transaction.request_headers, "user-agent") == "crenel-test/1"
    assert transaction.tls_version == "TLSv1.3"
    assert transaction.negotiated_protocol == "http/1.1"
    response = transaction.response
    assert response is not None
    assert response.status_code == 200  # the server found the site by the Host header
    assert response.http_version == "HTTP/1.1"
    assert response.title == "Example Domain"
    assert response.body_prefix == WWW_PAGE.decode()
    assert response.body_prefix_base64 is None
    assert response.body_sha256 == hashlib.sha256(WWW_PAGE).hexdigest()
    assert response.body_length == len(WWW_PAGE)
    assert response.body_is_complete
    times = [
        transaction.t0_ms,
        transaction.connect_ms,
        transaction.tls_ms,
        transaction.request_sent_ms,
        transaction.headers_ms,
        transaction.t_ms,
    ]
    assert None not in times
    assert times == sorted(times)  # type: ignore[type-var]
    assert transaction.local_port is not None and transaction.local_port != https_port


async def test_sni_names_the_url_host_not_the_default_site(
    https_port: int, client: httpx.AsyncClient, clock: StepClock
) -> None:
    # Without SNI the server presents www's certificate, which would fail verification here.
    transaction = await fetch(f"https://other.example.test:{https_port}/", client, clock)
    assert transaction.failure is None
    assert transaction.response is not None
    assert transaction.response.title == "Other"


async def test_unicode_host_is_sent_and_recorded_in_punycode(
    https_port: int, client: httpx.AsyncClient, clock: StepClock
) -> None:
    transaction = await fetch(f"https://яндекс.example.test:{https_port}/", client, clock)
    assert transaction.failure is None
    assert transaction.url == f"https://xn--d1acpjx3f.example.test:{https_port}/"
    assert header(transaction.request_headers, "host") == (
        f"xn--d1acpjx3f.example.test:{https_port}"
    )
    assert transaction.response is not None
    assert transaction.response.title == "Яндекс"


async def test_plain_http_fetch_to_ipv6_loopback(
    web6_port: int, client: httpx.AsyncClient, clock: StepClock
) -> None:
    transaction = await fetch(f"http://www.example.test:{web6_port}/", client, clock, address="::1")
    assert transaction.failure is None
    assert transaction.address == "::1"
    assert transaction.tls_ms is None
    assert transaction.tls_version is None
    assert transaction.response is not None
    assert transaction.response.status_code == 200


async def test_big_body_is_hashed_and_counted_in_full_but_only_its_prefix_kept(
    web_port: int, client: httpx.AsyncClient, clock: StepClock
) -> None:
    transaction = await fetch(f"http://www.example.test:{web_port}/big", client, clock)
    assert transaction.failure is None
    response = transaction.response
    assert response is not None
    assert response.body_length == BIG_BODY_BYTES
    assert response.body_is_complete
    expected = filler_bytes(BIG_BODY_BYTES)
    assert response.body_sha256 == hashlib.sha256(expected).hexdigest()
    assert response.body_prefix is not None
    assert response.body_prefix.encode() == expected[:MIB]
    samples = transaction.received
    assert 2 <= len(samples) <= 64
    assert samples[-1].bytes == BIG_BODY_BYTES
    assert [s.bytes for s in samples] == sorted(s.bytes for s in samples)
    assert [s.t_ms for s in samples] == sorted(s.t_ms for s in samples)


async def test_body_beyond_the_limit_is_not_read(
    web_port: int, client: httpx.AsyncClient, clock: StepClock
) -> None:
    transaction = await fetch(
        f"http://www.example.test:{web_port}/big",
        client,
        clock,
        body_cap_bytes=4096,
        max_body_bytes=MIB,
    )
    assert transaction.failure is None
    response = transaction.response
    assert response is not None
    assert response.body_length == MIB
    assert not response.body_is_complete
    assert response.body_sha256 == hashlib.sha256(filler_bytes(MIB)).hexdigest()
    assert response.body_prefix is not None
    assert len(response.body_prefix) == 4096


async def test_throttled_body_cut_by_the_callers_deadline_keeps_what_arrived(
    misbehaving_server: StartBehaviour, client: httpx.AsyncClient, clock: StepClock
) -> None:
    port = await misbehaving_server("throttled")
    progress = HttpProgress()
    with trio.move_on_after(0.4) as scope:
        await fetch(f"http://www.example.test:{port}/", client, clock, progress=progress)
    assert scope.cancelled_caught
    transaction = progress.timed_out(clock)
    assert transaction.failure == Failure.GENERIC_TIMEOUT.value
    response = transaction.response
    assert response is not None
    assert response.status_code == 200
    assert 0 < response.body_length < THROTTLE_TOTAL_BYTES
    assert not response.body_is_complete
    assert response.title == "Slow page"
    assert len(transaction.received) >= 3
    assert transaction.received[-1].bytes == response.body_length
    assert transaction.headers_ms is not None
    assert transaction.t_ms >= transaction.t0_ms + 350  # the deadline was set just before t0


async def test_silent_server_cut_by_the_callers_deadline_has_no_response(
    misbehaving_server: StartBehaviour, client: httpx.AsyncClient, clock: StepClock
) -> None:
    port = await misbehaving_server("silent")
    progress = HttpProgress()
    with trio.move_on_after(0.2):
        await fetch(f"http://www.example.test:{port}/", client, clock, progress=progress)
    transaction = progress.timed_out(clock)
    assert transaction.failure == Failure.GENERIC_TIMEOUT.value
    assert transaction.response is None
    assert transaction.received == []
    assert transaction.connect_ms is not None
    assert transaction.headers_ms is None


MISBEHAVIOURS = [
    ("eof-before-response", "eof", Failure.EOF),
    ("reset-after-request", "reset", Failure.CONNECTION_RESET),
    ("garbage-reply", "garbage", Failure.HTTP_PROTOCOL_ERROR),
]


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [case[1:] for case in MISBEHAVIOURS],
    ids=[case[0] for case in MISBEHAVIOURS],
)
async def test_server_misbehaving_before_a_response_is_recorded(
    misbehaving_server: StartBehaviour,
    client: httpx.AsyncClient,
    clock: StepClock,
    behaviour: str,
    expected: Failure,
) -> None:
    port = await misbehaving_server(behaviour)
    transaction = await fetch(f"http://www.example.test:{port}/", client, clock)
    assert transaction.failure == expected.value
    assert transaction.response is None


async def test_truncated_body_keeps_the_response_and_is_eof(
    misbehaving_server: StartBehaviour, client: httpx.AsyncClient, clock: StepClock
) -> None:
    port = await misbehaving_server("truncated")
    transaction = await fetch(f"http://www.example.test:{port}/", client, clock)
    assert transaction.failure == Failure.EOF.value
    response = transaction.response
    assert response is not None
    assert response.status_code == 200
    assert response.body_length == 10
    assert response.body_prefix == "0123456789"
    assert not response.body_is_complete


async def test_closed_port_is_connection_refused(
    closed_port: int, client: httpx.AsyncClient, clock: StepClock
) -> None:
    transaction = await fetch(f"http://www.example.test:{closed_port}/", client, clock)
    assert transaction.failure == Failure.CONNECTION_REFUSED.value
    assert transaction.response is None


TLS_FAILURES = [
    ("wrong-host", "wrong.example.test", Failure.SSL_INVALID_HOSTNAME),
    ("untrusted", "untrusted.example.test", Failure.SSL_UNKNOWN_AUTHORITY),
    ("expired", "expired.example.test", Failure.SSL_INVALID_CERTIFICATE),
]


@pytest.mark.parametrize(
    ("host", "expected"),
    [case[1:] for case in TLS_FAILURES],
    ids=[case[0] for case in TLS_FAILURES],
)
async def test_certificate_failure_of_a_pinned_https_fetch_is_recorded(
    https_port: int, client: httpx.AsyncClient, clock: StepClock, host: str, expected: Failure
) -> None:
    transaction = await fetch(f"https://{host}:{https_port}/", client, clock)
    assert transaction.failure == expected.value
    assert transaction.connect_ms is not None
    assert transaction.tls_ms is None


async def test_redirect_is_not_followed_and_its_target_is_absolute(
    web_port: int, client: httpx.AsyncClient, clock: StepClock
) -> None:
    transaction = await fetch(f"http://www.example.test:{web_port}/redirect", client, clock)
    assert transaction.failure is None
    assert transaction.response is not None
    assert transaction.response.status_code == 301
    target = redirect_target(transaction)
    assert target is not None
    assert target.url == f"http://www.example.test:{web_port}/landing?from=redirect"


async def test_a_callers_host_header_is_replaced_by_the_urls(
    web_port: int, client: httpx.AsyncClient, clock: StepClock
) -> None:
    transaction = await fetch_http(
        f"http://www.example.test:{web_port}/",
        "127.0.0.1",
        client=client,
        clock=clock,
        txid=1,
        headers=[("Host", "evil.test")],
        body_cap_bytes=MIB,
        max_body_bytes=MIB,
        progress=HttpProgress(),
    )
    hosts = [v for k, v in transaction.request_headers if k.lower() == "host"]
    assert hosts == [f"www.example.test:{web_port}"]


async def test_a_progress_records_one_fetch_only(
    web_port: int, client: httpx.AsyncClient, clock: StepClock
) -> None:
    progress = HttpProgress()
    await fetch(f"http://www.example.test:{web_port}/", client, clock, progress=progress)
    with pytest.raises(RuntimeError):
        await fetch(f"http://www.example.test:{web_port}/", client, clock, progress=progress)


async def test_a_progress_never_used_cannot_report(clock: StepClock) -> None:
    with pytest.raises(RuntimeError):
        HttpProgress().timed_out(clock)


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("ftp://www.example.test/", "127.0.0.1"),
        ("http:///no-host", "127.0.0.1"),
        ("http://www.example.test/", "www.example.test"),
    ],
    ids=["not-http", "no-host", "address-not-ip"],
)
async def test_bad_url_or_address_is_a_caller_error(
    client: httpx.AsyncClient, clock: StepClock, url: str, address: str
) -> None:
    with pytest.raises(ValueError):
        await fetch(url, client, clock, address=address)


def test_the_http_client_never_uses_proxies_or_follows_redirects(
    tls_context: ssl.SSLContext,
) -> None:
    client = make_http_client(tls_context)
    assert not client.trust_env
    assert not client.follow_redirects
