"""`POST /api/v1/measurements`: validate an upload, wait until it is durable, acknowledge it.

Thin: decoding lives in `collector.api.body` and `collector.ingest`, durability in
`collector.writer`. The answer lists every accepted uid; nothing is stored from a refused batch.
"""

from __future__ import annotations

import msgspec
import trio
from starlette.requests import Request
from starlette.responses import Response

from collector import quota
from collector.api.body import content_encoding, decode_content, read_body
from collector.api.schemas import IngestReply
from collector.errors import CollectorError, RateLimited
from collector.ingest import media_type, prepare, split_lines
from collector.service import Collector

THREAD_BYTES = 256 * 1024
"""Bodies larger than this are decoded and validated in a worker thread."""


def source_address(request: Request) -> str | None:
    """Return the address the request came from (used, never stored)."""
    return request.client.host if request.client else None


async def upload(collector: Collector, request: Request) -> Response:
    """Store the uploaded measurements and return the acknowledgement."""
    limits = collector.config.limits
    kind = media_type(request.headers.get("content-type"))
    coding = content_encoding(request.headers.get("content-encoding"))
    body = await read_body(request, limits.max_body_bytes)
    address = source_address(request)
    try:
        if len(body) > THREAD_BYTES:
            data = await trio.to_thread.run_sync(
                decode_content, body, coding, limits.max_decoded_bytes
            )
        else:
            data = decode_content(body, coding, limits.max_decoded_bytes)
        lines = split_lines(data, kind, limits)
        if address is not None:
            wait = collector.upload_limits.take(address, trio.current_time(), cost=len(lines))
            if wait > 0:
                collector.metrics.rate_limited.inc()
                raise RateLimited(
                    f"this source uploaded more than {limits.measurements_per_s:g} "
                    "measurements per second",
                    retry_after_s=wait,
                )
        source = collector.uploaders.tag(collector.locator.locate(address), address)
        now = collector.config.clock()
        if len(data) > THREAD_BYTES:
            prepared = await trio.to_thread.run_sync(
                lambda: prepare(
                    lines, now=now, source_address=address, source=source, limits=limits
                )
            )
        else:
            prepared = prepare(lines, now=now, source_address=address, source=source, limits=limits)
    except CollectorError:
        collector.metrics.ingested.labels(result="rejected").inc()
        raise
    mismatches = sum(1 for row in prepared.rows if row.geo_mismatch)
    if mismatches:
        collector.metrics.geo_mismatches.inc(mismatches)
    charge = quota.reserve_upload(collector.quotas, collector.upload_limits, address, prepared, now)
    try:
        stored = await collector.writer.submit(prepared.rows)
    except CollectorError:
        quota.refund_upload(collector.quotas, charge)
        raise
    if stored.duplicates:  # a re-upload costs nothing new
        quota.refund_upload(collector.quotas, charge, stored.duplicates / len(prepared.rows))
    uids = list(dict.fromkeys(prepared.uids))
    reply = IngestReply(uids=uids, stored=stored.stored, duplicates=len(uids) - stored.stored)
    return Response(msgspec.json.encode(reply), media_type="application/json")
