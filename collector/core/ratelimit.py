"""Per-source token buckets: a steady rate with a burst, keyed by a keyed hash of the address.

Pure: the clock and the hashing key arrive as arguments. The address itself is never kept, not
even in memory: only blake2b(source, key) with a key drawn when the collector starts. An IPv6
source is its /64 (configurable): one host holds a whole /64 and could rotate through it.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass

DEFAULT_IPV6_PREFIX = 64
"""RFC 7421: a /64 is what one subscriber's link gets; hosts pick any address inside it."""


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Allows `rate_per_s` units per second per source, with bursts up to `burst` units."""

    def __init__(
        self,
        rate_per_s: float,
        burst: float,
        *,
        key: bytes,
        max_sources: int = 100_000,
        ipv6_prefix: int = DEFAULT_IPV6_PREFIX,
    ) -> None:
        self.rate_per_s = rate_per_s
        self.burst = max(burst, 1.0)
        self._key = key
        self.ipv6_prefix = ipv6_prefix
        self._max_sources = max_sources
        self._buckets: dict[bytes, _Bucket] = {}

    @property
    def enabled(self) -> bool:
        """Return whether the limit applies (a rate of 0 disables it)."""
        return self.rate_per_s > 0

    def source_key(self, address: str) -> bytes:
        """Return the keyed hash the limiter stores for an address (for IPv6, of its prefix)."""
        source = source_of(address, self.ipv6_prefix)
        return hashlib.blake2b(source.encode(), key=self._key, digest_size=16).digest()

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


def source_of(address: str, ipv6_prefix: int = DEFAULT_IPV6_PREFIX) -> str:
    """Return what counts as one source: an IPv4 address itself (also when IPv4-mapped), an IPv6
    address's network of `ipv6_prefix` bits, anything unparsable as given."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, ipv6_prefix), strict=False))
    return str(ip)
