"""The researcher API: search measurements, fetch one, aggregate, export.

Thin: parameters are parsed by `collector.api.params`, queries run in `collector.storage`
reader threads. Public reads need no token.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from datetime import timedelta
from functools import partial
from typing import Any

import msgspec
import trio
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from collector.api.params import (
    decode_cursor,
    encode_cursor,
    parse_axis,
    parse_bool,
    parse_filters,
    parse_int,
)
from collector.api.schemas import AggregationReply, MeasurementPage
from collector.core.errors import InvalidField, NotFound
from collector.runtime import Runtime
from collector.storage import (
    EXPORT_PAGE_ROWS,
    AggregationQuery,
    AggregationRow,
    Axis,
    Cursor,
    ExportEncoder,
    ExportFormat,
    Filters,
)
from probe.model import Method

logger = logging.getLogger(__name__)

DEFAULT_PAGE = 100
MAX_EXPORT_PAGES = 10_000_000
_UID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_MEDIA = {
    ExportFormat.PARQUET: "application/vnd.apache.parquet",
    ExportFormat.JSONL: "application/x-ndjson",
    ExportFormat.OONI: "application/x-ndjson",
    ExportFormat.CSV: "text/csv; charset=utf-8",
}


def _json(value: object) -> Response:
    return Response(msgspec.json.encode(value), media_type="application/json")


async def search(collector: Runtime, request: Request) -> Response:
    """Return one page of matching measurements, newest first."""
    params = request.query_params
    filters = parse_filters(params)
    cursor = decode_cursor(params.get("cursor"))
    limit = parse_int(
        params.get("limit"),
        "limit",
        default=DEFAULT_PAGE,
        minimum=1,
        maximum=collector.config.limits.page_max,
    )
    store = collector.storage.backend
    rows = await collector.storage.read(store.summaries, filters, cursor, limit + 1)
    token = None
    next_url = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        token = encode_cursor(Cursor(start_time=last.start_time, uid=last.uid))
        next_url = str(request.url.include_query_params(cursor=token))
    return _json(MeasurementPage(results=rows, next_cursor=token, next_url=next_url))


async def fetch(collector: Runtime, request: Request) -> Response:
    """Return the stored measurement byte for byte."""
    uid = str(request.path_params["uid"]).lower()
    if not _UID.match(uid):
        raise NotFound(f"no measurement {uid!r} (uids look like 0190a5a4-3c1e-7abc-8def-…)")
    raw = await collector.storage.read(collector.storage.backend.raw, uid)
    if raw is None:
        raise NotFound(f"no measurement {uid}")
    if not raw:
        raise NotFound(
            f"the body of {uid} was removed by the raw retention policy; its summary and "
            "analysis remain in search, aggregations and reports"
        )
    return Response(raw, media_type="application/json")


def render_csv(rows: Sequence[AggregationRow], axis_x: Axis, axis_y: Axis | None) -> str:
    """Return an aggregation as CSV: the axes, the counts, then one column per method."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    methods = [m.value for m in Method]
    head = [axis_x.value] + ([axis_y.value] if axis_y else [])
    counts = ["measurements", "ok", "blocked", "down", "inconclusive", "pending", "confirmed"]
    writer.writerow([*head, *counts, "probes", *methods])
    for row in rows:
        axes = [row.x] + ([row.y or ""] if axis_y else [])
        values: list[int | str] = [row.measurements, row.ok, row.blocked, row.down]
        values += [row.inconclusive, row.pending, row.confirmed]
        values.append("" if row.probes is None else row.probes)
        writer.writerow([*axes, *values, *(row.methods.get(m, 0) for m in methods)])
    return out.getvalue()


async def aggregate(collector: Runtime, request: Request) -> Response:
    """Return counts by one or two axes, as JSON or CSV."""
    params = request.query_params
    axis_x = parse_axis(params.get("axis_x"), "axis_x", required=True)
    axis_y = parse_axis(params.get("axis_y"), "axis_y", required=False)
    assert axis_x is not None
    if axis_y is axis_x:
        raise InvalidField("axis_y must differ from axis_x", field="axis_y")
    fmt = (params.get("format") or "").lower()
    if fmt not in ("", "json", "csv"):
        raise InvalidField("format must be json or csv", field="format")
    if not fmt:
        fmt = "csv" if "text/csv" in request.headers.get("accept", "") else "json"
    cap = (
        parse_int(params["max_per_probe"], "max_per_probe", default=0, minimum=1)
        if params.get("max_per_probe")
        else None
    )
    query = AggregationQuery(
        axis_x=axis_x,
        axis_y=axis_y,
        filters=parse_filters(params),
        max_per_probe=cap,
        with_probes=bool(parse_bool(params.get("probes"), "probes")),
    )
    started = time.perf_counter()
    rows = await collector.storage.read(collector.storage.backend.aggregate, query)
    elapsed_ms = (time.perf_counter() - started) * 1000.0
    if fmt == "csv":
        return Response(render_csv(rows, axis_x, axis_y), media_type="text/csv; charset=utf-8")
    reply = AggregationReply(
        axis_x=axis_x.value,
        axis_y=axis_y.value if axis_y else None,
        result=rows,
        query_ms=round(elapsed_ms, 3),
    )
    return _json(reply)


async def _export_stream(
    collector: Runtime, filters: Filters, fmt: ExportFormat
) -> AsyncGenerator[bytes, None]:
    """Yield the export's bytes page by page; nothing is written to disk."""
    store = collector.storage.backend
    encoder = ExportEncoder(fmt)
    after: Cursor | None = None
    for _ in range(MAX_EXPORT_PAGES):
        page = await collector.storage.read(
            store.export_page, filters, fmt, after, EXPORT_PAGE_ROWS
        )
        chunk = await trio.to_thread.run_sync(encoder.encode, page.table)
        if chunk:
            yield chunk
        after = page.after
        if after is None:
            break
    yield await trio.to_thread.run_sync(encoder.finish)


class _ExportResponse(StreamingResponse):
    """A streamed export that gives its slot back however the response ends."""

    def __init__(
        self, content: AsyncGenerator[bytes, None], release: Callable[[], None], **kw: Any
    ) -> None:
        super().__init__(content, **kw)
        self._release = release
        self._content = content

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()
            with trio.CancelScope(shield=True):
                await self._content.aclose()


async def export(collector: Runtime, request: Request) -> Response:
    """Return the measurements of a time range as one parquet, jsonl or csv file."""
    params = request.query_params
    for name in ("since", "until", "format"):
        if not params.get(name):
            raise InvalidField(f"{name} is required", field=name)
    try:
        fmt = ExportFormat(params["format"].lower())
    except ValueError as exc:
        raise InvalidField("format must be parquet, jsonl, csv or ooni", field="format") from exc
    filters = parse_filters(params)
    assert filters.since is not None and filters.until is not None
    days = collector.config.limits.export_max_days
    if filters.until - filters.since > timedelta(days=days):
        raise InvalidField(
            f"an HTTP export covers at most {days} days; use `crenel-collector export` for more",
            field="until",
        )
    name = f"crenel-{filters.since:%Y%m%d}-{filters.until:%Y%m%d}.{fmt.value}"
    source = collector.request_limits.source_key(request.client.host if request.client else "")
    collector.exports.acquire(source)
    return _ExportResponse(
        _export_stream(collector, filters, fmt),
        partial(collector.exports.release, source),
        media_type=_MEDIA[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
