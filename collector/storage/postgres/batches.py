"""A write's rows into the session's staging tables with COPY: the measurements of an insert, the
analyses of a save, and the measurements stored with their analyses (an import), each table
emptied when its transaction ends.

Every pooled connection creates the staging tables once (`create_staging`); a write copies its
batch in and moves it to the real tables with one INSERT or UPDATE in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from collector.storage.base import AnalysedRow, AnalysisRow, MeasurementRow
from collector.storage.sql import naive_utc

MEASUREMENT_COLUMNS = (
    "uid, received_at, start_time, probe_cc, probe_asn, probe_network_name, probe_id, region, "
    "input, domain, category_code, software_name, software_version, format_version, "
    "probe_verdict, probe_methods, probe_confidence, control_failed, source_cc, source_asn, "
    "geo_mismatch, raw, uploader_network, origin"
)
ANALYSIS_COLUMNS = (
    "uid, verdict, methods, confidence, blocking, accessible, fingerprint_confirmed, "
    "rules_version, reference_digest, analysed_at, analysis_json, packet_confirmed"
)

_INGEST_COLUMNS = (
    "uid UUID, received_at TIMESTAMP, "
    "start_time TIMESTAMP, probe_cc TEXT, probe_asn BIGINT, probe_network_name TEXT, "
    "probe_id TEXT, region TEXT, input TEXT, domain TEXT, category_code TEXT, "
    "software_name TEXT, software_version TEXT, format_version TEXT, probe_verdict TEXT, "
    "probe_methods TEXT[], probe_confidence DOUBLE PRECISION, control_failed BOOLEAN, "
    "source_cc TEXT, source_asn BIGINT, geo_mismatch BOOLEAN, raw BYTEA, "
    "uploader_network TEXT, origin TEXT"
)
_ANALYSIS_TYPES = (
    "verdict TEXT, methods TEXT[], "
    "confidence DOUBLE PRECISION, blocking TEXT, accessible BOOLEAN, "
    "fingerprint_confirmed BOOLEAN, rules_version TEXT, reference_digest TEXT, "
    "analysed_at TIMESTAMP, analysis_json TEXT, packet_confirmed BOOLEAN"
)

STAGING = (
    f"CREATE TEMP TABLE IF NOT EXISTS ingest_batch ({_INGEST_COLUMNS}) ON COMMIT DELETE ROWS",
    "CREATE TEMP TABLE IF NOT EXISTS analysis_batch (uid UUID, "
    f"{_ANALYSIS_TYPES}) ON COMMIT DELETE ROWS",
    f"CREATE TEMP TABLE IF NOT EXISTS analysed_batch ({_INGEST_COLUMNS}, {_ANALYSIS_TYPES}) "
    "ON COMMIT DELETE ROWS",
)

INSERT_NEW = """
INSERT INTO measurements (
    uid, received_at, start_time, day, probe_cc, probe_asn, probe_network_name, probe_id, region,
    input, domain, category_code, software_name, software_version, format_version,
    probe_verdict, probe_methods, probe_confidence, needs_analysis, control_failed,
    source_cc, source_asn, geo_mismatch, raw, uploader_network, origin)
SELECT uid, received_at, start_time, start_time::DATE, probe_cc, probe_asn,
    probe_network_name, probe_id, region, input, domain, category_code, software_name,
    software_version, format_version, probe_verdict, probe_methods, probe_confidence, true,
    control_failed, source_cc, source_asn, geo_mismatch, raw, uploader_network, origin
FROM ingest_batch
ORDER BY uid
ON CONFLICT DO NOTHING
RETURNING uid::TEXT
"""
"""Move the staged measurements in; a uid already stored (by any instance) is skipped. Rows go
in uid order, so two instances inserting overlapping batches take the unique index's locks in
the same order and wait for each other instead of deadlocking."""

INSERT_ANALYSED = """
INSERT INTO measurements (
    uid, received_at, start_time, day, probe_cc, probe_asn, probe_network_name, probe_id, region,
    input, domain, category_code, software_name, software_version, format_version,
    probe_verdict, probe_methods, probe_confidence, needs_analysis, control_failed,
    source_cc, source_asn, geo_mismatch, raw, uploader_network, origin,
    verdict, methods, confidence, blocking, accessible, fingerprint_confirmed, rules_version,
    reference_digest, analysed_at, analysis, packet_confirmed)
