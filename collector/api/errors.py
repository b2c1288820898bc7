"""Map collector errors (and malformed requests) to 4xx JSON responses `{"error", "detail"}`.

The only place HTTP error responses are made; codes are documented in docs/errors.md.
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from collector.errors import CollectorError, InvalidField, Overloaded

_HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    400: "bad_request",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def error_response(
    status_code: int, code: str, detail: str, *, extra: dict[str, Any] | None = None
) -> Response:
    """Return a JSON error response."""
    body: dict[str, Any] = {"error": code, "detail": detail}
    if extra:
        body.update(extra)
    headers = {"Retry-After": "5"} if status_code == 429 else None
    return Response(
        msgspec.json.encode(body),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )


async def collector_error(request: Request, exc: Exception) -> Response:
    """Return the JSON response for a `CollectorError`."""
    assert isinstance(exc, CollectorError)
    extra = {"field": exc.field} if isinstance(exc, InvalidField) and exc.field else None
    if isinstance(exc, Overloaded):
        extra = None
    return error_response(exc.status_code, exc.code, exc.detail, extra=extra)


async def http_error(request: Request, exc: Exception) -> Response:
    """Return the JSON response for Starlette's own HTTP errors (unknown route, bad method)."""
    assert isinstance(exc, HTTPException)
    status = exc.status_code if 400 <= exc.status_code < 500 else 400
    return error_response(status, _HTTP_CODES.get(status, "bad_request"), str(exc.detail))


EXCEPTION_HANDLERS: dict[Any, Any] = {
    CollectorError: collector_error,
    HTTPException: http_error,
}
"""Handlers to pass to `Starlette(exception_handlers=...)`."""
