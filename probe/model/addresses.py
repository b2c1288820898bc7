"""Which addresses are globally reachable: the one special-purpose address registry of Crenel.

Pure: no I/O. The control's guard, the probe (which addresses it may dial) and the analysis
(which answers are bogons) all ask `address_scope`, so they agree on every block.

Sources, in order:
- IANA IPv4 / IPv6 Special-Purpose Address Registries, "Globally Reachable" column
  (https://www.iana.org/assignments/iana-ipv4-special-registry/,
  https://www.iana.org/assignments/iana-ipv6-special-registry/), as netaddr (>= 1.3) ships them
  (`netaddr.IPAddress.is_global`; `N/A` counts as not reachable);
- `REGISTRY_ADDITIONS`: entries newer than netaddr's copy, and deprecated blocks the registry
  no longer marks (each with its RFC);
- the IANA IPv6 Address Space registry: only 2000::/3 is global unicast
  (https://www.iana.org/assignments/ipv6-address-space/);
- addresses that embed an IPv4 address (IPv4-mapped, the NAT64 well-known prefix) take the scope
  of the embedded address; 6to4 (2002::/16) and Teredo (2001::/32) are refused whole.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any

from netaddr import ip as netaddr_ip

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ADDRESSES_REMEMBERED = 16384
"""Addresses whose parse and scope are remembered: the analysis asks about the same DNS answers
and endpoints several times a measurement, and an import meets the same ones again and again."""
REMEMBERED_TEXT_CHARS = 64
"""Longer texts are parsed every time, so that the remembered ones stay small (an IPv6 address
with brackets is at most 47 characters)."""

REGISTRY_ADDITIONS: tuple[tuple[str, str], ...] = (
    ("192.88.99.0/24", "6to4 relay anycast, deprecated (RFC 7526)"),
    ("::/96", "IPv4-compatible IPv6, deprecated (RFC 4291 section 2.5.5.1)"),
    ("3fff::/20", "documentation (RFC 9637)"),
    ("5f00::/16", "segment routing SIDs (RFC 9602)"),
    ("fec0::/10", "site-local unicast, deprecated (RFC 3879)"),
)
"""Not globally reachable, though netaddr's copy of the registries does not say so."""

REGISTRY_VERSION = "iana-2024+netaddr-1.3"
"""Changes whenever the tables above change (part of the analysis reference digest)."""

_ADDITIONS = tuple(ipaddress.ip_network(cidr) for cidr, _ in REGISTRY_ADDITIONS)
_GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")
_NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")
_MULTICAST = (ipaddress.ip_network("224.0.0.0/4"), ipaddress.ip_network("ff00::/8"))


class AddressScope(StrEnum):
    """Where an address can be reached from."""

    GLOBAL = "global"
    LOOPBACK = "loopback"
    UNSPECIFIED = "unspecified"
    MULTICAST = "multicast"
    LINK_LOCAL = "link-local"
    SPECIAL = "special"
    """Any other special-purpose block that is not globally reachable (private, shared,
    documentation, benchmarking, reserved, 6to4, Teredo, ...)."""
    INVALID = "invalid"
    """Not an IP address at all."""


def parse_address(address: str) -> IpAddress | None:
    """Return the address (brackets and an IPv6 zone dropped), or None if it is not one."""
    if len(address) > REMEMBERED_TEXT_CHARS:
        return _parsed(address)
    return _parsed_remembered(address)


def _parsed(address: str) -> IpAddress | None:
    text = address.strip().strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


_parsed_remembered = lru_cache(maxsize=ADDRESSES_REMEMBERED)(_parsed)


