"""Loopback servers for the network-step tests: the lab's DNS/web servers plus tiny misbehavers.

Every server runs in pytest-trio's per-test `nursery` and stops when the test ends.
"""

from __future__ import annotations

import functools
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import trio

from lab.servers import (
    DnsRecord,
    Injection,
    NameBehaviour,
    Route,
    Site,
    TlsSetup,
    Zone,
    html_page,
    serve_dns,
    serve_web,
)
from probe.net import StepClock, make_ssl_context

MIB = 1 << 20
BIG_BODY_BYTES = 32 * MIB
THROTTLE_CHUNK_BYTES = 1000
THROTTLE_INTERVAL_S = 0.02
THROTTLE_TOTAL_BYTES = 1_000_000
IDN_HOST = "яндекс.example.test"

FORGED_ADDRESS = "198.51.100.250"
REAL_ADDRESS = "198.51.100.81"
REAL_DELAY_MS = 50.0

ZONE = Zone(
    records=(
        DnsRecord("www.example.test", "A", "198.51.100.80"),
        DnsRecord("www.example.test", "AAAA", "2001:db8::80"),
        DnsRecord("alias.example.test", "CNAME", "www.example.test"),
        DnsRecord("v4only.example.test", "A", "198.51.100.82"),
        DnsRecord("alias-v4only.example.test", "CNAME", "v4only.example.test"),
        DnsRecord("injected.example.test", "A", REAL_ADDRESS),
        DnsRecord("duplicated.example.test", "A", REAL_ADDRESS),
        DnsRecord(IDN_HOST, "A", "198.51.100.83"),
        DnsRecord("servfail.example.test", "A", "198.51.100.84"),
        DnsRecord("refused.example.test", "A", "198.51.100.84"),
        DnsRecord("notimp.example.test", "A", "198.51.100.84"),
        DnsRecord("dropped.example.test", "A", "198.51.100.84"),
        DnsRecord("empty.example.test", "A", "198.51.100.84"),
    ),
    behaviours={
        "injected.example.test": NameBehaviour(
            delay_ms=REAL_DELAY_MS, inject=(Injection((FORGED_ADDRESS,), delay_ms=0.0),)
        ),
        "duplicated.example.test": NameBehaviour(
            inject=(Injection((REAL_ADDRESS,), delay_ms=0.0, ttl=300),)
        ),
        "servfail.example.test": NameBehaviour(rcode="SERVFAIL"),
        "refused.example.test": NameBehaviour(rcode="REFUSED"),
        "notimp.example.test": NameBehaviour(rcode="NOTIMP"),
        "dropped.example.test": NameBehaviour(drop=True),
        "empty.example.test": NameBehaviour(empty=True),
    },
)

WWW_PAGE = html_page("Example  Domain", "This page is reachable.")
SITES = (
    Site(
        host="www.example.test",
        routes={
            "/": Route(body=WWW_PAGE),
            "/big": Route(body_size=BIG_BODY_BYTES, headers=(("content-type", "text/plain"),)),
            "/redirect": Route(redirect_to="/landing?from=redirect", status=301),
        },
    ),
    Site(host="other.example.test", routes={"/": Route(body=html_page("Other", "Other site."))}),
    Site(host=IDN_HOST, routes={"/": Route(body=html_page("Яндекс", "IDN site."))}),
    Site(host="wrong.example.test", certificate="wrong_host"),
    Site(host="expired.example.test", certificate="expired"),
    Site(host="untrusted.example.test", certificate="untrusted"),
)


@pytest.fixture(scope="session")
def lab_tls() -> TlsSetup:
    """Return the lab's trusted and untrusted CAs (created once per session)."""
    return TlsSetup.create()


