"""Arrow batches of rows: times become naive UTC exactly as `sql.naive_utc` makes them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from collector.storage import AnalysisRow
from collector.storage.arrow_batches import analyses_table
from collector.storage.sql import naive_utc

MOMENTS = [
    datetime(2026, 11, 30, 23, 30, tzinfo=timezone(timedelta(hours=-5))),  # the next UTC day
    datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=UTC),
    datetime(2026, 11, 30, 12),  # naive: taken as UTC
]


def test_analysed_times_are_naive_utc() -> None:
    row = AnalysisRow(
        uid="01900000-0000-7000-8000-000000000001",
        verdict="ok",
        methods=[],
        confidence=1.0,
        blocking=None,
        accessible=True,
        fingerprint_confirmed=False,
        rules_version="1",
        reference_digest="d",
        analysed_at=MOMENTS[0],
        analysis_json="{}",
    )
    table = analyses_table([replace(row, analysed_at=m) for m in MOMENTS])
    assert table.column("analysed_at").to_pylist() == [naive_utc(m) for m in MOMENTS]
    assert table.column("analysed_at").to_pylist()[0] == datetime(2026, 12, 1, 4, 30)
