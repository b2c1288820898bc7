"""An ISP's transparent HTTP proxy: fetch each request from the real site and relay the answer.

I/O only. The ISP resolver points names at it (scenario S08); the Host header picks the upstream
address from a fixed table, so it never resolves a name. Unknown hosts get a 502 page.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus

import h11
import trio

from lab.servers.http1 import RECEIVE_BYTES, RawRequest, receive_request, send_event
from lab.servers.listeners import DEFAULT_LIMITS, ServerLimits, accept_connections, bind_tcp
from lab.servers.sites import host_from_header, html_page, site_key

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 16 * 1024
CLOSE_TIMEOUT_S = 5.0
# Hop-by-hop headers (RFC 9110 section 7.6.1) are the proxy's business, not the site's.
_HOP_BY_HOP = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"upgrade"}
)
_CONNECTION_ERRORS = (
    trio.BrokenResourceError,
    trio.ClosedResourceError,
    h11.ProtocolError,
    OSError,
    trio.TooSlowError,
)


class UpstreamFailed(Exception):
    """The upstream site could not be reached or sent no valid response head."""


@dataclass(frozen=True)
class _Proxy:
    """What every connection of one `serve_transparent_proxy` call needs."""

    routes: Mapping[str, str]
    upstream_port: int
    limits: ServerLimits


async def serve_transparent_proxy(
    routes: Mapping[str, str],
    *,
    host: str = "127.0.0.1",
    port: int = 80,
    upstream_port: int = 80,
    limits: ServerLimits = DEFAULT_LIMITS,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Proxy HTTP requests on (`host`, `port`) to `routes[Host]`:`upstream_port` until cancelled.

    `routes` maps host names (any case, Unicode or IDNA) to upstream IP literals. Calls
    `task_status.started(port)` once listening; owns the listener and every connection, its
    own and upstream. Responses are relayed as they arrive (status, headers, body), never
    buffered whole.

    Raises:
        ValueError: a route's host or address is invalid, or `host` is not an IP literal.
        OSError: the port cannot be bound.
    """
    table = {site_key(name): str(ipaddress.ip_address(address)) for name, address in routes.items()}
    proxy = _Proxy(routes=table, upstream_port=upstream_port, limits=limits)
    listener = await bind_tcp(host, port)
    async with listener:
        bound: int = listener.socket.getsockname()[1]
        handler = functools.partial(_serve_connection, proxy=proxy)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(accept_connections, listener, handler, limits.max_connections)
            log.debug("transparent proxy listening on %s port %d", host, bound)
            task_status.started(bound)


async def _serve_connection(stream: trio.SocketStream, proxy: _Proxy) -> None:
    """Serve the requests of one client connection, then close it."""
    limits = proxy.limits
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
    try:
        for _ in range(limits.max_requests_per_connection):
            outcome: RawRequest | int | None = None
            with trio.move_on_after(limits.idle_timeout_s):
                outcome = await receive_request(stream, conn, limits)
            if outcome is None:
                return
            if isinstance(outcome, int):
                await _send_page(stream, conn, outcome, limits)
                return
            await _forward(stream, conn, outcome, proxy)
            if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return
            conn.start_next_cycle()
    except _CONNECTION_ERRORS as exc:
        log.debug("proxy connection ended: %r", exc)
    finally:
        with trio.move_on_after(CLOSE_TIMEOUT_S, shield=True):
            try:
                await stream.aclose()
            except _CONNECTION_ERRORS as exc:
                log.debug("proxy connection close failed: %r", exc)


def _upstream_address(request: h11.Request, proxy: _Proxy) -> str | None:
    """Return the upstream address for the request's Host header, or None if unknown."""
    host_value = next((v for k, v in request.headers if k == b"host"), b"")
    key = host_from_header(host_value.decode("latin-1")) if host_value else None
    return proxy.routes.get(key) if key is not None else None


async def _forward(
    stream: trio.abc.Stream, conn: h11.Connection, request: RawRequest, proxy: _Proxy
) -> None:
    """Answer one request from its upstream site, or with a 502 page."""
    address = _upstream_address(request.head, proxy)
    if address is None:
        await _send_page(stream, conn, 502, proxy.limits)
        return
    try:
        with trio.fail_after(proxy.limits.idle_timeout_s):
            upstream = await trio.open_tcp_stream(address, proxy.upstream_port)
    except (OSError, trio.TooSlowError) as exc:
        log.debug("upstream %s unreachable: %r", address, exc)
        await _send_page(stream, conn, 502, proxy.limits)
        return
    async with upstream:
        try:
            await _relay_exchange(stream, conn, upstream, request, proxy.limits)
        except UpstreamFailed as exc:
            log.debug("upstream %s failed: %s", address, exc)
            await _send_page(stream, conn, 502, proxy.limits)


