"""Read request bodies as they stream in: the size as sent, the decoded size (no zip bombs) and
what the caller counts are checked chunk by chunk, so an oversized or hostile body is refused
before it is held or parsed; decoding and JSON parsing run in worker threads, never on the event
loop. Also: JSON into msgspec records with field errors.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import aclosing
from typing import TypeVar

import msgspec
import trio
from starlette.requests import Request

from collector.core.errors import (
    BadRequest,
    InvalidField,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from collector.ingest.inflate import Inflater

T = TypeVar("T")
R = TypeVar("R")
_PATH = re.compile(r"at `\$\.?([^`]*)`")
_NAMED = re.compile(r"(?:unknown|required) field `([^`]+)`")
FEED_BYTES = 64 * 1024
"""Bytes as sent that are gathered before one hop to a worker thread decodes them."""
ENCODINGS = ("identity", "gzip", "zstd")
"""Content-Encoding values the collector accepts."""


async def receive_body(
    request: Request,
    sink: Callable[[bytes], None],
    *,
    limit_bytes: int,
    decoded_limit_bytes: int,
    limiter: trio.CapacityLimiter,
    finish: Callable[[], R],
    check: Callable[[], None] | None = None,
) -> R:
    """Stream the body, undo its Content-Encoding, pass each decoded piece to `sink`, and return
    what `finish` makes of it once the body has ended.

    `sink` and `finish` run in worker threads (bounded by `limiter`; `finish` in the same hop as
    the last piece, so a small body costs one hop) and may raise to refuse the body; `check`
    runs on the event loop after each piece and after `finish` (a rate limit that depends on
    what `sink` counted). Nothing more is read once one of them raises.

    Raises:
        PayloadTooLarge: the body as sent (or its declared length) exceeds `limit_bytes`, or
            decoded exceeds `decoded_limit_bytes`.
        UnsupportedMediaType: an unknown Content-Encoding.
        BadEncoding: the body does not decode as its Content-Encoding says.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit_bytes:
        raise PayloadTooLarge(f"body is {declared} bytes; the limit is {limit_bytes}")
    coding = content_encoding(request.headers.get("content-encoding"))
    inflater = Inflater(coding, decoded_limit_bytes, sink)
    received = 0
    pending = bytearray()
    # aclosing: a refusal stops reading mid-body, and the stream must be closed then, not by GC.
    async with aclosing(request.stream()) as stream:
        async for chunk in stream:
            received += len(chunk)
            if received > limit_bytes:
                raise PayloadTooLarge(f"body exceeds the limit of {limit_bytes} bytes")
            pending += chunk
            if len(pending) >= FEED_BYTES:
                await trio.to_thread.run_sync(inflater.feed, bytes(pending), limiter=limiter)
                pending.clear()
                if check is not None:
                    check()

    def last(data: bytes) -> R:
        inflater.feed(data)
        inflater.finish()
        return finish()

    result = await trio.to_thread.run_sync(last, bytes(pending), limiter=limiter)
    if check is not None:
        check()
    return result


async def read_json(
    request: Request,
    kind: type[T],
    *,
    limit_bytes: int,
    limiter: trio.CapacityLimiter,
    empty: T | None = None,
) -> T:
    """Return the (small) JSON body decoded as a `kind` record; `empty` for a blank body.

    The body streams through `receive_body` with `limit_bytes` as both the sent and the decoded
    limit; decoding runs in a worker thread.

    Raises:
        PayloadTooLarge, UnsupportedMediaType, BadEncoding: see `receive_body`.
        BadRequest: not JSON (or not UTF-8), or blank without an `empty` default.
        InvalidField: JSON of the wrong shape; the error names the field.
    """
    data = bytearray()

    def decode() -> T:
        if empty is not None and not data.strip():
            return empty
        return decode_json(bytes(data), kind)

    return await receive_body(
        request,
        data.extend,
        limit_bytes=limit_bytes,
        decoded_limit_bytes=limit_bytes,
        limiter=limiter,
        finish=decode,
    )


def content_encoding(header: str | None) -> str:
    """Return the body's single content coding ("identity" when absent).

    Raises:
        UnsupportedMediaType: a coding other than gzip or zstd, or more than one.
    """
    coding = (header or "identity").strip().lower() or "identity"
    if coding == "x-gzip":
        coding = "gzip"
    if coding not in ENCODINGS:
        raise UnsupportedMediaType(
            f"Content-Encoding {coding!r} is not supported; use gzip, zstd or none"
        )
    return coding


def field_of(error: msgspec.ValidationError) -> str | None:
    """Return the JSON path (`probe.cc`, `dns[0].id`) a msgspec validation error names, if any.

    For an unknown or missing field the path ends with that field's name.
    """
    text = str(error)
    match = _PATH.search(text)
    path = match.group(1) if match else ""
    named = _NAMED.search(text)
    if named:
        path = f"{path}.{named.group(1)}" if path else named.group(1)
    return path or None


def decode_json(data: bytes, kind: type[T]) -> T:
    """Return `data` decoded as a `kind` record.

    Raises:
        BadRequest: not JSON, or a string that is not UTF-8.
        InvalidField: JSON of the wrong shape; the error names the field.
    """
    try:
        return msgspec.json.decode(data, type=kind)
    except msgspec.ValidationError as exc:
        raise InvalidField(str(exc), field=field_of(exc)) from exc
    except msgspec.DecodeError as exc:
        raise BadRequest(f"malformed JSON: {exc}") from exc
    except UnicodeDecodeError as exc:
        # msgspec checks UTF-8 inside strings and raises this, not a DecodeError.
        raise BadRequest(f"malformed JSON: a string is not valid UTF-8 ({exc.reason})") from exc
