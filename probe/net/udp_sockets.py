"""What a UDP socket tells about each packet it receives: the IP TTL (IPv6 hop limit) from
ancillary data, the sender as text, and the socket's own local port.

Used by the UDP DNS lookup; no DNS knowledge here.
"""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Sequence

import trio

from probe.net.names import endpoint_text

logger = logging.getLogger(__name__)

RECV_BUFFER_BYTES = 65535
# Linux value of IP_RECVTTL; Python 3.11 does not export it (include/uapi/linux/in.h).
_IP_RECVTTL = getattr(socket, "IP_RECVTTL", 12)
ANCILLARY_BYTES = socket.CMSG_SPACE(4)
"""Ancillary buffer for one TTL or hop-limit value."""


def local_port_of(sock: trio.socket.SocketType) -> int | None:
    """Return the socket's local port, or None if it has none."""
    try:
        return int(sock.getsockname()[1]) or None
    except (OSError, IndexError, TypeError, ValueError):
        return None


def source_text(source: object) -> str:
    """Return `ip:port` for a socket address as recvmsg reports it."""
    if isinstance(source, tuple) and len(source) >= 2:
        return endpoint_text(str(source[0]), int(source[1]))
    return str(source)


def enable_ttl_reporting(sock: trio.socket.SocketType, *, is_ipv6: bool) -> None:
    """Ask the kernel to attach each packet's IP TTL (hop limit) as ancillary data, if it can."""
    try:
        if is_ipv6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
        elif sys.platform == "linux":
            sock.setsockopt(socket.IPPROTO_IP, _IP_RECVTTL, 1)
    except OSError as exc:  # not supported here: responses then carry ip_ttl None
        logger.debug("cannot enable TTL reporting: %s", exc)


def ip_ttl_of(ancillary: Sequence[tuple[int, int, bytes]]) -> int | None:
    """Return the IP TTL or IPv6 hop limit from a packet's ancillary data, if present."""
    for level, kind, data in ancillary:
        is_ttl = (level == socket.IPPROTO_IP and kind == socket.IP_TTL) or (
            level == socket.IPPROTO_IPV6 and kind == socket.IPV6_HOPLIMIT
        )
        if is_ttl and len(data) >= 4:
            return int.from_bytes(data[:4], sys.byteorder)
    return None
