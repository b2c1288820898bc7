"""The addresses of this host's network interfaces (psutil), the ones the probe always scrubs."""

from __future__ import annotations

import socket

import psutil

from probe.model import AddressScope, address_scope, identifies_host, parse_address


def own_addresses() -> frozenset[str]:
    """Return this host's interface addresses that could identify it (no loopback/link-local)."""
    found: set[str] = set()
    for addrs in psutil.net_if_addrs().values():
        for addr in addrs:
            if addr.family not in (socket.AF_INET, socket.AF_INET6):
                continue
            text = addr.address.split("%", 1)[0]
            if identifies_host(text) and address_scope(text) is not AddressScope.LINK_LOCAL:
                found.add(str(parse_address(text)))
    return frozenset(found)
