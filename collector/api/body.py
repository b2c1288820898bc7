"""Read request bodies with a size limit and decode them into msgspec records with field errors."""

from __future__ import annotations

import re
from typing import TypeVar

import msgspec
from starlette.requests import Request

from collector.errors import BadRequest, InvalidField, PayloadTooLarge

T = TypeVar("T")
_PATH = re.compile(r"at `\$\.?([^`]*)`")


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


def decode_json(data: bytes, kind: type[T]) -> T:
    """Return `data` decoded as a `kind` record.

    Raises:
        BadRequest: not JSON.
        InvalidField: JSON of the wrong shape; the error names the field.
    """
    try:
        return msgspec.json.decode(data, type=kind)
    except msgspec.ValidationError as exc:
        text = str(exc)
        match = _PATH.search(text)
        raise InvalidField(text, field=match.group(1) if match else None) from exc
    except msgspec.DecodeError as exc:
        raise BadRequest(f"malformed JSON: {exc}") from exc
