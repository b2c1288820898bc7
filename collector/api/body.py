"""Read request bodies with a size limit, undo their Content-Encoding (gzip, zstd) with a limit on
the decoded size (no zip bombs), and decode JSON into msgspec records with field errors."""

from __future__ import annotations

import re
import zlib
from typing import TypeVar

import msgspec
import zstandard
from starlette.requests import Request

from collector.errors import (
    BadEncoding,
    BadRequest,
    InvalidField,
    PayloadTooLarge,
    UnsupportedMediaType,
)

T = TypeVar("T")
_PATH = re.compile(r"at `\$\.?([^`]*)`")
_NAMED = re.compile(r"(?:unknown|required) field `([^`]+)`")
_CHUNK_BYTES = 64 * 1024
_ZSTD_STEP_BYTES = 256
ENCODINGS = ("identity", "gzip", "zstd")
"""Content-Encoding values the collector accepts."""


async def read_body(request: Request, limit_bytes: int) -> bytes:
    """Return the request body.

    Raises:
        PayloadTooLarge: the body (or its declared length) exceeds `limit_bytes`.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit_bytes:
        raise PayloadTooLarge(f"body is {declared} bytes; the limit is {limit_bytes}")
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > limit_bytes:
            raise PayloadTooLarge(f"body exceeds the limit of {limit_bytes} bytes")
    return bytes(chunks)


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


def _gunzip(data: bytes, limit_bytes: int) -> bytes:
    inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
    out = bytearray()
    view = memoryview(data)
    try:
        for start in range(0, len(data), _CHUNK_BYTES):
            out += inflater.decompress(
                view[start : start + _CHUNK_BYTES], limit_bytes + 1 - len(out)
            )
            if len(out) > limit_bytes or inflater.unconsumed_tail:
                raise PayloadTooLarge(f"decompressed body exceeds the limit of {limit_bytes} bytes")
        out += inflater.flush()
    except zlib.error as exc:
        raise BadEncoding(f"body is not valid gzip: {exc}") from exc
    if not inflater.eof:
        raise BadEncoding("body is not valid gzip: truncated stream")
    if inflater.unused_data:
        raise BadEncoding("body is not valid gzip: data after the end of the stream")
    if len(out) > limit_bytes:
        raise PayloadTooLarge(f"decompressed body exceeds the limit of {limit_bytes} bytes")
    return bytes(out)


def _unzstd(data: bytes, limit_bytes: int) -> bytes:
    # Small input steps bound the output of one step (an RLE block of a few bytes can expand to
    # 128 KiB), so a bomb is caught within a few MiB of the limit.
    out = bytearray()
    pending = data
    try:
        for _ in range(1024):  # frames in one body
            reader = zstandard.ZstdDecompressor().decompressobj()
            rest = b""
            for start in range(0, len(pending), _ZSTD_STEP_BYTES):
                end = start + _ZSTD_STEP_BYTES
                out += reader.decompress(pending[start:end])
                if len(out) > limit_bytes:
                    raise PayloadTooLarge(
                        f"decompressed body exceeds the limit of {limit_bytes} bytes"
                    )
                if reader.eof:
                    rest = reader.unused_data + pending[end:]
                    break
            if not reader.eof:
                raise BadEncoding("body is not valid zstd: truncated stream")
            pending = rest
            if not pending:
                return bytes(out)
    except zstandard.ZstdError as exc:
        raise BadEncoding(f"body is not valid zstd: {exc}") from exc
    raise BadEncoding("body is not valid zstd: too many frames")


def decode_content(data: bytes, coding: str, limit_bytes: int) -> bytes:
    """Return the body with its content coding undone.

    Raises:
        BadEncoding: the body does not decompress.
        PayloadTooLarge: the decompressed body exceeds `limit_bytes`.
    """
    if coding == "gzip":
        return _gunzip(data, limit_bytes)
    if coding == "zstd":
        return _unzstd(data, limit_bytes)
    if len(data) > limit_bytes:
        raise PayloadTooLarge(f"body exceeds the limit of {limit_bytes} bytes")
    return data


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
        BadRequest: not JSON.
        InvalidField: JSON of the wrong shape; the error names the field.
    """
    try:
        return msgspec.json.decode(data, type=kind)
    except msgspec.ValidationError as exc:
        raise InvalidField(str(exc), field=field_of(exc)) from exc
    except msgspec.DecodeError as exc:
        raise BadRequest(f"malformed JSON: {exc}") from exc
