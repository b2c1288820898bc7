"""Map collector errors (and malformed requests) to JSON responses `{"error", "detail"}`.

The only place HTTP error responses are made; codes are documented in docs/errors.md. Bad input
is always a 4xx; only a storage failure (nothing acknowledged) is a 503.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from collector.core.errors import (
    CollectorError,
    InvalidField,
    InvalidLine,
    MalformedLine,
    RateLimited,
    Unauthorized,
)

_HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    400: "bad_request",
    401: "unauthorized",
    413: "payload_too_large",
    415: "unsupported_media_type",
}
DEFAULT_RETRY_AFTER_S = 5


def error_response(
    status_code: int,
    code: str,
    detail: str,
    *,
    extra: dict[str, Any] | None = None,
    retry_after_s: float | None = None,
) -> Response:
    """Return a JSON error response (with `Retry-After` on 429 and 503)."""
    body: dict[str, Any] = {"error": code, "detail": detail}
    if extra:
        body.update(extra)
    headers: dict[str, str] = {}
    if status_code in (429, 503):
        wait = DEFAULT_RETRY_AFTER_S if retry_after_s is None else retry_after_s
        headers["Retry-After"] = str(max(1, math.ceil(wait)))
    if status_code == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if status_code == 413:
        headers["Connection"] = "close"  # the unread rest of the body makes the connection unusable
    return Response(
        msgspec.json.encode(body),
        status_code=status_code,
        media_type="application/json",
        headers=headers or None,
    )


def response_for(exc: CollectorError) -> Response:
    """Return the JSON response for a `CollectorError`."""
    extra: dict[str, Any] = {}
    if isinstance(exc, InvalidField) and exc.field:
        extra["field"] = exc.field
    if isinstance(exc, InvalidLine | MalformedLine):
        extra["line"] = exc.line
    retry = exc.retry_after_s if isinstance(exc, RateLimited) else None
    return error_response(exc.status_code, exc.code, exc.detail, extra=extra, retry_after_s=retry)


async def collector_error(request: Request, exc: Exception) -> Response:
    """Return the JSON response for a `CollectorError` raised by a handler."""
    assert isinstance(exc, CollectorError)
    return response_for(exc)


async def http_error(request: Request, exc: Exception) -> Response:
    """Return the JSON response for Starlette's own HTTP errors (unknown route, bad method)."""
    assert isinstance(exc, HTTPException)
    status = exc.status_code if 400 <= exc.status_code < 500 else 400
    if status == 401:
        return response_for(Unauthorized())
    return error_response(status, _HTTP_CODES.get(status, "bad_request"), str(exc.detail))


EXCEPTION_HANDLERS: dict[Any, Any] = {
    CollectorError: collector_error,
    HTTPException: http_error,
}
"""Handlers to pass to `Starlette(exception_handlers=...)`."""
