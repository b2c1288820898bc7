"""Which addresses are bogons (not routable on the public internet), with configurable exceptions.

Pure: no I/O. A bogon is any address `probe.model.AddressPolicy` (shared with the probe, the
control's guard and the ingest scrubber) does not call public. The lab treats its documentation
ranges as public by listing them in `BogonPolicy.public_networks`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from probe.model import AddressPolicy, AddressScope, address_scope, parse_address


@dataclass(frozen=True)
class BogonPolicy:
    """Bogon ranges, minus networks declared public (the lab's documentation ranges)."""

    public_networks: tuple[str, ...] = ()
    _policy: AddressPolicy = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_policy", AddressPolicy(self.public_networks))

    def is_bogon(self, address: str) -> bool:
        """Return whether `address` is a bogon; a string that is not an address counts as one."""
        return not self._policy.is_public(address)

    def is_loopback(self, address: str) -> bool:
        """Return whether `address` is a loopback address."""
        return address_scope(address) is AddressScope.LOOPBACK


def is_ip_literal(host: str) -> bool:
    """Return whether `host` is an IPv4 or IPv6 address rather than a name."""
    return parse_address(host) is not None
