"""`ControlClient` against raw loopback servers: the bytes it sends (httpx's), keep-alive,
limits, encodings and failures."""

from __future__ import annotations

import contextlib
import gzip
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import h11
import httpx
import pytest
import trio
import trustme

from probe.control import ControlClient
from probe.model import Failure
from probe.net import NETWORK_ERRORS, classify, make_ssl_context

BODY = b'{"url":"http://www.example.test/","addresses":[]}'
REPLY = b'{"ok":true}'


@dataclass
class RawServer:
    """A loopback HTTP/1.1 server that records what it receives and answers by `respond`."""

    respond: Callable[[int], bytes]
    """Returns the raw reply to the n-th request (0-based); b"" closes without a reply."""
    close_after: frozenset[int] = frozenset()
    """Requests after whose reply the server closes the connection."""
    received: list[bytes] = field(default_factory=list)
    connections: int = 0
    port: int = 0

    async def serve(self, stream: trio.abc.Stream) -> None:
        self.connections += 1
        conn = h11.Connection(h11.SERVER)
        raw = bytearray()
        async with stream:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    data = await stream.receive_some(65536)
                    if not data:
                        return
                    raw += data
                    conn.receive_data(data)
                    continue
                if isinstance(event, h11.EndOfMessage):
                    self.received.append(bytes(raw))
                    raw.clear()
                    n = len(self.received) - 1
                    reply = self.respond(n)
                    if not reply:
                        return
                    await stream.send_all(reply)
                    if b"connection: close" in reply.lower() or n in self.close_after:
                        return
                    conn = h11.Connection(h11.SERVER)  # the next request starts afresh


def reply_bytes(body: bytes = REPLY, *, status: int = 200, headers: str = "") -> bytes:
    head = f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{headers}"
    return head.encode() + f"content-length: {len(body)}\r\n\r\n".encode() + body


async def start(nursery: trio.Nursery, server: RawServer) -> str:
    listeners = await nursery.start(partial(trio.serve_tcp, server.serve, 0, host="127.0.0.1"))
    server.port = listeners[0].socket.getsockname()[1]
    return f"http://127.0.0.1:{server.port}/api/v1/control?x=1"


