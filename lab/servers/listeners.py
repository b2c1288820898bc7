"""Listening sockets and resource bounds shared by the lab servers.

Binds IP literals only: a server never resolves a name.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import trio

log = logging.getLogger(__name__)

LISTEN_BACKLOG = 128
ACCEPT_RETRY_S = 0.01  # pause after a failed accept (e.g. out of file descriptors)


@dataclass(frozen=True)
class ServerLimits:
    """Resource bounds for one lab server; the defaults suit tests and benchmarks alike."""

    max_pending_queries: int = 1024  # DNS over UDP: queries being delayed at once; more are dropped
    max_connections: int = 512  # TCP (DNS and web): accepted connections served at once
    max_requests_per_connection: int = 100  # web keep-alive and DNS-over-TCP messages
    idle_timeout_s: float = 15.0  # to read one request, finish a handshake, or send one chunk
    max_request_body_bytes: int = 1 << 20  # larger request bodies get 413 and a close
    chunk_bytes: int = 64 * 1024  # size of the pieces a streamed body is sent in

    def __post_init__(self) -> None:
        for name in ("max_pending_queries", "max_connections", "max_requests_per_connection"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.idle_timeout_s <= 0 or self.chunk_bytes < 1:
            raise ValueError("idle_timeout_s and chunk_bytes must be positive")
        if self.max_request_body_bytes < 0:
            raise ValueError("max_request_body_bytes must not be negative")


DEFAULT_LIMITS = ServerLimits()


def address_family(host: str) -> socket.AddressFamily:
    """Return AF_INET or AF_INET6 for the IP literal `host`.

    Raises:
        ValueError: `host` is not an IP literal (servers never resolve names).
    """
    try:
        version = ipaddress.ip_address(host).version
    except ValueError as exc:
        raise ValueError(f"servers bind IP literals only, got {host!r}") from exc
    return socket.AF_INET if version == 4 else socket.AF_INET6


async def bind_udp(host: str, port: int) -> trio.socket.SocketType:
    """Return a UDP socket bound to (`host`, `port`); IPv6 sockets are IPv6-only.

    Raises:
        OSError: the address cannot be bound.
    """
    family = address_family(host)
    sock = trio.socket.socket(family, socket.SOCK_DGRAM)
    with contextlib.ExitStack() as on_error:
        on_error.callback(sock.close)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        await sock.bind((host, port))
        on_error.pop_all()
    return sock


async def bind_tcp(host: str, port: int) -> trio.SocketListener:
    """Return a listening TCP socket on (`host`, `port`); the caller closes it.

    Raises:
        OSError: the address cannot be bound.
    """
    family = address_family(host)
    sock = trio.socket.socket(family, socket.SOCK_STREAM)
    with contextlib.ExitStack() as on_error:
        on_error.callback(sock.close)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        await sock.bind((host, port))
        sock.listen(LISTEN_BACKLOG)
        on_error.pop_all()
    return trio.SocketListener(sock)


async def bind_udp_and_tcp(
    host: str, port: int, *, attempts: int = 5
) -> tuple[trio.socket.SocketType, trio.SocketListener]:
    """Return a UDP socket and a TCP listener sharing one port number (UDP is bound first).

    With `port` 0 the kernel picks the UDP port; if TCP's twin is taken, both are retried with
    a new port, at most `attempts` times.

    Raises:
        OSError: binding failed (for a fixed port, or after every attempt).
    """
    for attempt in range(attempts):
        udp = await bind_udp(host, port)
        with contextlib.ExitStack() as on_error:
            on_error.callback(udp.close)
            try:
                tcp = await bind_tcp(host, udp.getsockname()[1])
            except OSError as exc:
                if port != 0 or exc.errno != errno.EADDRINUSE or attempt == attempts - 1:
                    raise
                continue
            on_error.pop_all()
            return udp, tcp
    raise OSError(errno.EADDRINUSE, "no free port for UDP and TCP")  # only if attempts < 1


async def accept_connections(
    listener: trio.SocketListener,
    handler: Callable[[trio.SocketStream], Awaitable[None]],
    max_connections: int,
) -> None:
    """Accept connections until cancelled and run `handler` on each; never returns.

    At most `max_connections` handlers run at once; more clients wait in the kernel's backlog.
    Owns the handlers' nursery, not the listener; each handler owns and closes its stream.
    """
    slots = trio.CapacityLimiter(max_connections)

    async def run(stream: trio.SocketStream, token: object) -> None:
        try:
            await handler(stream)
        finally:
            slots.release_on_behalf_of(token)

    async with trio.open_nursery() as nursery:
        while True:  # a server: runs until its caller cancels it
            token = object()
            await slots.acquire_on_behalf_of(token)
            try:
                stream = await listener.accept()
            except OSError as exc:  # EMFILE, ECONNABORTED...: keep serving the others
                slots.release_on_behalf_of(token)
                log.debug("accept failed: %s", exc)
                await trio.sleep(ACCEPT_RETRY_S)
                continue
            nursery.start_soon(run, stream, token)
