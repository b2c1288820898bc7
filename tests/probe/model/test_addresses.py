"""The one special-purpose address registry: every block IANA marks as not globally reachable is
refused by the control's guard, counted a bogon by the analysis and never called global.

The blocks below are copied from the IANA registries themselves (not from the library the module
uses), so a block the library misses fails here:
https://www.iana.org/assignments/iana-ipv4-special-registry/ and
https://www.iana.org/assignments/iana-ipv6-special-registry/ ("Globally Reachable" False or N/A).
"""

from __future__ import annotations

import ipaddress

import netaddr
import pytest
from hypothesis import given
from hypothesis import strategies as st
from netaddr import ip as netaddr_ip

from collector.control.guard import AddressGuard
from probe.analysis import BogonPolicy
from probe.model import (
    AddressPolicy,
    AddressScope,
    address_scope,
    identifies_host,
    is_globally_reachable,
)
from probe.model.addresses import is_global_in_registry
from probe.privacy.scrub import scrubbable

NOT_GLOBALLY_REACHABLE = (
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/29",
    "192.0.0.8/32",
    "192.0.0.170/31",
    "192.0.2.0/24",
    "192.88.99.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "240.0.0.0/4",
    "255.255.255.255/32",
    "::/128",
    "::1/128",
    "64:ff9b:1::/48",
    "100::/64",
    "2001::/32",
    "2001:2::/48",
    "2001:10::/28",
    "2001:db8::/32",
    "2002::/16",
    "3fff::/20",
    "5f00::/16",
    "fc00::/7",
    "fe80::/10",
    "fec0::/10",
)
"""IANA's not-globally-reachable blocks (with the deprecated 192.88.99.0/24 and fec0::/10).

Not ::ffff:0:0/96: a socket dials an IPv4-mapped address over IPv4, so it takes the scope of the
IPv4 address it maps (`EMBEDDED_PRIVATE_IPV4`)."""

GLOBALLY_REACHABLE_EXCEPTIONS = (
    "192.0.0.9",
    "192.0.0.10",
    "192.31.196.1",
    "192.52.193.1",
    "192.175.48.1",
    "2001:3::1",
    "2001:4:112::1",
    "2001:20::1",
    "2620:4f:8000::1",
)
"""Special-purpose addresses the registries call globally reachable."""

EMBEDDED_PRIVATE_IPV4 = (
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo, client 10.0.0.1
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "::ffff:10.0.0.1",
    "::ffff:127.0.0.1",
    "::10.0.0.1",  # IPv4-compatible (deprecated)
)


def _samples(cidr: str) -> list[str]:
    net = ipaddress.ip_network(cidr)
    middle = net.network_address + net.num_addresses // 2
    return sorted({str(net.network_address), str(middle), str(net.broadcast_address)})


@pytest.mark.parametrize("address", [a for cidr in NOT_GLOBALLY_REACHABLE for a in _samples(cidr)])
def test_every_block_that_is_not_globally_reachable_is_refused_everywhere(address: str) -> None:
    assert address_scope(address) is not AddressScope.GLOBAL
    assert not AddressGuard().allows(address)
    assert BogonPolicy().is_bogon(address)


@pytest.mark.parametrize("address", EMBEDDED_PRIVATE_IPV4)
def test_ipv6_addresses_embedding_private_ipv4_are_refused(address: str) -> None:
    assert not is_globally_reachable(address)
    assert not AddressGuard().allows(address)
    assert BogonPolicy().is_bogon(address)


@pytest.mark.parametrize(
    "address",
    [*GLOBALLY_REACHABLE_EXCEPTIONS, "8.8.8.8", "2606:4700:4700::1111", "64:ff9b::808:808"],
)
def test_globally_reachable_addresses_are_allowed(address: str) -> None:
    assert is_globally_reachable(address)
    assert AddressGuard().allows(address)
    assert not BogonPolicy().is_bogon(address)


@pytest.mark.parametrize(
    ("address", "scope"),
    [
        ("127.0.0.1", AddressScope.LOOPBACK),
        ("::ffff:127.0.0.1", AddressScope.LOOPBACK),
        ("0.0.0.0", AddressScope.UNSPECIFIED),
        ("::", AddressScope.UNSPECIFIED),
        ("224.0.0.1", AddressScope.MULTICAST),
        ("ff02::1", AddressScope.MULTICAST),
        ("fe80::1%eth0", AddressScope.LINK_LOCAL),
        ("4000::1", AddressScope.SPECIAL),
        ("[2001:db8::1]", AddressScope.SPECIAL),
        ("not-an-address", AddressScope.INVALID),
    ],
)
def test_scopes(address: str, scope: AddressScope) -> None:
    assert address_scope(address) is scope


