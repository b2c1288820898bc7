"""Listening sockets and limits shared by the servers."""

from __future__ import annotations

import socket

import pytest

from lab.servers.listeners import ServerLimits, address_family, bind_udp_and_tcp


async def test_udp_and_tcp_share_one_port_number() -> None:
    udp, tcp = await bind_udp_and_tcp("127.0.0.1", 0)
    with udp:
        async with tcp:
            assert udp.type == socket.SOCK_DGRAM
            assert udp.getsockname()[1] == tcp.socket.getsockname()[1]


@pytest.mark.parametrize(
    ("host", "family"),
    [("127.0.0.1", socket.AF_INET), ("0.0.0.0", socket.AF_INET), ("::1", socket.AF_INET6)],
)
def test_address_family_follows_the_ip_literal(host: str, family: socket.AddressFamily) -> None:
    assert address_family(host) == family


def test_names_are_never_resolved() -> None:
    with pytest.raises(ValueError, match="IP literal"):
        address_family("example.test")


@pytest.mark.parametrize(
    "changes",
    [
        {"max_pending_queries": 0},
        {"max_connections": 0},
        {"max_requests_per_connection": 0},
        {"idle_timeout_s": 0},
        {"chunk_bytes": 0},
    ],
    ids=lambda changes: next(iter(changes)),
)
def test_limits_must_be_positive(changes: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ServerLimits(**changes)  # type: ignore[arg-type]
