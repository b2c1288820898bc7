"""Which addresses are bogons (not routable on the public internet), with configurable exceptions.

Pure: no I/O. A bogon is any address the special-purpose registry (`probe.model.addresses`,
shared with the probe and the control's guard) does not call globally reachable. The lab treats
its documentation ranges as public by listing them in `BogonPolicy.public_networks`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

from probe.model import (
    AddressScope,
    address_scope,
    embedded_ipv4,
    is_globally_reachable,
    parse_address,
)

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parse_networks(texts: Iterable[str]) -> tuple[IpNetwork, ...]:
    return tuple(ipaddress.ip_network(text, strict=False) for text in texts)


@dataclass(frozen=True)
class BogonPolicy:
    """Bogon ranges, minus networks declared public (the lab's documentation ranges)."""

    public_networks: tuple[str, ...] = ()
    _public: tuple[IpNetwork, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_public", _parse_networks(self.public_networks))

    def is_bogon(self, address: str) -> bool:
        """Return whether `address` is a bogon; a string that is not an address counts as one."""
        ip = parse_address(address)
        if ip is None:
            return True
        ip = embedded_ipv4(ip) or ip
        if any(ip in net for net in self._public if net.version == ip.version):
            return False
        return not is_globally_reachable(str(ip))

    def is_loopback(self, address: str) -> bool:
        """Return whether `address` is a loopback address."""
        return address_scope(address) is AddressScope.LOOPBACK


def is_ip_literal(host: str) -> bool:
    """Return whether `host` is an IPv4 or IPv6 address rather than a name."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
