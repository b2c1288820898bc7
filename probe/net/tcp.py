"""TCP connect to one exact address and port, returning a `TcpConnect` record.

No happy eyeballs and no name resolution: the caller picks the address. Failures are recorded, and
so is the local port (never the local address), which packet evidence matches flows by.
"""

from __future__ import annotations

import socket

import trio

from probe.model.failures import Failure
from probe.model.observations import TcpConnect
from probe.net.classify import NETWORK_ERRORS, classify
from probe.net.names import address_family_is_ipv6
from probe.net.timing import StepClock


def tcp_timed_out(
    address: str, port: int, *, clock: StepClock, txid: int, depth: int = 0, budget_s: float
) -> TcpConnect:
    """Return the record of a connect whose `budget_s` ran out: build it just before starting it."""
    t0_ms = clock.ms()
    return TcpConnect(
        id=txid,
        depth=depth,
        address=address,
        port=port,
        t0_ms=t0_ms,
        t_ms=clock.ms_after(t0_ms, budget_s),
        failure=Failure.GENERIC_TIMEOUT.value,
    )


async def connect_tcp(
    address: str, port: int, *, clock: StepClock, txid: int, depth: int = 0
) -> TcpConnect:
    """Return the record of one TCP connect to `address`:`port`; the socket is closed at once.

    Raises:
        ValueError: `address` is not an IP address.
    """
    family = socket.AF_INET6 if address_family_is_ipv6(address) else socket.AF_INET
    t0_ms = clock.ms()
    failure: str | None = None
    local_port: int | None = None
    try:
        with trio.socket.socket(family, socket.SOCK_STREAM) as sock:
            await sock.connect((address, port))
            t_ms = clock.ms()
            local_port = local_port_of(sock)
    except NETWORK_ERRORS as exc:
        t_ms = clock.ms()
        failure = classify(exc)
    return TcpConnect(
        id=txid,
        depth=depth,
        address=address,
        port=port,
        local_port=local_port,
        t0_ms=t0_ms,
        t_ms=t_ms,
        failure=failure,
    )


def local_port_of(sock: trio.socket.SocketType) -> int | None:
    """Return the local port a socket is bound to, or None when it has none (any more)."""
    try:
        port = int(sock.getsockname()[1])
    except (OSError, IndexError, TypeError, ValueError):
        return None
    return port or None
