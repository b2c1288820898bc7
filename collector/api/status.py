"""Operators' endpoints: health, Prometheus metrics and the OpenAPI document."""

from __future__ import annotations

import msgspec
import trio
from starlette.requests import Request
from starlette.responses import Response

from collector.api.openapi import openapi_document
from collector.api.schemas import HealthReply
from collector.core.metrics import CONTENT_TYPE
from collector.runtime import Runtime
from probe.identity import SOFTWARE_VERSION


async def health(collector: Runtime, request: Request) -> Response:
    """Return liveness and the sizes an operator watches."""
    counts = await collector.storage.read(collector.storage.backend.counts)
    collector.metrics.analysis_pending.set(counts.pending_analysis)
    reply = HealthReply(
        status="ok",
        version=SOFTWARE_VERSION,
        schema_version=counts.schema_version,
        measurements=counts.measurements,
        pending_analysis=counts.pending_analysis,
        test_list_urls=counts.test_list_urls,
        queue_depth=collector.writer.queued_rows,
        rules_version=collector.analyser.rules_version,
        reference_digest=collector.analyser.reference_digest,
        geoip=collector.locator.configured,
    )
    return Response(msgspec.json.encode(reply), media_type="application/json")


async def metrics(collector: Runtime, request: Request) -> Response:
    """Return the Prometheus text exposition."""
    body = await trio.to_thread.run_sync(collector.metrics.render)
    return Response(body, media_type=CONTENT_TYPE)


_OPENAPI: bytes | None = None


async def openapi(collector: Runtime, request: Request) -> Response:
    """Return the OpenAPI document (the same as docs/openapi.json)."""
    global _OPENAPI  # noqa: PLW0603 - built once per process, it never changes
    if _OPENAPI is None:
        _OPENAPI = msgspec.json.encode(openapi_document())
    return Response(_OPENAPI, media_type="application/json")