def embedded_ipv4(ip: IpAddress) -> ipaddress.IPv4Address | None:
    """Return the IPv4 address an IPv4-mapped or NAT64 (64:ff9b::/96) address stands for."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64_WELL_KNOWN:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


@lru_cache(maxsize=ADDRESSES_REMEMBERED)
def scope_of(ip: IpAddress) -> AddressScope:
    """Return the scope of a parsed address."""
    inner = embedded_ipv4(ip)
    if inner is not None:
        return scope_of(inner)
    if ip.is_unspecified:
        return AddressScope.UNSPECIFIED
    if ip.is_loopback:
        return AddressScope.LOOPBACK
    if any(ip in net for net in _MULTICAST if net.version == ip.version):
        return AddressScope.MULTICAST
    if ip.is_link_local:
        return AddressScope.LINK_LOCAL
    if any(ip in net for net in _ADDITIONS if net.version == ip.version):
        return AddressScope.SPECIAL
    if ip.version == 6 and ip not in _GLOBAL_UNICAST_V6:
        return AddressScope.SPECIAL
    if not is_global_in_registry(int(ip), ip.version):
        return AddressScope.SPECIAL
    return AddressScope.GLOBAL


def _ranges(networks: Iterable[Any]) -> tuple[tuple[int, int], ...]:
    return tuple((int(net.first), int(net.last)) for net in networks)


_NOT_GLOBAL = {
    4: _ranges(netaddr_ip.IPV4_NOT_GLOBALLY_REACHABLE),
    6: _ranges(netaddr_ip.IPV6_NOT_GLOBALLY_REACHABLE),
}
_GLOBAL_EXCEPTIONS = {
    4: _ranges(netaddr_ip.IPV4_NOT_GLOBALLY_REACHABLE_EXCEPTIONS),
    6: _ranges(netaddr_ip.IPV6_NOT_GLOBALLY_REACHABLE_EXCEPTIONS),
}


def is_global_in_registry(value: int, version: int) -> bool:
    """Return netaddr's `IPAddress(value, version).is_global()`: the same registry tables, read
    once as integer ranges (netaddr compares against each network in Python, ~15 µs a call)."""
    if not any(first <= value <= last for first, last in _NOT_GLOBAL[version]):
        return True
    return any(first <= value <= last for first, last in _GLOBAL_EXCEPTIONS[version])


def address_scope(address: str) -> AddressScope:
    """Return the scope of `address` (INVALID when it is not an IP address)."""
    ip = parse_address(address)
    return AddressScope.INVALID if ip is None else scope_of(ip)


def is_globally_reachable(address: str) -> bool:
    """Return whether `address` is a globally reachable unicast address."""
    return address_scope(address) is AddressScope.GLOBAL


IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_NEVER_DIALLED = frozenset(
    {AddressScope.LOOPBACK, AddressScope.UNSPECIFIED, AddressScope.MULTICAST}
)
"""Scopes the probe dials only inside a network declared public (a lab on loopback).

Censors answer with private addresses (blockpage servers at 10.x): the probe dials those, since
the answer is the evidence; it never dials its own host or a group address."""
_NOT_IDENTIFYING = frozenset({AddressScope.LOOPBACK, AddressScope.UNSPECIFIED})
"""Scopes that identify nobody (and the lab and tests use them): never scrubbed."""


@dataclass(frozen=True)
class AddressPolicy:
    """Every address decision of Crenel: the registry above, plus networks declared public.

    `declared_public` holds the networks a lab (or a test on loopback) treats as the public
    internet: the probe's `public_networks`, the control's `allowed_networks`.
    """

    declared_public: tuple[str, ...] = ()
    _declared: tuple[IpNetwork, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parsed = tuple(ipaddress.ip_network(n, strict=False) for n in self.declared_public)
        object.__setattr__(self, "_declared", parsed)

    def _is_declared(self, ip: IpAddress) -> bool:
        ip = embedded_ipv4(ip) or ip
        return any(ip in net for net in self._declared if net.version == ip.version)

    def is_public(self, address: str) -> bool:
        """Return whether `address` is globally reachable or in a network declared public.

        The control connects only to public addresses; any other answer is a bogon.
        """
        ip = parse_address(address)
        if ip is None:
            return False
        return self._is_declared(ip) or scope_of(ip) is AddressScope.GLOBAL

    def may_dial(self, address: str) -> bool:
        """Return whether the probe may connect to `address`: any unicast address but its own
        host (loopback, unspecified) unless declared public."""
        ip = parse_address(address)
        if ip is None:
            return False
        return scope_of(ip) not in _NEVER_DIALLED or self._is_declared(ip)

    def public_only(self, addresses: Iterable[str]) -> list[str]:
        """Return the public addresses among `addresses`, deduplicated, in order."""
        out: list[str] = []
        for address in addresses:
            if address not in out and self.is_public(address):
                out.append(address)
        return out


def identifies_host(address: str) -> bool:
    """Return whether `address` could identify a host, so is scrubbed: a valid address that is
    not loopback or unspecified."""
    scope = address_scope(address)
    return scope is not AddressScope.INVALID and scope not in _NOT_IDENTIFYING
