"""Per-source daily quotas on uploads: measurements and stored bytes per source and UTC day.

Pure: the time arrives as an argument and sources as the rate limiter's keyed hashes, never as
addresses. Counts of the previous day are dropped when the day changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from collector.core.errors import QuotaExceeded
from collector.core.ratelimit import RateLimiter
from collector.storage import MeasurementRow

ROW_OVERHEAD_BYTES = 1_400
"""Fixed per-row cost in the database beyond its compressed body and text columns: keys,
numbers, the stored analysis, rollups and WAL. bench/upload_quota.py measured 1.9 KB of data
directory per minimal measurement, whose body and text columns are about 520 bytes."""
OVERFLOW_SOURCE = b""
"""Where sources beyond `max_sources` are counted together, so spraying addresses gains nothing."""


def stored_bytes(rows: Sequence[MeasurementRow]) -> int:
    """Return an estimate of what the rows cost in the database: compressed bodies, the text
    of their summary columns and a fixed overhead each."""
    total = 0
    for row in rows:
        texts = (row.probe_network_name, row.input, row.domain, row.software_name)
        total += len(row.raw_zstd) + sum(len(t) for t in texts) + ROW_OVERHEAD_BYTES
        total += len(row.probe_id or "") + len(row.region or "") + len(row.category_code or "")
    return total


@dataclass
class _Use:
    measurements: int = 0
    stored_bytes: int = 0


@dataclass(frozen=True)
class Reservation:
    """What one upload was charged; hand it back with `DailyQuota.refund`."""

    source: bytes
    day: date
    measurements: int
    stored_bytes: int


class DailyQuota:
    """At most `measurements_per_day` measurements and `bytes_per_day` stored bytes per source
    and UTC day; 0 disables either."""

    def __init__(
        self, *, measurements_per_day: int, bytes_per_day: int, max_sources: int = 1_000_000
    ) -> None:
        self.measurements_per_day = measurements_per_day
        self.bytes_per_day = bytes_per_day
        self._max_sources = max_sources
        self._day: date | None = None
        self._use: dict[bytes, _Use] = {}

    @property
    def enabled(self) -> bool:
        """Return whether either quota applies."""
        return self.measurements_per_day > 0 or self.bytes_per_day > 0

    def reserve(
        self, source: bytes, now: datetime, measurements: int, stored_bytes: int
    ) -> Reservation:
        """Charge an upload to `source`'s quota for the UTC day of `now`; return the charge.

        Raises:
            QuotaExceeded: the upload would exceed a quota; nothing is charged. Its
                `retry_after_s` is the time to the next UTC midnight.
        """
        day = now.astimezone(UTC).date()
        if day != self._day:
            self._day = day
            self._use.clear()
        if source not in self._use and len(self._use) >= self._max_sources:
            source = OVERFLOW_SOURCE
        use = self._use.get(source) or _Use()
        wait = (datetime.combine(day + timedelta(days=1), time(), UTC) - now).total_seconds()
        limit = self.measurements_per_day
        if limit and use.measurements + measurements > limit:
            raise QuotaExceeded(
                f"this source may upload {limit} measurements a day "
                f"({use.measurements} so far today, UTC)",
                retry_after_s=wait,
            )
        limit = self.bytes_per_day
        if limit and use.stored_bytes + stored_bytes > limit:
            raise QuotaExceeded(
                f"this source may store {limit} bytes of measurements a day "
                f"({use.stored_bytes} so far today, UTC)",
                retry_after_s=wait,
            )
        use.measurements += measurements
        use.stored_bytes += stored_bytes
        self._use[source] = use
        return Reservation(source, day, measurements, stored_bytes)

    def refund(self, reservation: Reservation, fraction: float = 1.0) -> None:
        """Give back `fraction` of a charge (an upload refused later, or its duplicates)."""
        use = self._use.get(reservation.source)
        if reservation.day != self._day or use is None:
            return
        use.measurements -= round(reservation.measurements * fraction)
        use.stored_bytes -= round(reservation.stored_bytes * fraction)
        use.measurements = max(0, use.measurements)
        use.stored_bytes = max(0, use.stored_bytes)

    def __len__(self) -> int:
        return len(self._use)


def reserve_upload(
    quotas: DailyQuota,
    keys: RateLimiter,
    address: str | None,
    rows: Sequence[MeasurementRow],
    now: datetime,
) -> Reservation | None:
    """Return the charge of an upload's rows to its source's quota (None when nothing is charged).

    Raises:
        QuotaExceeded: the upload would exceed the source's quota for the day.
    """
    if address is None or not quotas.enabled:
        return None
    source = keys.source_key(address)
    return quotas.reserve(source, now, len(rows), stored_bytes(rows))


def refund_upload(quotas: DailyQuota, charge: Reservation | None, fraction: float = 1.0) -> None:
    """Give back `fraction` of an upload's charge, if it had one."""
    if charge is not None:
        quotas.refund(charge, fraction)
