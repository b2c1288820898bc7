"""The addresses of this host's network interfaces (psutil), the ones the probe always scrubs."""

from __future__ import annotations

import ipaddress
import socket

import psutil


def own_addresses() -> frozenset[str]:
    """Return this host's interface addresses that could identify it (no loopback/link-local)."""
    found: set[str] = set()
    for addrs in psutil.net_if_addrs().values():
        for addr in addrs:
            if addr.family not in (socket.AF_INET, socket.AF_INET6):
                continue
            text = addr.address.split("%", 1)[0]
            try:
                ip = ipaddress.ip_address(text)
            except ValueError:
                continue
            if not (ip.is_loopback or ip.is_link_local or ip.is_unspecified):
                found.add(str(ip))
    return frozenset(found)
