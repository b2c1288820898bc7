"""The lab's HTTP/1.1 server (h11), optionally HTTPS with per-host certificates, and DoH.

I/O only: `sites` decides what a request gets and `doh` what a DNS query gets; this module
waits the emulated latency and sends. One connection's errors never reach the server.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import socket
import ssl
import struct
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus

import h11
import trio

from lab.servers.doh import DNS_MESSAGE_TYPE, DOH_PATH, DohRejection, doh_query_wire, doh_reply
from lab.servers.http1 import RawRequest, receive_request, send_event
from lab.servers.listeners import DEFAULT_LIMITS, ServerLimits, accept_connections, bind_tcp
from lab.servers.sites import (
    ClientRoute,
    IpAddress,
    Route,
    Site,
    body_chunks,
    find_site,
    host_from_header,
    html_page,
    response_headers,
    response_status,
    select_route,
    status_page,
)
from lab.servers.tls import TlsSetup, sni_context
from lab.servers.zone import Zone

__all__ = [
    "ClientRoute",
    "Route",
    "Site",
    "TlsSetup",
    "html_page",
    "serve_web",
    "sni_context",
]

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 16 * 1024  # request line and headers; more gets 431
CLOSE_TIMEOUT_S = 5.0
UNKNOWN_HOST = Route(status=404, body=html_page("404 Not Found", "No site serves this host."))
# What one broken client connection may raise; anything else is a bug and stops the server.
_CONNECTION_ERRORS = (
    trio.BrokenResourceError,
    trio.ClosedResourceError,
    h11.ProtocolError,
    ssl.SSLError,
    OSError,
    trio.TooSlowError,
)


class _ResetRequested(Exception):
    """The route asks the server to reset the connection itself."""


@dataclass(frozen=True)
class _Server:
    """What every connection of one `serve_web` call needs."""

    sites: Mapping[str, Site]
    context: ssl.SSLContext | None
    doh_zone: Zone | None
    default_latency_ms: float
    handshake_latency_ms: float
    limits: ServerLimits


@dataclass(frozen=True)
class _Request:
    """One complete request: method, target, headers (lower-case names) and body."""

    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes


async def serve_web(
    sites: Sequence[Site],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    tls: TlsSetup | None = None,
    doh_zone: Zone | None = None,
    default_latency_ms: float = 0.0,
    handshake_latency_ms: float = 0.0,
    limits: ServerLimits = DEFAULT_LIMITS,
    listener: trio.SocketListener | None = None,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve `sites` over HTTP (HTTPS with `tls`) on (`host`, `port`) until cancelled.

    With `listener` (already bound, for callers that must know the port before describing the
    sites), serves on it instead of binding, and closes it at the end.

    Calls `task_status.started(port)` once listening; owns and closes the listener and every
    connection. The Host header picks the site; unknown hosts get 404. With `doh_zone`,
    `/dns-query` on any host answers DoH (RFC 8484) from that zone. `default_latency_ms` is
    added to each route's latency; `handshake_latency_ms` is waited before each TLS handshake.

    Raises:
        ValueError: two sites share a host, or `host` is not an IP literal.
        OSError: the port cannot be bound.
    """
    by_host: dict[str, Site] = {}
    for site in sites:
        if site.host in by_host:
            raise ValueError(f"two sites for host {site.host!r}")
        by_host[site.host] = site
    server = _Server(
        sites=by_host,
        context=sni_context(sites, tls) if tls is not None else None,
        doh_zone=doh_zone,
        default_latency_ms=default_latency_ms,
        handshake_latency_ms=handshake_latency_ms,
        limits=limits,
    )
    if listener is None:
        listener = await bind_tcp(host, port)
    async with listener:
        bound_port: int = listener.socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                accept_connections,
                listener,
                functools.partial(_serve_connection, server=server),
                limits.max_connections,
            )
            log.debug("web server listening on %s port %d", host, bound_port)
            task_status.started(bound_port)


async def _serve_connection(stream: trio.SocketStream, server: _Server) -> None:
    """Serve one client connection (TLS handshake, then requests) and close it."""
    http_stream: trio.abc.Stream = stream
    try:
        peer = stream.socket.getpeername()[0]
        client = ipaddress.ip_address(peer.partition("%")[0])  # drop an IPv6 zone index
        if server.context is not None:
            ssl_stream = trio.SSLStream(
                stream, server.context, server_side=True, https_compatible=True
            )
            http_stream = ssl_stream
            if server.handshake_latency_ms > 0:
                await trio.sleep(server.handshake_latency_ms / 1000)
            with trio.move_on_after(server.limits.idle_timeout_s) as deadline:
                await ssl_stream.do_handshake()
            if deadline.cancelled_caught:
                return
        await _serve_requests(http_stream, client, server)
    except _ResetRequested:
        # SO_LINGER with a zero timeout makes close() send a RST from this socket (its own
        # IP TTL and IP ID sequence), which is what a server that resets looks like.
        stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        stream.socket.close()
    except _CONNECTION_ERRORS as exc:
        log.debug("web connection ended: %r", exc)
    finally:
        with trio.move_on_after(CLOSE_TIMEOUT_S, shield=True):
            try:
                await http_stream.aclose()
            except _CONNECTION_ERRORS as exc:
                log.debug("web connection close failed: %r", exc)