async def test_sends_the_bytes_httpx_sent_and_reuses_the_connection(
    nursery: trio.Nursery,
) -> None:
    server = RawServer(lambda n: reply_bytes())
    endpoint = await start(nursery, server)
    async with ControlClient(make_ssl_context()) as client:
        first = await client.post_json(endpoint, BODY, max_body_bytes=1000)
        second = await client.post_json(endpoint, BODY, max_body_bytes=1000)
    assert (first.status_code, first.body, second.body) == (200, REPLY, REPLY)
    assert server.connections == 1
    async with httpx.AsyncClient(trust_env=False, timeout=None) as reference:
        await reference.post(
            endpoint,
            content=BODY,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
    ours, theirs = server.received[0], server.received[2]
    # httpx offers zstd only when the optional zstandard package is installed; the probe
    # alone does not install it, and this client never offers it.
    assert ours == theirs.replace(b"gzip, deflate, zstd", b"gzip, deflate")
    assert ours.startswith(b"POST /api/v1/control?x=1 HTTP/1.1\r\nHost: 127.0.0.1:")


async def test_a_reply_past_the_limit_is_too_large_and_its_connection_closed(
    nursery: trio.Nursery,
) -> None:
    server = RawServer(lambda n: reply_bytes(b"x" * 5000))
    endpoint = await start(nursery, server)
    async with ControlClient(make_ssl_context()) as client:
        reply = await client.post_json(endpoint, BODY, max_body_bytes=4000)
        again = await client.post_json(endpoint, BODY, max_body_bytes=6000)
    assert reply.is_too_large and not again.is_too_large
    assert len(again.body) == 5000
    assert server.connections == 2


async def test_connection_close_and_server_closed_idle_connections_are_not_reused(
    nursery: trio.Nursery,
) -> None:
    closing = reply_bytes(headers="connection: close\r\n")
    server = RawServer(lambda n: closing if n == 0 else reply_bytes())
    endpoint = await start(nursery, server)
    async with ControlClient(make_ssl_context()) as client:
        for _ in range(3):
            assert (await client.post_json(endpoint, BODY, max_body_bytes=100)).body == REPLY
    assert server.connections == 2


@pytest.mark.parametrize(
    ("reply", "failure"),
    [
        (b"", Failure.EOF),
        (reply_bytes(b"x" * 50)[:-10], Failure.EOF),
        (b"NOT HTTP AT ALL\r\n\r\n", Failure.HTTP_PROTOCOL_ERROR),
    ],
    ids=["closed-without-reply", "cut-body", "garbage"],
)
async def test_broken_replies_fail_as_they_did_through_httpx(
    nursery: trio.Nursery, reply: bytes, failure: Failure
) -> None:
    server = RawServer(lambda n: reply, close_after=frozenset({0, 1}))
    endpoint = await start(nursery, server)
    async with ControlClient(make_ssl_context()) as client:
        with pytest.raises(NETWORK_ERRORS) as ours:
            await client.post_json(endpoint, BODY, max_body_bytes=100)
    async with httpx.AsyncClient(trust_env=False, timeout=None) as reference:
        with pytest.raises(NETWORK_ERRORS) as theirs:
            await reference.post(endpoint, content=BODY)
    assert classify(ours.value) == classify(theirs.value) == failure.value


async def test_gzip_replies_are_decoded_and_bad_ones_fail_as_decoding_errors(
    nursery: trio.Nursery,
) -> None:
    good = reply_bytes(gzip.compress(REPLY), headers="content-encoding: gzip\r\n")
    bad = reply_bytes(b"not gzip", headers="content-encoding: gzip\r\n")
    server = RawServer(lambda n: good if n == 0 else bad)
    endpoint = await start(nursery, server)
    async with ControlClient(make_ssl_context()) as client:
        assert (await client.post_json(endpoint, BODY, max_body_bytes=100)).body == REPLY
        with pytest.raises(httpx.DecodingError) as caught:
            await client.post_json(endpoint, BODY, max_body_bytes=100)
    assert classify(caught.value) == Failure.HTTP_PROTOCOL_ERROR.value


async def test_an_unreachable_control_is_connection_refused() -> None:
    async with ControlClient(make_ssl_context()) as client:
        with pytest.raises(OSError) as caught:
            await client.post_json("http://127.0.0.1:9/control", BODY, max_body_bytes=100)
    assert classify(caught.value) == Failure.CONNECTION_REFUSED.value


async def test_https_verifies_the_certificate_and_keeps_the_connection(
    nursery: trio.Nursery,
) -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    server = RawServer(lambda n: reply_bytes())

    async def serve_tls(stream: trio.SocketStream) -> None:
        # The untrusting client gives up in the handshake.
        with contextlib.suppress(trio.BrokenResourceError):
            await server.serve(trio.SSLStream(stream, server_context, server_side=True))

    listeners = await nursery.start(partial(trio.serve_tcp, serve_tls, 0, host="127.0.0.1"))
    port = listeners[0].socket.getsockname()[1]
    trusting = make_ssl_context()
    ca.configure_trust(trusting)
    async with ControlClient(trusting) as client:
        for _ in range(2):
            reply = await client.post_json(
                f"https://127.0.0.1:{port}/control", BODY, max_body_bytes=100
            )
            assert reply.body == REPLY
    assert server.connections == 1
    async with ControlClient(make_ssl_context()) as untrusting:
        with pytest.raises(trio.BrokenResourceError) as caught:
            await untrusting.post_json(f"https://127.0.0.1:{port}/control", BODY, max_body_bytes=9)
    assert classify(caught.value) == Failure.SSL_UNKNOWN_AUTHORITY.value
