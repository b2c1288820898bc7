"""Per-source token buckets: a steady rate with a burst, keyed by a keyed hash of the address.

Pure: the clock and the hashing key arrive as arguments. The address itself is never kept, not
even in memory: only blake2b(address, key) with a key drawn when the collector starts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Allows `rate_per_s` units per second per source, with bursts up to `burst` units."""

    def __init__(
        self, rate_per_s: float, burst: float, *, key: bytes, max_sources: int = 100_000
    ) -> None:
        self.rate_per_s = rate_per_s
        self.burst = max(burst, 1.0)
        self._key = key
        self._max_sources = max_sources
        self._buckets: dict[bytes, _Bucket] = {}

    @property
    def enabled(self) -> bool:
        """Return whether the limit applies (a rate of 0 disables it)."""
        return self.rate_per_s > 0

    def source_key(self, address: str) -> bytes:
        """Return the keyed hash the limiter stores for an address."""
        return hashlib.blake2b(address.encode(), key=self._key, digest_size=16).digest()

    def wait_s(self, address: str, now: float, cost: float = 1.0) -> float:
        """Return 0 if `take(address, now, cost)` would be allowed, else seconds to wait.

        Spends nothing: an upload asks before and while it reads its body, then `take`s once.
        """
        if not self.enabled:
            return 0.0
        bucket = self._buckets.get(self.source_key(address))
        if bucket is None:
            return 0.0
        tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate_per_s)
        needed = min(cost, self.burst)
        return 0.0 if tokens >= needed else (needed - tokens) / self.rate_per_s

    def take(self, address: str, now: float, cost: float = 1.0) -> float:
        """Spend `cost` units of this source's bucket; return 0 if allowed, else seconds to wait.

        A refused request spends nothing. A cost above the burst is allowed from a full bucket
        and leaves it in debt, so a large batch is possible but then waits its turn.
        """
        if not self.enabled:
            return 0.0
        key = self.source_key(address)
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_sources:
                self._forget_full(now)
            bucket = self._buckets[key] = _Bucket(tokens=self.burst, updated=now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate_per_s)
        bucket.updated = now
        needed = min(cost, self.burst)
        if bucket.tokens >= needed:
            bucket.tokens -= cost
            return 0.0
        return (needed - bucket.tokens) / self.rate_per_s

    def _forget_full(self, now: float) -> None:
        """Drop sources whose buckets have refilled (they are indistinguishable from new ones)."""
        full = [
            k
            for k, b in self._buckets.items()
            if b.tokens + (now - b.updated) * self.rate_per_s >= self.burst
        ]
        for k in full:
            del self._buckets[k]
        if len(self._buckets) >= self._max_sources:
            oldest = sorted(self._buckets, key=lambda k: self._buckets[k].updated)
            for k in oldest[: len(oldest) // 2]:
                del self._buckets[k]

    def __len__(self) -> int:
        return len(self._buckets)
