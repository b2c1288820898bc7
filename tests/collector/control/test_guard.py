"""The control refuses to become a proxy into its own network."""

from __future__ import annotations

import pytest

from collector.control.guard import AddressGuard


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "::1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "fe80::1",
        "224.0.0.1",
        "ff02::1",
        "0.0.0.0",
        "::",
        "100.64.0.1",
        "::ffff:127.0.0.1",
        "fc00::1",
        "192.0.2.1",
        "not-an-ip",
    ],
)
def test_non_public_addresses_are_refused_by_default(address: str) -> None:
    assert not AddressGuard().allows(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700:4700::1111", "1.1.1.1"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert AddressGuard().allows(address)


def test_a_lab_can_allow_its_own_ranges_only() -> None:
    guard = AddressGuard(("198.51.100.0/24", "2001:db8::/32"))
    assert guard.allows("198.51.100.7") and guard.allows("2001:db8::7")
    assert not guard.allows("127.0.0.1") and not guard.allows("203.0.113.7")
    assert guard.filter(["198.51.100.7", "10.0.0.1", "198.51.100.7"]) == ["198.51.100.7"]
