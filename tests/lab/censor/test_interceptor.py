"""The TLS interceptor: original-destination parsing and relaying, then interception on the wire."""

from __future__ import annotations

import socket
import struct

import pytest
import trio
import trio.testing
from cryptography import x509

from lab.censor.interceptor import CA_FILE, CA_NAME, ReplayStream, parse_sockaddr_in, relay
from lab.censor.rules import CensorPlan, TlsIntercept

from .netlab import CLIENT_NETWORK, NEWS_BODY, Lab

SIGTERM_EXIT_S = 1.0


def sockaddr_in(address: str, port: int, family: int = socket.AF_INET) -> bytes:
    return (
        struct.pack("=H", family) + struct.pack("!H", port) + socket.inet_aton(address) + bytes(8)
    )


def test_the_original_destination_is_read_from_a_sockaddr_in() -> None:
    assert parse_sockaddr_in(sockaddr_in("203.0.113.20", 443)) == ("203.0.113.20", 443)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(sockaddr_in("203.0.113.20", 443, socket.AF_INET6), id="wrong-family"),
        pytest.param(b"\x02\x00\x01", id="short"),
    ],
)
def test_other_socket_addresses_are_refused(raw: bytes) -> None:
    with pytest.raises(ValueError):
        parse_sockaddr_in(raw)


async def test_a_replay_stream_yields_the_prefix_then_the_inner_stream() -> None:
    left, right = trio.testing.memory_stream_pair()
    replay = ReplayStream(b"hello", right)
    await left.send_all(b" world")
    assert await replay.receive_some(3) == b"hel"
    assert await replay.receive_some() == b"lo"
    assert await replay.receive_some() == b" world"
    await replay.send_all(b"back")
    assert await left.receive_some() == b"back"
    await replay.aclose()
    assert await left.receive_some() == b""


async def test_relay_copies_both_ways_and_passes_half_closes_on() -> None:
    client, client_end = trio.testing.memory_stream_pair()
    server_end, server = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(relay, client_end, server_end, 5.0)
        await client.send_all(b"request")
        assert await server.receive_some() == b"request"
        await client.send_eof()
        assert await server.receive_some() == b""  # the client's EOF reached the server
        await server.send_all(b"response")  # the other direction still works
        assert await client.receive_some() == b"response"
        await server.send_eof()
        assert await client.receive_some() == b""


async def test_relay_ends_after_the_idle_timeout(autojump_clock: trio.testing.MockClock) -> None:
    _client, client_end = trio.testing.memory_stream_pair()
    server_end, _server = trio.testing.memory_stream_pair()
    start = trio.current_time()
    await relay(client_end, server_end, 30.0)
    assert trio.current_time() - start == pytest.approx(30.0)


@pytest.mark.netns
async def test_interception_presents_the_censor_ca_and_other_names_pass_untouched(
    lab: Lab,
) -> None:
    rules = (TlsIntercept("news.example.test"),)
    helpers = await lab.apply_censor(CensorPlan(rules=rules, client_networks=(CLIENT_NETWORK,)))
    censor_ca = x509.load_pem_x509_certificate((lab.censor_ca_dir / CA_FILE).read_bytes())
    news, www = await lab.probe("https://news.example.test/", "https://www.example.test/")
    (tls,) = news.tls
    assert tls.failure == "ssl_unknown_authority"
    assert tls.peer_certificates, "the chain is recorded from a second, unverified handshake"
    leaf = tls.peer_certificates[0]
    assert leaf.issuer == censor_ca.subject.rfc4514_string()
    assert CA_NAME in leaf.issuer and leaf.dns_names == ["news.example.test"]
    assert [h.failure for h in news.http] == ["ssl_unknown_authority"]
    (www_tls,) = www.tls
    assert www_tls.failure is None and www_tls.is_verified
    assert "Crenel lab root CA" in www_tls.peer_certificates[0].issuer
    assert www.http[0].response is not None and www.http[0].response.status_code == 200
    assert await lab.stop(helpers["interceptor"]) < SIGTERM_EXIT_S


@pytest.mark.netns
async def test_a_client_trusting_the_censor_ca_gets_the_real_page_through_it(lab: Lab) -> None:
    rules = (TlsIntercept("news.example.test"),)
    await lab.apply_censor(CensorPlan(rules=rules, client_networks=(CLIENT_NETWORK,)))
    bundle = lab.directory / "both-cas.pem"
    bundle.write_bytes(lab.lab_ca.read_bytes() + (lab.censor_ca_dir / CA_FILE).read_bytes())
    (news,) = await lab.probe("https://news.example.test/", ca_bundle=bundle)
    (tls,) = news.tls
    assert tls.failure is None and tls.is_verified
    assert CA_NAME in tls.peer_certificates[0].issuer
    (tx,) = news.http
    assert tx.response is not None and tx.response.body_prefix == NEWS_BODY