async def _relay_exchange(
    client: trio.abc.Stream,
    conn: h11.Connection,
    upstream: trio.abc.Stream,
    request: RawRequest,
    limits: ServerLimits,
) -> None:
    """Send `request` upstream and relay the response to the client as it arrives.

    Raises:
        UpstreamFailed: the upstream failed before a response head arrived.
    """
    timeout_s = limits.idle_timeout_s
    up = h11.Connection(h11.CLIENT)
    headers = [(k, v) for k, v in request.head.headers.raw_items() if k.lower() not in _HOP_BY_HOP]
    head = h11.Request(
        method=request.head.method,
        target=request.head.target,
        headers=[*headers, (b"Connection", b"close")],
    )
    try:
        with trio.fail_after(timeout_s):
            data = up.send(head) or b""
            if request.body:
                data += up.send(h11.Data(data=request.body)) or b""
            data += up.send(h11.EndOfMessage()) or b""
            await upstream.send_all(data)
        event = await _next_upstream_event(upstream, up, timeout_s)
        while isinstance(event, h11.InformationalResponse):  # at most a few, then the head
            event = await _next_upstream_event(upstream, up, timeout_s)
    except (*_CONNECTION_ERRORS, UpstreamFailed) as exc:
        raise UpstreamFailed(repr(exc)) from exc
    if not isinstance(event, h11.Response):
        raise UpstreamFailed(f"expected a response head, got {event!r}")
    relayed = [(k, v) for k, v in event.headers.raw_items() if k.lower() not in _HOP_BY_HOP]
    response = h11.Response(status_code=event.status_code, headers=relayed, reason=event.reason)
    await send_event(client, conn, response, timeout_s=timeout_s)
    while True:  # bounded: each pass relays one upstream event, under an idle deadline
        event = await _next_upstream_event(upstream, up, timeout_s)
        if isinstance(event, h11.Data):
            await send_event(client, conn, h11.Data(data=event.data), timeout_s=timeout_s)
        elif isinstance(event, h11.EndOfMessage):
            await send_event(client, conn, h11.EndOfMessage(), timeout_s=timeout_s)
            return
        else:  # the upstream closed mid-body: the client must not see a complete answer
            raise trio.BrokenResourceError(f"upstream ended the body early: {event!r}")


async def _next_upstream_event(
    upstream: trio.abc.Stream, up: h11.Connection, timeout_s: float
) -> h11.Event | type[h11.NEED_DATA] | type[h11.PAUSED]:
    """Return the next h11 event from the upstream, reading as needed within `timeout_s`.

    A closed upstream gives `h11.ConnectionClosed`.

    Raises:
        trio.TooSlowError: nothing arrived in time.
        h11.RemoteProtocolError: the upstream broke HTTP/1.1 (or closed mid-message).
    """
    with trio.fail_after(timeout_s):
        while True:  # bounded by the deadline; each pass reads or returns
            event = up.next_event()
            if event is not h11.NEED_DATA:
                return event
            data = await upstream.receive_some(RECEIVE_BYTES)
            up.receive_data(bytes(data))


async def _send_page(
    stream: trio.abc.Stream, conn: h11.Connection, status: int, limits: ServerLimits
) -> None:
    """Send a small page for `status` and mark the connection for closing, if still possible."""
    if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
        return
    phrase = HTTPStatus(status).phrase
    body = html_page(f"{status} {phrase}", "The proxy could not fetch this site.")
    headers = [
        ("content-type", "text/html; charset=utf-8"),
        ("content-length", str(len(body))),
        ("connection", "close"),
    ]
    response = h11.Response(status_code=status, headers=headers, reason=phrase)
    await send_event(stream, conn, response, timeout_s=limits.idle_timeout_s)
    await send_event(stream, conn, h11.Data(data=body), timeout_s=limits.idle_timeout_s)
    await send_event(stream, conn, h11.EndOfMessage(), timeout_s=limits.idle_timeout_s)
