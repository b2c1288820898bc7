"""Which addresses the control may connect to: public ones only, unless a lab allows more.

Pure: no I/O. Without this the helper would be an open proxy into its own network: anyone could
ask it to fetch http://127.0.0.1:... or a cloud metadata address. "Public" is decided by
`probe.model.AddressPolicy`, the one the probe, the ingest scrubber and the analysis use too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from probe.model import AddressPolicy


@dataclass(frozen=True)
class AddressGuard:
    """Allows global unicast addresses, plus networks explicitly listed (the lab's ranges)."""

    allowed_networks: tuple[str, ...] = ()
    policy: AddressPolicy = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "policy", AddressPolicy(self.allowed_networks))

    def allows(self, address: str) -> bool:
        """Return whether the control may connect to `address`."""
        return self.policy.is_public(address)

    def filter(self, addresses: Iterable[str]) -> list[str]:
        """Return the allowed addresses, deduplicated, in order."""
        return self.policy.public_only(addresses)