@pytest.fixture(scope="session")
def ca_bundle(lab_tls: TlsSetup, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a PEM file holding the lab's trusted root CA."""
    path = tmp_path_factory.mktemp("ca") / "lab-root.pem"
    lab_tls.ca.write_pem(path)
    return path


@pytest.fixture
def tls_context(ca_bundle: Path) -> ssl.SSLContext:
    """Return a verifying client context that trusts the lab CA (fresh per test)."""
    return make_ssl_context(ca_bundle)


@pytest.fixture
async def clock() -> StepClock:
    """Return a measurement clock starting now."""
    return StepClock.starting_now()


@pytest.fixture
async def dns_port(nursery: trio.Nursery) -> int:
    """Return the port of the lab DNS server (UDP and TCP) on 127.0.0.1."""
    port: int = await nursery.start(serve_dns, ZONE)
    return port


@pytest.fixture
async def dns6_port(nursery: trio.Nursery) -> int:
    """Return the port of the lab DNS server on ::1."""
    port: int = await nursery.start(functools.partial(serve_dns, ZONE, host="::1"))
    return port


@pytest.fixture
async def web_port(nursery: trio.Nursery) -> int:
    """Return the port of the lab's plain HTTP server on 127.0.0.1."""
    port: int = await nursery.start(serve_web, SITES)
    return port


@pytest.fixture
async def web6_port(nursery: trio.Nursery) -> int:
    """Return the port of the lab's plain HTTP server on ::1."""
    port: int = await nursery.start(functools.partial(serve_web, SITES, host="::1"))
    return port


@pytest.fixture
async def https_port(nursery: trio.Nursery, lab_tls: TlsSetup) -> int:
    """Return the port of the lab's HTTPS server (per-host certificates) on 127.0.0.1."""

    port: int = await nursery.start(functools.partial(serve_web, SITES, tls=lab_tls))
    return port


@pytest.fixture
async def doh_port(nursery: trio.Nursery, lab_tls: TlsSetup) -> int:
    """Return the port of an HTTPS server answering DoH on /dns-query from `ZONE`."""

    serve = functools.partial(serve_web, [Site(host="127.0.0.1")], tls=lab_tls, doh_zone=ZONE)
    port: int = await nursery.start(serve)
    return port


@pytest.fixture
def closed_port() -> Iterator[int]:
    """Return a loopback TCP port nothing listens on: held bound but not listening for the
    whole test, so no other socket can start listening there (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        yield port


Handler = Callable[[trio.SocketStream], Awaitable[None]]


async def _read_some(stream: trio.SocketStream) -> bytes:
    """Return the first bytes the client sends (a ClientHello or a request head)."""
    return await stream.receive_some(65536)


async def _reset(stream: trio.SocketStream) -> None:
    """Read, then close with SO_LINGER 0 so the kernel sends a RST."""
    await _read_some(stream)
    stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    stream.socket.close()


async def _eof(stream: trio.SocketStream) -> None:
    """Read, then close cleanly (FIN)."""
    await _read_some(stream)
    await stream.aclose()


async def _silent(stream: trio.SocketStream) -> None:
    """Read, then never answer (until the test's nursery is cancelled)."""
    await _read_some(stream)
    await trio.sleep_forever()


async def _plaintext(stream: trio.SocketStream) -> None:
    """Answer anything (a ClientHello too) with a plain HTTP response, then close."""
    await _read_some(stream)
    await stream.send_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
    await stream.aclose()


async def _garbage(stream: trio.SocketStream) -> None:
    """Answer an HTTP request with bytes that are not HTTP, then close."""
    await _read_some(stream)
    await stream.send_all(b"\x00\x01 this is not HTTP\r\n\r\n")
    await stream.aclose()


async def _truncated(stream: trio.SocketStream) -> None:
    """Send a head promising 1000 body bytes, then 10 bytes, then close."""
    await _read_some(stream)
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n"
    await stream.send_all(head + b"0123456789")
    await stream.aclose()


async def _throttled(stream: trio.SocketStream) -> None:
    """Send a head, then the body in small pieces at a slow, steady pace (bounded)."""
    await _read_some(stream)
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
        + f"Content-Length: {THROTTLE_TOTAL_BYTES}\r\n\r\n".encode()
    )
    await stream.send_all(head + b"<html><head><title>Slow  page</title></head>")
    for _ in range(THROTTLE_TOTAL_BYTES // THROTTLE_CHUNK_BYTES):
        await trio.sleep(THROTTLE_INTERVAL_S)
        await stream.send_all(b"x" * THROTTLE_CHUNK_BYTES)


def _fixed_reply(content_type: bytes, body: bytes) -> Handler:
    """Return a handler answering any request with 200, `content_type` and `body`."""

    async def reply(stream: trio.SocketStream) -> None:
        await _read_some(stream)
        head = b"HTTP/1.1 200 OK\r\nContent-Type: " + content_type
        head += b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n"
        await stream.send_all(head + body)
        await stream.aclose()

    return reply


BEHAVIOURS: dict[str, Handler] = {
    "doh-oversized": _fixed_reply(b"application/dns-message", b"\0" * 70_000),
    "doh-not-dns": _fixed_reply(b"application/dns-message", b"hello"),
    "doh-wrong-type": _fixed_reply(b"text/html", b"<html>blocked</html>"),
    "reset": _reset,
    "eof": _eof,
    "silent": _silent,
    "plaintext": _plaintext,
    "garbage": _garbage,
    "truncated": _truncated,
    "throttled": _throttled,
}

StartBehaviour = Callable[[str], Awaitable[int]]


@pytest.fixture
def misbehaving_server(nursery: trio.Nursery) -> StartBehaviour:
    """Return a function that starts a TCP server with one behaviour and returns its port."""

    async def start(behaviour: str) -> int:
        handler = BEHAVIOURS[behaviour]

        async def guarded(stream: trio.SocketStream) -> None:
            try:
                await handler(stream)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                pass  # the client went away first: nothing to test on this side
            finally:
                stream.socket.close()

        listeners = await nursery.start(
            functools.partial(trio.serve_tcp, guarded, 0, host="127.0.0.1")
        )
        port: int = listeners[0].socket.getsockname()[1]
        return port

    return start
