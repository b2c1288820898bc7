"""The collector's own errors: one base class, with the HTTP status and the stable error code.

Codes are listed in docs/errors.md; `collector.api.errors` turns these into JSON responses.
"""

from __future__ import annotations


class CollectorError(Exception):
    """The collector could not do what was asked."""

    status_code = 400
    code = "bad_request"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or (self.__doc__ or "").strip().splitlines()[0])

    @property
    def detail(self) -> str:
        """Return the human-readable explanation."""
        return str(self)


class BadRequest(CollectorError):
    """The request is malformed."""


class InvalidField(CollectorError):
    """A field has the wrong type or value."""

    status_code = 422
    code = "invalid_field"

    def __init__(self, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.field = field


class PayloadTooLarge(CollectorError):
    """The request body is too large."""

    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(CollectorError):
    """The request body's type or encoding is not supported."""

    status_code = 415
    code = "unsupported_media_type"


class Overloaded(CollectorError):
    """Too many requests are in progress; retry later."""

    status_code = 429
    code = "overloaded"


class TooManyExports(CollectorError):
    """This source already runs as many exports as it may; retry when one has finished."""

    status_code = 429
    code = "too_many_exports"


class ExportsBusy(CollectorError):
    """The collector runs as many exports as it allows at once; retry later."""

    status_code = 503
    code = "exports_busy"


class NotFound(CollectorError):
    """No such resource."""

    status_code = 404
    code = "not_found"


class TargetRefused(CollectorError):
    """The control refuses to measure this target."""

    status_code = 403
    code = "target_refused"


class BadEncoding(CollectorError):
    """The request body cannot be decompressed or decoded."""

    code = "bad_encoding"


class InvalidLine(InvalidField):
    """One measurement of a batch has a field of the wrong type or value; nothing was stored."""

    def __init__(self, detail: str, *, line: int, field: str | None = None) -> None:
        super().__init__(f"line {line}: {detail}", field)
        self.line = line


class MalformedLine(BadRequest):
    """One line of a batch is not JSON; nothing of the batch was stored."""

    def __init__(self, detail: str, *, line: int) -> None:
        super().__init__(f"line {line}: {detail}")
        self.line = line


class RateLimited(CollectorError):
    """This source sent too many requests; retry after the `Retry-After` seconds."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, detail: str | None = None, *, retry_after_s: float = 1.0) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class QuotaExceeded(RateLimited):
    """This source used its daily upload quota; retry after the `Retry-After` seconds."""

    code = "quota_exceeded"


class Unauthorized(CollectorError):
    """This action needs the admin token (`Authorization: Bearer TOKEN`)."""

    status_code = 401
    code = "unauthorized"


class AdminDisabled(CollectorError):
    """Admin actions over HTTP are disabled: the collector was started without an admin token."""

    status_code = 403
    code = "admin_disabled"


class StorageUnavailable(CollectorError):
    """The measurement could not be stored; nothing was acknowledged, retry later."""

    status_code = 503
    code = "storage_unavailable"


class ConfigInvalid(CollectorError):
    """A setting of the collector is invalid."""


class DataDirLocked(CollectorError):
    """The data directory is in use by another crenel-collector process."""


class CollectorUnreachable(CollectorError):
    """The collector could not be reached."""

    exit_code = 3
