"""Where imported OONI measurements go: a stopped collector's store (stored and analysed here),
or a running collector over its upload API (which stores and analyses them itself)."""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from typing import Protocol

import httpx
import msgspec
import trio

from collector.analyse.analyser import Analyser
from collector.api.schemas import IngestReply
from collector.core.errors import CollectorError, CollectorUnreachable
from collector.ooni_import.convert import ImportSummary
from collector.ooni_import.prepared import Prepared
from collector.storage import AnalysedRow, ThreadedStorage

UPLOAD_TIMEOUT_S = 60.0
MAX_ATTEMPTS = 20
"""Tries of one batch while the collector answers 429 or 503 (it says when to come back)."""
MAX_WAIT_S = 30.0


class ImportRefused(CollectorError):
    """The collector refused the imported measurements."""


class Destination(Protocol):
    """Takes prepared measurements in batches and counts what was stored."""

    async def store(self, batch: Sequence[Prepared], summary: ImportSummary) -> None:
        """Store the batch (with its analyses where that happens here); return nothing."""

    async def finish(self, summary: ImportSummary) -> None:
        """Finish the work the stored batches left behind; return nothing."""


class LocalDestination:
    """A stopped collector's store: rows stored with the analyses the workers made (each
    measurement analysed once, before it is stored), and the rollups moved by them."""

    def __init__(self, storage: ThreadedStorage, analyser: Analyser) -> None:
        self._storage = storage
        self._analyser = analyser

    async def store(self, batch: Sequence[Prepared], summary: ImportSummary) -> None:
        """Store the batch with its analyses, and the rollups of its new rows, in one
        transaction (rows already stored are skipped); return nothing."""
        rows = [
            AnalysedRow(row=item.row, analysis=item.analysis)
            for item in batch
            if item.row is not None and item.analysis is not None
        ]
        if not rows:
            return
        new = await self._storage.write(self._storage.backend.insert_analysed, rows)
        summary.stored += len(new)
        summary.duplicates += len(rows) - len(new)
        summary.analysed += len(new)

    async def finish(self, summary: ImportSummary) -> None:
        """Analyse rows an earlier run left waiting for analysis; return nothing."""
        summary.analysed += await self._analyser.drain()


class RemoteDestination:
    """A running collector's `POST /api/v1/measurements`, as gzip'd NDJSON batches."""

    def __init__(self, base_url: str, client: httpx.AsyncClient) -> None:
        self._url = f"{base_url.rstrip('/')}/api/v1/measurements"
        self._client = client

    async def store(self, batch: Sequence[Prepared], summary: ImportSummary) -> None:
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

    async def finish(self, summary: ImportSummary) -> None:
        """Nothing is left: the running collector analyses what it stored; return nothing."""


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(MAX_WAIT_S, max(0.1, float(response.headers.get("retry-after", "1"))))
    except ValueError:
        return 1.0
