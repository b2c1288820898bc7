"""The lab's DNS server: UDP and TCP on one port, replies planned by `zone.plan_replies`.

I/O only: it waits each planned delay and sends; what to send is decided in `zone`.
"""

from __future__ import annotations

import functools
import logging
import struct

import trio

from lab.servers.listeners import DEFAULT_LIMITS, ServerLimits, accept_connections, bind_udp_and_tcp
from lab.servers.zone import Zone, plan_replies

log = logging.getLogger(__name__)

_LENGTH = struct.Struct("!H")
MAX_UDP_DATAGRAM_BYTES = 65535
# Consecutive receive errors tolerated before the UDP loop gives up (each is logged).
MAX_RECEIVE_ERRORS = 1000


async def serve_dns(
    zone: Zone,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    limits: ServerLimits = DEFAULT_LIMITS,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve `zone` over UDP and TCP on (`host`, `port`) until cancelled.

    Calls `task_status.started(port)` with the bound port once both sockets listen. Owns and
    closes both sockets. UDP queries are handled concurrently, each with its planned delays;
    beyond `limits.max_pending_queries` queries in flight, new ones are dropped.

    Raises:
        ValueError: `host` is not an IP literal.
        OSError: the port cannot be bound.
    """
    udp, listener = await bind_udp_and_tcp(host, port)
    with udp:
        async with listener:
            bound_port: int = udp.getsockname()[1]
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_serve_udp, udp, zone, limits)
                nursery.start_soon(
                    accept_connections,
                    listener,
                    functools.partial(_answer_tcp, zone=zone, limits=limits),
                    limits.max_connections,
                )
                log.debug("DNS server listening on %s port %d", host, bound_port)
                task_status.started(bound_port)


async def _serve_udp(sock: trio.socket.SocketType, zone: Zone, limits: ServerLimits) -> None:
    """Receive queries until cancelled and start one bounded handler per query."""
    pending = trio.CapacityLimiter(limits.max_pending_queries)
    errors = 0
    async with trio.open_nursery() as nursery:
        while errors < MAX_RECEIVE_ERRORS:
            try:
                data, address = await sock.recvfrom(MAX_UDP_DATAGRAM_BYTES)
            except OSError as exc:  # e.g. a queued ICMP error surfacing on Linux
                errors += 1
                log.debug("DNS UDP receive error: %s", exc)
                continue
            errors = 0
            token = object()
            try:
                pending.acquire_on_behalf_of_nowait(token)
            except trio.WouldBlock:
                log.debug("DNS UDP query from %s dropped: too many pending", address)
                continue
            answer = functools.partial(_answer_udp, pending=pending, token=token)
            nursery.start_soon(answer, sock, zone, data, address)
        log.warning("DNS UDP loop stopped after %d receive errors in a row", errors)


async def _answer_udp(
    sock: trio.socket.SocketType,
    zone: Zone,
    data: bytes,
    address: tuple[str, int] | tuple[str, int, int, int],
    *,
    pending: trio.CapacityLimiter,
    token: object,
) -> None:
    """Send each planned reply for one UDP query at its time, then release `token`."""
    try:
        start = trio.current_time()
        for reply in plan_replies(data, zone, udp=True):
            await trio.sleep_until(start + reply.delay_ms / 1000)
            try:
                await sock.sendto(reply.wire, address)
            except OSError as exc:
                log.debug("DNS UDP send to %s failed: %s", address, exc)
                return
    finally:
        pending.release_on_behalf_of(token)


async def _answer_tcp(stream: trio.SocketStream, zone: Zone, limits: ServerLimits) -> None:
    """Answer length-prefixed queries on one connection (RFC 7766), then close it.

    Only the real reply is sent: the forged ones model on-path UDP injection.
    """
    try:
        async with stream:
            for _ in range(limits.max_requests_per_connection):
                with trio.move_on_after(limits.idle_timeout_s):
                    query = await _receive_message(stream)
                if query is None:
                    return
                start = trio.current_time()
                replies = [r for r in plan_replies(query, zone, udp=False) if not r.is_forged]
                for reply in replies:
                    await trio.sleep_until(start + reply.delay_ms / 1000)
                    await stream.send_all(_LENGTH.pack(len(reply.wire)) + reply.wire)
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
        log.debug("DNS TCP connection ended: %r", exc)


async def _receive_message(stream: trio.SocketStream) -> bytes | None:
    """Return the next length-prefixed DNS message, or None at end of stream."""
    header = await _receive_exactly(stream, _LENGTH.size)
    if header is None:
        return None
    (length,) = _LENGTH.unpack(header)
    return await _receive_exactly(stream, length)


async def _receive_exactly(stream: trio.SocketStream, size: int) -> bytes | None:
    """Return exactly `size` bytes from `stream`, or None if it ends first."""
    buffer = bytearray()
    while len(buffer) < size:  # each pass adds at least one byte, so at most `size` passes
        chunk = await stream.receive_some(size - len(buffer))
        if not chunk:
            return None
        buffer += chunk
    return bytes(buffer)
