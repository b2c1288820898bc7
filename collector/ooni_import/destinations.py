"""Where imported OONI measurements go: a stopped collector's store (stored and analysed here),
or a running collector over its upload API (which stores and analyses them itself)."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

import httpx
import msgspec
import trio
import zstandard

from collector.analyse.analyser import Analyser
from collector.api.schemas import IngestReply
from collector.core.errors import CollectorError, CollectorUnreachable
from collector.ingest.prepare import ZSTD_LEVEL
from collector.ingest.rows import measurement_row
from collector.ooni_import.convert import Converted, ImportSummary
from collector.storage import MeasurementRow, ThreadedStorage

UPLOAD_TIMEOUT_S = 60.0
MAX_ATTEMPTS = 20
"""Tries of one batch while the collector answers 429 or 503 (it says when to come back)."""
MAX_WAIT_S = 30.0


class ImportRefused(CollectorError):
    """The collector refused the imported measurements."""


class Destination(Protocol):
    """Takes converted measurements in batches and counts what was stored."""

    async def store(self, batch: Sequence[Converted], summary: ImportSummary) -> None:
        """Store the batch (and analyse it where that happens here); return nothing."""


class LocalDestination:
    """A stopped collector's store: rows stored like uploads, then analysed like uploads."""

    def __init__(
        self, storage: ThreadedStorage, analyser: Analyser, clock: Callable[[], datetime]
    ) -> None:
        self._storage = storage
        self._analyser = analyser
        self._clock = clock
        self._compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)

    async def store(self, batch: Sequence[Converted], summary: ImportSummary) -> None:
        """Store the batch in one transaction and analyse its new rows; return nothing."""
        now = self._clock()
        rows: list[MeasurementRow] = []
        for item in batch:
            try:
                row = measurement_row(
                    item.measurement,
                    self._compressor.compress(item.data),
                    received_at=now,
                    source=None,
                )
            except ValueError as exc:
                summary.skip(item.path, item.line, "unexpected_shape", str(exc))
                continue
            rows.append(row)
        new = await self._storage.write(self._storage.backend.insert, rows)
        summary.stored += len(new)
        summary.duplicates += len(rows) - len(new)
        self._analyser.offer([(r.uid, r.raw_zstd) for r in rows if r.uid in new])
        summary.analysed += await self._analyser.drain()


class RemoteDestination:
    """A running collector's `POST /api/v1/measurements`, as gzip'd NDJSON batches."""

    def __init__(self, base_url: str, client: httpx.AsyncClient) -> None:
        self._url = f"{base_url.rstrip('/')}/api/v1/measurements"
        self._client = client

    async def store(self, batch: Sequence[Converted], summary: ImportSummary) -> None:
        """Upload the batch until the collector acknowledges it; return nothing.

        Raises:
            CollectorUnreachable: the collector cannot be reached (exit code 3).
            ImportRefused: the collector refused the batch for another reason than load.
        """
        if not batch:
            return
        body = gzip.compress(b"\n".join(item.data for item in batch) + b"\n", compresslevel=5)
        headers = {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}
        for _ in range(MAX_ATTEMPTS):
            try:
                response = await self._client.post(self._url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                raise CollectorUnreachable(
                    f"cannot reach the collector at {self._url}: {exc}"
                ) from exc
            if response.status_code == 200:
                reply = msgspec.json.decode(response.content, type=IngestReply)
                summary.stored += reply.stored
                summary.duplicates += reply.duplicates
                return
            if response.status_code not in (429, 503):
                raise ImportRefused(
                    f"the collector refused the upload ({response.status_code}): "
                    f"{response.text[:300]}"
                )
            await trio.sleep(_retry_after(response))
        raise ImportRefused(f"the collector stayed busy after {MAX_ATTEMPTS} tries; try later")


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(MAX_WAIT_S, max(0.1, float(response.headers.get("retry-after", "1"))))
    except ValueError:
        return 1.0
