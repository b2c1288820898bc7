"""Which addresses the control may connect to: public ones only, unless a lab allows more.

Pure: no I/O. Without this the helper would be an open proxy into its own network: anyone could
ask it to fetch http://127.0.0.1:... or a cloud metadata address. "Public" is the special-purpose
address registry of `probe.model.addresses`, the one the probe and the analysis use too.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

from probe.model import embedded_ipv4, is_globally_reachable, parse_address

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
        ip = parse_address(address)
        if ip is None:
            return False
        ip = embedded_ipv4(ip) or ip
        if any(ip in net for net in self._allowed if net.version == ip.version):
            return True
        return is_globally_reachable(str(ip))

    def filter(self, addresses: Iterable[str]) -> list[str]:
        """Return the allowed addresses, deduplicated, in order."""
        out: list[str] = []
        for address in addresses:
            if address not in out and self.allows(address):
                out.append(address)
        return out
