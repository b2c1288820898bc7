"""Reference data an analysis depends on, and a digest that identifies it.

Pure: no I/O. The probe and the collector each build one (they may hold different fingerprints);
the digest goes into every Analysis so a re-run can tell whether its inputs changed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from probe.analysis.addresses import BogonPolicy
from probe.analysis.fingerprint_sets import VersionedSet
from probe.analysis.fingerprints import FingerprintSet
from probe.model import REGISTRY_VERSION

DEFAULT_THROTTLE_KBPS = 256.0
"""Goodput under which an incomplete body counts as throttled (Russia's 2021 Twitter
throttling held connections near 128 kbit/s)."""


@dataclass(frozen=True)
class ReferenceData:
    """Fingerprints, bogon policy and thresholds used by `analyse`.

    `fingerprints` holds everything matched; `fingerprint_set` names the versioned set among
    them (recorded in every analysis), when there is one.
    """

    fingerprints: FingerprintSet = field(default_factory=FingerprintSet)
    fingerprint_set: VersionedSet | None = None
    bogons: BogonPolicy = field(default_factory=BogonPolicy)
    throttle_kbps: float = DEFAULT_THROTTLE_KBPS

    @property
    def digest(self) -> str:
        """Return a SHA-256 hex digest over everything here that can change a verdict."""
        h = hashlib.sha256()
        h.update(self.fingerprints.digest.encode())
        h.update(REGISTRY_VERSION.encode())
        h.update(b"\x1e" + "|".join(self.bogons.public_networks).encode())
        h.update(f"\x1e{self.throttle_kbps:.3f}".encode())
        return h.hexdigest()
