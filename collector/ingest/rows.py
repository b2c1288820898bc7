"""Storage rows: a validated measurement as the `MeasurementRow` the store queries
(`measurement_row`), and an Analysis as the collector's `AnalysisRow` (`analysis_row`).

Pure: no I/O, no clock (times arrive as arguments).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import msgspec

from collector.storage import AnalysisRow, MeasurementRow
from probe.analysis import is_packet_confirmed
from probe.model import Analysis, Measurement

MAX_ASN = 2**32 - 1


@dataclass(frozen=True)
class SourceNetwork:
    """What the collector's GeoIP says about the uploader's address (never the address)."""

    cc: str | None = None
    asn: int | None = None
    network_name: str | None = None
    uploader_network: str | None = None
    """The keyed hash of the source /24 or /48 and AS (`collector.sources.uploaders`); None when the
    source is trusted or not an IP address."""


def asn_number(text: str) -> int:
    """Return the number of an `ASnnn` string (0 for AS0).

    Raises:
        ValueError: not ASnnn, or above 2^32 - 1.
    """
    if not text.startswith("AS") or not text[2:].isdigit():
        raise ValueError(f"not an AS number: {text!r}")
    value = int(text[2:])
    if value > MAX_ASN:
        raise ValueError(f"AS number above 2^32 - 1: {text!r}")
    return value


def as_utc(moment: datetime) -> datetime:
    """Return `moment` in UTC (a naive time is taken to be UTC already)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def geo_mismatch(claimed_cc: str, claimed_asn: int, source: SourceNetwork | None) -> bool | None:
    """Return whether the claimed network disagrees with the uploader's; None when unknown.

    A probe that does not know its network (ZZ / AS0) disagrees with nothing.
    """
    if source is None or (not source.cc and not source.asn):
        return None
    if source.cc and claimed_cc not in ("ZZ", source.cc):
        return True
    return bool(source.asn and claimed_asn not in (0, source.asn))


def measurement_row(
    measurement: Measurement,
    raw_zstd: bytes,
    *,
    received_at: datetime,
    source: SourceNetwork | None,
) -> MeasurementRow:
    """Return the row stored for a validated measurement.

    Raises:
        ValueError: the probe's ASN is out of range.
    """
    probe = measurement.probe
    asn = asn_number(probe.asn)
    analysis = measurement.analysis
    control = measurement.control
    return MeasurementRow(
        uid=measurement.uid,
        received_at=received_at,
        start_time=as_utc(measurement.start_time),
        probe_cc=probe.cc,
        probe_asn=asn,
        probe_network_name=probe.network_name,
        probe_id=measurement.probe_id,
        region=probe.region,
        input=measurement.input,
        domain=(urlsplit(measurement.url).hostname or "").lower(),
        category_code=measurement.category_code,
        software_name=measurement.software_name,
        software_version=measurement.software_version,
        format_version=measurement.format_version,
        probe_verdict=analysis.verdict.value,
        probe_methods=[m.value for m in analysis.methods],
        probe_confidence=analysis.confidence,
        control_failed=control is None or control.reply is None,
        source_cc=source.cc if source else None,
        source_asn=source.asn if source else None,
        geo_mismatch=geo_mismatch(probe.cc, asn, source),
        uploader_network=source.uploader_network if source else None,
        origin=measurement.origin.platform if measurement.origin else "crenel",
        raw_zstd=raw_zstd,
    )


def _blocking_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(getattr(value, "value", value))


def analysis_row(uid: str, analysis: Analysis, *, analysed_at: datetime) -> AnalysisRow:
    """Return the collector's analysis columns for one measurement."""
    return AnalysisRow(
        uid=uid,
        verdict=analysis.verdict.value,
        methods=[m.value for m in analysis.methods],
        confidence=analysis.confidence,
        blocking=_blocking_text(analysis.blocking),
        accessible=analysis.accessible,
        fingerprint_confirmed=any(not f.is_false_positive for f in analysis.fingerprints),
        rules_version=analysis.rules_version,
        reference_digest=analysis.reference_digest,
        analysed_at=analysed_at,
        analysis_json=msgspec.json.encode(analysis).decode(),
        packet_confirmed=is_packet_confirmed(analysis),
    )
