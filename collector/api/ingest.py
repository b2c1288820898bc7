"""`POST /api/v1/measurements`: validate an upload, wait until it is durable, acknowledge it.

Thin: decoding lives in `collector.ingest.body` and `collector.ingest.prepare`, durability in
`collector.ingest.writer`. The answer lists every accepted uid; nothing is stored from a refused
batch.
"""

from __future__ import annotations

import msgspec
import trio
from starlette.requests import Request
from starlette.responses import Response

from collector.api.schemas import IngestReply
from collector.core.errors import CollectorError, RateLimited
from collector.ingest.body import receive_body
from collector.ingest.lines import LineSplitter
from collector.ingest.prepare import media_type, prepare
from collector.ingest.writer import Arrival
from collector.runtime import Runtime
from collector.sources import quota


def source_address(request: Request) -> str | None:
    """Return the address the request came from (used, never stored)."""
    return request.client.host if request.client else None


def _rate_limited(collector: Runtime, wait_s: float) -> RateLimited:
    collector.metrics.rate_limited.inc()
    return RateLimited(
        f"this source uploaded more than {collector.config.limits.measurements_per_s:g} "
        "measurements per second",
        retry_after_s=wait_s,
    )


def _refuse_if_limited(collector: Runtime, address: str | None, count: int) -> None:
    """Refuse an upload whose measurements so far would exceed the source's rate (spends none)."""
    if address is None:
        return
    wait = collector.upload_limits.wait_s(address, trio.current_time(), cost=max(count, 1))
    if wait > 0:
        raise _rate_limited(collector, wait)


async def upload(collector: Runtime, request: Request) -> Response:
    """Store the uploaded measurements and return the acknowledgement.

    Limits apply while the body streams in, before it is held or parsed: the per-source
    measurement rate (before reading, then after each piece as measurements are counted; spent
    once the upload is valid), the body's size as sent and decoded, the number of measurements
    and the size of each. Nothing of a refused upload is stored.
    """
    kind = media_type(request.headers.get("content-type"))
    splitter = LineSplitter(kind, collector.config.limits)
    with collector.writer.arrival() as arrival:
        return await _store(collector, request, source_address(request), splitter, arrival)


async def _store(
    collector: Runtime,
    request: Request,
    address: str | None,
    splitter: LineSplitter,
    arrival: Arrival,
) -> Response:
    """Return the acknowledgement of an upload, counted as arriving at the writer until its
    rows are queued (`upload` says what is checked)."""
    limits = collector.config.limits
    try:
        _refuse_if_limited(collector, address, 1)
        source = collector.uploaders.tag(collector.locator.locate(address), address)
        now = collector.config.clock()
        prepared = await receive_body(
            request,
            splitter.feed,
            limit_bytes=limits.max_body_bytes,
            decoded_limit_bytes=limits.max_decoded_bytes,
            limiter=collector.body_threads,
            # Validation shares the last piece's worker thread: one hop for a small upload.
            finish=lambda: prepare(
                splitter.finish(), now=now, source_address=address, source=source, limits=limits
            ),
            check=lambda: _refuse_if_limited(collector, address, splitter.count),
        )
        if address is not None:
            wait = collector.upload_limits.take(
                address, trio.current_time(), cost=len(prepared.rows)
            )
            if wait > 0:
                raise _rate_limited(collector, wait)
    except CollectorError:
        collector.metrics.ingested.labels(result="rejected").inc()
        raise
    mismatches = sum(1 for row in prepared.rows if row.geo_mismatch)
    if mismatches:
        collector.metrics.geo_mismatches.inc(mismatches)
    charge = quota.reserve_upload(
        collector.quotas, collector.upload_limits, address, prepared.rows, now
    )
    try:
        stored = await collector.writer.submit(prepared.rows, arrival)
    except CollectorError:
        quota.refund_upload(collector.quotas, charge)
        raise
    if stored.duplicates:  # a re-upload costs nothing new
        quota.refund_upload(collector.quotas, charge, stored.duplicates / len(prepared.rows))
    uids = list(dict.fromkeys(prepared.uids))
    reply = IngestReply(uids=uids, stored=stored.stored, duplicates=len(uids) - stored.stored)
    return Response(msgspec.json.encode(reply), media_type="application/json")
