"""Turn an upload (one JSON measurement or an NDJSON batch) into rows ready to store.

All-or-nothing: the first invalid line stops the batch with an error naming the line and the
field, before anything is queued. The accepted bytes of each line are kept (zstd-compressed) so
they can be served back byte for byte; only the uploader's own address is scrubbed from them.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import msgspec
import zstandard

from collector.config import Limits
from collector.core.errors import (
    InvalidLine,
    MalformedLine,
    UnsupportedMediaType,
)
from collector.ingest.body import field_of
from collector.ingest.rows import SourceNetwork, as_utc, measurement_row
from collector.storage import MeasurementRow
from probe.model import Measurement, identifies_host, parse_address
from probe.privacy import scrub_measurement

JSON_TYPES = frozenset({"application/json"})
NDJSON_TYPES = frozenset(
    {
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
        "application/x-jsonlines",
        "application/jsonlines",
    }
)
ZSTD_LEVEL = 3
_decoder = msgspec.json.Decoder(Measurement)
_local = threading.local()


def _compressor() -> zstandard.ZstdCompressor:
    """Return this thread's zstd compressor (a context costs more to make than a line to
    compress; one per thread, since a compressor must not be shared between threads)."""
    compressor: zstandard.ZstdCompressor | None = getattr(_local, "compressor", None)
    if compressor is None:
        compressor = _local.compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    return compressor


@dataclass(frozen=True)
class Upload:
    """The validated rows of one upload, in line order, and their uids."""

    rows: list[MeasurementRow]
    uids: list[str]


def media_type(header: str | None) -> str:
    """Return "json" or "ndjson" for a Content-Type header (JSON when absent).

    Raises:
        UnsupportedMediaType: any other type.
    """
    value = (header or "application/json").split(";", 1)[0].strip().lower()
    if value in JSON_TYPES or (value.startswith("application/") and value.endswith("+json")):
        return "json"
    if value in NDJSON_TYPES:
        return "ndjson"
    raise UnsupportedMediaType(
        f"Content-Type {value!r} is not supported; use application/json for one measurement "
        "or application/x-ndjson for a batch"
    )


def _scrubbable(address: str | None) -> str | None:
    """Return the uploader's address if it could identify someone (`identifies_host`)."""
    if address is None or not identifies_host(address):
        return None
    return str(parse_address(address))


def _decode(line: bytes, number: int) -> Measurement:
    try:
        return _decoder.decode(line)
    except msgspec.ValidationError as exc:
        raise InvalidLine(str(exc), line=number, field=field_of(exc)) from exc
    except msgspec.DecodeError as exc:
        raise MalformedLine(f"malformed JSON: {exc}", line=number) from exc
    except UnicodeDecodeError as exc:
        # msgspec checks UTF-8 inside strings and raises this, not a DecodeError.
        raise MalformedLine(
            f"malformed JSON: a string is not valid UTF-8 ({exc.reason})", line=number
        ) from exc


def _scrub(line: bytes, measurement: Measurement, address: str) -> tuple[bytes, Measurement]:
    """Return the line and measurement with every spelling of `address` scrubbed.

    Scrubbed field by field (decoded strings and base64 bodies), not on the JSON text, where
    escapes such as \\u0000 could hide a spelling. Unchanged lines keep their bytes.
    """
    cleaned = scrub_measurement(measurement, [address])
    if cleaned == measurement:
        return line, measurement
    return msgspec.json.encode(cleaned), cleaned


def prepare(
    lines: Sequence[tuple[int, bytes]],
    *,
    now: datetime,
    source_address: str | None,
    source: SourceNetwork | None,
    limits: Limits,
) -> Upload:
    """Return the validated rows of an upload.

    `source_address` is used only to scrub it from the measurements; it is not stored.

    Raises:
        InvalidLine: a measurement of the wrong shape or with an impossible value (422).
        MalformedLine: a line that is not JSON (400).
    """
    compressor = _compressor()
    address = _scrubbable(source_address)
    latest = as_utc(now) + timedelta(seconds=limits.future_skew_s)
    rows: list[MeasurementRow] = []
    uids: list[str] = []
    for number, line in lines:
        measurement = _decode(line, number)
        accepted = line
        if address is not None:
            accepted, measurement = _scrub(line, measurement, address)
        if as_utc(measurement.start_time) > latest:
            raise InvalidLine(
                "start_time is in the future beyond the allowed clock skew",
                line=number,
                field="start_time",
            )
        try:
            row = measurement_row(
                measurement, compressor.compress(accepted), received_at=now, source=source
            )
        except ValueError as exc:
            raise InvalidLine(str(exc), line=number, field="probe.asn") from exc
        rows.append(row)
        uids.append(measurement.uid)
    return Upload(rows=rows, uids=uids)
