"""Which addresses are bogons (not routable on the public internet), with configurable exceptions.

Pure: no I/O. The lab treats its documentation ranges as public by listing them in
`BogonPolicy.public_networks`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

BOGON_NETWORKS: tuple[str, ...] = (
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::/128",
    "::1/128",
    "::ffff:0:0/96",
    "::/96",
    "100::/64",
    "2001:10::/28",
    "2001:db8::/32",
    "fc00::/7",
    "fe80::/10",
    "fec0::/10",
    "ff00::/8",
)
"""Special-purpose ranges (RFC 6890 and friends) that a real site never resolves to."""


def _parse_networks(texts: Iterable[str]) -> tuple[IpNetwork, ...]:
    return tuple(ipaddress.ip_network(text, strict=False) for text in texts)


@dataclass(frozen=True)
class BogonPolicy:
    """Bogon ranges, minus networks declared public (the lab's documentation ranges)."""

    public_networks: tuple[str, ...] = ()
    bogon_networks: tuple[str, ...] = BOGON_NETWORKS
    _bogons: tuple[IpNetwork, ...] = field(init=False, repr=False, compare=False)
    _public: tuple[IpNetwork, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_bogons", _parse_networks(self.bogon_networks))
        object.__setattr__(self, "_public", _parse_networks(self.public_networks))

    def is_bogon(self, address: str) -> bool:
        """Return whether `address` is a bogon; a string that is not an address counts as one."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return True
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if any(ip in net for net in self._public if net.version == ip.version):
            return False
        return any(ip in net for net in self._bogons if net.version == ip.version)

    def is_loopback(self, address: str) -> bool:
        """Return whether `address` is a loopback address."""
        try:
            return ipaddress.ip_address(address).is_loopback
        except ValueError:
            return False


def is_ip_literal(host: str) -> bool:
    """Return whether `host` is an IPv4 or IPv6 address rather than a name."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