async def _serve_requests(stream: trio.abc.Stream, client: IpAddress, server: _Server) -> None:
    """Answer requests on one connection until it closes, idles or reaches the request limit."""
    limits = server.limits
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
    for index in range(limits.max_requests_per_connection):
        outcome: _Request | int | None = None
        with trio.move_on_after(limits.idle_timeout_s):
            outcome = await _receive_request(stream, conn, limits)
        if outcome is None:
            return
        if isinstance(outcome, int):
            if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                await _send_route(stream, conn, status_page(outcome), server, close=True)
            return
        is_last = index == limits.max_requests_per_connection - 1
        await _answer(stream, conn, outcome, client, server, close=is_last)
        if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
            return
        conn.start_next_cycle()


async def _receive_request(
    stream: trio.abc.Stream, conn: h11.Connection, limits: ServerLimits
) -> _Request | int | None:
    """Return the next complete request decoded, an error status to answer, or None at close."""
    raw = await receive_request(stream, conn, limits)
    if not isinstance(raw, RawRequest):
        return raw
    head = raw.head
    return _Request(
        method=head.method.decode("ascii", "replace"),
        target=head.target.decode("latin-1"),
        headers={
            name.decode("latin-1").lower(): value.decode("latin-1") for name, value in head.headers
        },
        body=raw.body,
    )


async def _answer(
    stream: trio.abc.Stream,
    conn: h11.Connection,
    request: _Request,
    client: IpAddress,
    server: _Server,
    *,
    close: bool,
) -> None:
    """Send the response to one request: DoH, a site's route, or 404 for an unknown host."""
    host_value = request.headers.get("host", "")
    path, _, query = request.target.partition("?")
    if request.target.startswith(("http://", "https://")):  # absolute form, RFC 9112 3.2.2
        parts = urllib.parse.urlsplit(request.target)
        host_value, path, query = parts.netloc, parts.path or "/", parts.query
    if server.doh_zone is not None and path == DOH_PATH:
        await _answer_doh(
            stream, conn, request, query, zone=server.doh_zone, server=server, close=close
        )
        return
    key = host_from_header(host_value) if host_value else None
    site = find_site(server.sites, key) if key is not None else None
    route = UNKNOWN_HOST if site is None else select_route(site, path, client)
    if route.reset:
        latency_ms = server.default_latency_ms + route.latency_ms
        if latency_ms > 0:
            await trio.sleep(latency_ms / 1000)
        raise _ResetRequested
    await _send_route(stream, conn, route, server, close=close, is_head=request.method == "HEAD")


async def _answer_doh(
    stream: trio.abc.Stream,
    conn: h11.Connection,
    request: _Request,
    query: str,
    *,
    zone: Zone,
    server: _Server,
    close: bool,
) -> None:
    """Answer a DoH request from `zone`; a dropped name gets no answer until the idle timeout."""
    query_wire = doh_query_wire(
        request.method, query, request.headers.get("content-type"), request.body
    )
    reply = doh_reply(query_wire, zone) if isinstance(query_wire, bytes) else query_wire
    if reply is None:
        await trio.sleep(server.limits.idle_timeout_s)  # then the caller closes the connection
        return
    if isinstance(reply, DohRejection):
        route = Route(
            status=reply.status,
            headers=(("content-type", "text/plain; charset=utf-8"),),
            body=reply.reason.encode(),
        )
    else:
        route = Route(
            headers=(("content-type", DNS_MESSAGE_TYPE),),
            body=reply.wire,
            latency_ms=reply.delay_ms,
        )
    await _send_route(stream, conn, route, server, close=close, is_head=request.method == "HEAD")


async def _send_route(
    stream: trio.abc.Stream,
    conn: h11.Connection,
    route: Route,
    server: _Server,
    *,
    close: bool,
    is_head: bool = False,
) -> None:
    """Wait the route's latency, then send its status, headers and streamed body."""
    latency_ms = server.default_latency_ms + route.latency_ms
    if latency_ms > 0:
        await trio.sleep(latency_ms / 1000)
    status = response_status(route)
    headers = response_headers(route)
    if close:
        headers.append(("connection", "close"))
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = ""
    # A client that stops reading must not hold its connection slot for ever.
    send = functools.partial(send_event, stream, conn, timeout_s=server.limits.idle_timeout_s)
    await send(h11.Response(status_code=status, headers=headers, reason=reason))
    if not is_head:
        for chunk in body_chunks(route, server.limits.chunk_bytes):
            await send(h11.Data(data=chunk))
    await send(h11.EndOfMessage())
