"""Lines of an OONI file in, measurements ready for their destination out: decoded, converted,
and for a local import also compressed, summarised and analysed, each measurement once.

Pure apart from the counting, and cheap to run in a worker process: the caller hands over a
chunk of raw lines and gets back the prepared measurements and a summary of the chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import zstandard

from collector.ingest.rows import analysis_row, measurement_row
from collector.ooni_import.convert import ImportSummary, convert, convert_line
from collector.ooni_import.documents import Document, RawLine, Unreadable
from collector.storage import AnalysisRow, MeasurementRow
from probe.analysis import ReferenceData, analyse


@dataclass(frozen=True)
class Prepared:
    """One converted measurement: its JSON (for an upload) or its stored and analysis rows."""

    uid: str
    data: bytes = b""
    """The measurement's JSON, for a running collector (empty for a local import)."""
    row: MeasurementRow | None = None
    analysis: AnalysisRow | None = None


@dataclass(frozen=True)
class PreparedChunk:
    """The prepared measurements of a chunk of lines, in file order, and what the chunk counted."""

    measurements: list[Prepared] = field(default_factory=list)
    summary: ImportSummary = field(default_factory=ImportSummary)


OONI_ZSTD_LEVEL = 1
"""zstd level of imported measurements: on the corpus, 38 µs and 5.1 kB a measurement against
46 µs and 4.9 kB at level 3 (uploads' level); any level reads back the same way."""

_compressors: dict[int, zstandard.ZstdCompressor] = {}


def prepare_chunk(
    items: Sequence[RawLine | Document | Unreadable],
    *,
    reference: ReferenceData | None,
    now: datetime,
) -> PreparedChunk:
    """Return the chunk's measurements prepared for a store (`reference` given: compressed,
    summarised and analysed with it, `now` as received and analysed time) or for an upload
    (`reference` None: their JSON only)."""
    chunk = PreparedChunk()
    summary = chunk.summary
    compressor = _compressors.setdefault(
        OONI_ZSTD_LEVEL, zstandard.ZstdCompressor(level=OONI_ZSTD_LEVEL)
    )
    for item in items:
        if isinstance(item, RawLine):
            converted = convert_line(item, summary)
        else:
            converted = convert(item, summary)
        if converted is None:
            continue
        measurement = converted.measurement
        if reference is None:
            chunk.measurements.append(Prepared(uid=measurement.uid, data=converted.data))
            continue
        try:
            row = measurement_row(
                measurement, compressor.compress(converted.data), received_at=now, source=None
            )
        except ValueError as exc:
            summary.skip(converted.path, converted.line, "unexpected_shape", str(exc))
            continue
        analysis = analysis_row(row.uid, analyse(measurement, reference), analysed_at=now)
        chunk.measurements.append(Prepared(uid=row.uid, row=row, analysis=analysis))
    return chunk
