"""Which addresses the control may connect to: public ones only, unless a lab allows more.

Pure: no I/O. Without this the helper would be an open proxy into its own network: anyone could
ask it to fetch http://127.0.0.1:... or a cloud metadata address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class AddressGuard:
    """Allows global unicast addresses, plus networks explicitly listed (the lab's ranges)."""

    allowed_networks: tuple[str, ...] = ()
    _allowed: tuple[IpNetwork, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parsed = tuple(ipaddress.ip_network(n, strict=False) for n in self.allowed_networks)
        object.__setattr__(self, "_allowed", parsed)

    def allows(self, address: str) -> bool:
        """Return whether the control may connect to `address`."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if any(ip in net for net in self._allowed if net.version == ip.version):
            return True
        if ip.is_multicast or ip.is_unspecified or ip.is_reserved:
            return False
        return ip.is_global and not (ip.is_private or ip.is_loopback or ip.is_link_local)

    def filter(self, addresses: Iterable[str]) -> list[str]:
        """Return the allowed addresses, deduplicated, in order."""
        out: list[str] = []
        for address in addresses:
            if address not in out and self.allows(address):
                out.append(address)
        return out