SELECT uid, received_at, start_time, start_time::DATE, probe_cc, probe_asn,
    probe_network_name, probe_id, region, input, domain, category_code, software_name,
    software_version, format_version, probe_verdict, probe_methods, probe_confidence, false,
    control_failed, source_cc, source_asn, geo_mismatch, raw, uploader_network, origin,
    verdict, methods, confidence, blocking, accessible, fingerprint_confirmed, rules_version,
    reference_digest, analysed_at, analysis_json, packet_confirmed
FROM analysed_batch
ORDER BY uid
ON CONFLICT DO NOTHING
RETURNING uid::TEXT
"""
"""Move the staged measurements in with their analyses (what `INSERT_NEW` and then
`SAVE_ANALYSES` would write), skipping uids already stored, in uid order as `INSERT_NEW`."""

SAVE_ANALYSES = """
UPDATE measurements AS m SET
    verdict = a.verdict, methods = a.methods, confidence = a.confidence, blocking = a.blocking,
    accessible = a.accessible, fingerprint_confirmed = a.fingerprint_confirmed,
    rules_version = a.rules_version, reference_digest = a.reference_digest,
    analysed_at = a.analysed_at, analysis = a.analysis_json, needs_analysis = false,
    packet_confirmed = a.packet_confirmed
FROM analysis_batch AS a
WHERE m.uid = a.uid AND m.uid = ANY(%s::UUID[])
"""
"""Save the staged analyses; the parameter is their uids (so each partition's primary key finds
the rows: the staging table has no statistics, and joined alone it made PostgreSQL scan every
partition, a cost growing with the store)."""


def create_staging(con: psycopg.Connection[tuple[object, ...]]) -> None:
    """Create this session's staging tables (the pool calls it for each new connection)."""
    for statement in STAGING:
        con.execute(statement)


def copy_measurements(
    cur: psycopg.Cursor[tuple[object, ...]], rows: Sequence[MeasurementRow]
) -> None:
    """COPY the rows into `ingest_batch` (inside the caller's transaction)."""
    with cur.copy(f"COPY ingest_batch ({MEASUREMENT_COLUMNS}) FROM STDIN") as copy:
        for r in rows:
            copy.write_row(_measurement_values(r))


def copy_analyses(cur: psycopg.Cursor[tuple[object, ...]], rows: Sequence[AnalysisRow]) -> None:
    """COPY the analyses into `analysis_batch` (inside the caller's transaction)."""
    with cur.copy(f"COPY analysis_batch ({ANALYSIS_COLUMNS}) FROM STDIN") as copy:
        for r in rows:
            copy.write_row((r.uid, *_analysis_values(r)))


def copy_analysed(cur: psycopg.Cursor[tuple[object, ...]], rows: Sequence[AnalysedRow]) -> None:
    """COPY the rows and their analyses into `analysed_batch` (inside the caller's
    transaction)."""
    columns = f"{MEASUREMENT_COLUMNS}, {ANALYSIS_COLUMNS.removeprefix('uid, ')}"
    with cur.copy(f"COPY analysed_batch ({columns}) FROM STDIN") as copy:
        for r in rows:
            copy.write_row((*_measurement_values(r.row), *_analysis_values(r.analysis)))


def _measurement_values(r: MeasurementRow) -> tuple[object, ...]:
    return (
        r.uid,
        naive_utc(r.received_at),
        naive_utc(r.start_time),
        r.probe_cc,
        r.probe_asn,
        r.probe_network_name,
        r.probe_id,
        r.region,
        r.input,
        r.domain,
        r.category_code,
        r.software_name,
        r.software_version,
        r.format_version,
        r.probe_verdict,
        list(r.probe_methods),
        r.probe_confidence,
        r.control_failed,
        r.source_cc,
        r.source_asn,
        r.geo_mismatch,
        r.raw_zstd,
        r.uploader_network,
        r.origin,
    )


def _analysis_values(r: AnalysisRow) -> tuple[object, ...]:
    """Return an analysis's staged values but its uid."""
    return (
        r.verdict,
        list(r.methods),
        r.confidence,
        r.blocking,
        r.accessible,
        r.fingerprint_confirmed,
        r.rules_version,
        r.reference_digest,
        naive_utc(r.analysed_at),
        r.analysis_json,
        r.packet_confirmed,
    )
