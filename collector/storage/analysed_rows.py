"""Measurements stored with their analyses (an import analyses each one before storing it): a
batch's rows, each uid once, and the rollup deltas its new rows make on their own.

Pure: no I/O. Both backends' `insert_analysed` call it inside the transaction that stores the
rows, once the insert has said which uids were new: a new row had no verdict before, so its
delta is its own counts, and no stored row is read back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from collector.storage import rollups
from collector.storage.base import AnalysedRow
from collector.storage.sql import naive_utc

_NOTHING = rollups.RowState(
    day=date.min,
    cc="",
    asn=0,
    domain="",
    probe_key="",
    uploader="",
    contradicted=False,
    region=None,
    category_code=None,
    network_name=None,
    control_failed=False,
    verdict=None,
    methods=(),
    confirmed=False,
    packet_confirmed=False,
)
"""The state of a row before it is stored: no verdict, so it contributes nothing."""


def unique(rows: Sequence[AnalysedRow]) -> list[AnalysedRow]:
    """Return `rows` with each uid once (its first row), in their order."""
    return list({r.row.uid: r for r in reversed(rows)}.values())[::-1]


def state(item: AnalysedRow) -> rollups.RowState:
    """Return the rollup state of a stored, analysed row: its key as `rollups.OLD_STATE` reads
    it back from the stored columns, and its analysis's verdict."""
    row, analysis = item.row, item.analysis
    return rollups.RowState(
        day=naive_utc(row.start_time).date(),
        cc=row.probe_cc,
        asn=row.probe_asn,
        domain=row.domain,
        probe_key=row.probe_id or "",
        uploader=row.uploader_network or "",
        contradicted=bool(row.geo_mismatch),
        region=row.region,
        category_code=row.category_code,
        network_name=row.probe_network_name,
        control_failed=row.control_failed,
        verdict=analysis.verdict,
        methods=list(analysis.methods),
        confirmed=analysis.fingerprint_confirmed,
        packet_confirmed=analysis.packet_confirmed,
        origin=row.origin or "crenel",
    )


def deltas(new_rows: Iterable[AnalysedRow]) -> rollups.Deltas:
    """Return the rollup deltas of storing `new_rows` (none of them stored before), analysed."""
    return rollups.compute_deltas((_NOTHING, state(item)) for item in new_rows)