def test_a_lab_allows_its_documentation_ranges_in_the_guard_and_the_analysis() -> None:
    lab = ("192.0.2.0/24", "198.51.100.0/24", "2001:db8::/32", "3fff::/20")
    guard, bogons = AddressGuard(lab), BogonPolicy(public_networks=lab)
    for address in ("192.0.2.7", "198.51.100.7", "2001:db8::7", "3fff::7", "::ffff:192.0.2.7"):
        assert guard.allows(address) and not bogons.is_bogon(address)
    for address in ("203.0.113.7", "10.0.0.1", "127.0.0.1"):
        assert not guard.allows(address) and bogons.is_bogon(address)


DECLARED = ("127.0.0.0/8", "198.51.100.0/24")
"""Networks a lab declares public: the probe's public_networks, the guard's allowed_networks."""


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "::ffff:127.0.0.1", "198.51.100.7", "10.0.0.1", "8.8.8.8", "::1", "fe80::1",
     "0.0.0.0", "224.0.0.1", "[2001:db8::1]", "not an address", "192.0.2.1"],
)  # fmt: skip
def test_guard_analysis_and_policy_agree_on_what_is_public(address: str) -> None:
    policy = AddressPolicy(DECLARED)
    public = policy.is_public(address)
    assert AddressGuard(DECLARED).allows(address) is public
    assert BogonPolicy(DECLARED).is_bogon(address) is not public


@pytest.mark.parametrize(
    ("address", "may_dial"),
    [
        ("10.0.0.1", True),  # a censor's blockpage server: the evidence, so dialled
        ("192.0.2.1", True),
        ("8.8.8.8", True),
        ("127.0.0.1", False),
        ("::1", False),
        ("::ffff:127.0.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("ff02::1", False),
        ("not an address", False),
    ],
)
def test_the_probe_dials_any_unicast_address_but_its_own_host(address: str, may_dial: bool) -> None:
    assert AddressPolicy().may_dial(address) is may_dial


def test_loopback_is_dialled_only_when_declared_public() -> None:
    assert AddressPolicy(("127.0.0.0/8",)).may_dial("127.0.0.1")
    assert AddressPolicy(("127.0.0.0/8",)).may_dial("::ffff:127.0.0.1")
    assert not AddressPolicy(("127.0.0.0/8",)).may_dial("::1")


@pytest.mark.parametrize(
    ("address", "identifies"),
    [("203.0.113.9", True), ("10.1.2.3", True), ("fe80::1%eth0", True), ("2001:db8::5", True),
     ("127.0.0.1", False), ("::1", False), ("0.0.0.0", False), ("::", False), ("x", False)],
)  # fmt: skip
def test_only_addresses_that_could_identify_a_host_are_scrubbed(
    address: str, identifies: bool
) -> None:
    assert identifies_host(address) is identifies
    assert bool(scrubbable([address])) is identifies


def _registry_boundaries() -> list[tuple[int, int]]:
    """Every first and last address of netaddr's tables, and their neighbours."""
    edges = []
    for version, tables in (
        (
            4,
            (
                netaddr_ip.IPV4_NOT_GLOBALLY_REACHABLE,
                netaddr_ip.IPV4_NOT_GLOBALLY_REACHABLE_EXCEPTIONS,
            ),
        ),
        (
            6,
            (
                netaddr_ip.IPV6_NOT_GLOBALLY_REACHABLE,
                netaddr_ip.IPV6_NOT_GLOBALLY_REACHABLE_EXCEPTIONS,
            ),
        ),
    ):
        top = 2**32 - 1 if version == 4 else 2**128 - 1
        for net in (n for table in tables for n in table):
            for value in (net.first - 1, net.first, net.last, net.last + 1):
                if 0 <= value <= top:
                    edges.append((version, value))
    return edges


@pytest.mark.parametrize(("version", "value"), _registry_boundaries())
def test_the_registry_as_ranges_is_netaddrs_is_global_at_every_boundary(
    version: int, value: int
) -> None:
    assert is_global_in_registry(value, version) is netaddr.IPAddress(value, version).is_global()


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**128 - 1))
def test_the_registry_as_ranges_is_netaddrs_is_global_anywhere(v4: int, v6: int) -> None:
    assert is_global_in_registry(v4, 4) is netaddr.IPAddress(v4, 4).is_global()
    assert is_global_in_registry(v6, 6) is netaddr.IPAddress(v6, 6).is_global()
