"""Bound the size of a measurement so a collector always accepts it.

Pure: no I/O. Only body prefixes can grow without a bound the probe controls (a page may
redirect many times with a large body each); when the JSON line would exceed the budget, the
prefixes are shortened or left out, final hop first kept, and marked `body_prefix_is_trimmed`.
`body_length` and `body_sha256` still describe every byte received.
"""

from __future__ import annotations

import base64

import msgspec

from probe.model import HttpResponse, HttpTransaction, Measurement

COLLECTOR_LINE_LIMIT_BYTES = 8 << 20
"""The collector's default limit on one measurement's JSON line (`Limits.max_line_bytes`)."""
SCRUB_GROWTH = 10 / 7
"""The most scrubbing can lengthen text: a 7-character address becomes `[scrubbed]` (10)."""
MEASUREMENT_BUDGET_BYTES = 4 << 20
"""Largest JSON line the probe makes: the collector's scrubbing at ingest may lengthen it by
SCRUB_GROWTH at most and it still fits COLLECTOR_LINE_LIMIT_BYTES (tests check both)."""
_MAX_CUTS = 24
"""Bisection steps to fit a text prefix (2^24 characters is past any body cap)."""

_encode = msgspec.json.encode


def encoded_size(measurement: Measurement) -> int:
    """Return the length in bytes of the measurement's JSON line (without the newline)."""
    return len(_encode(measurement))


def _without_body(response: HttpResponse) -> HttpResponse:
    """Return the response with no prefix (flag untouched: `false` is the longer spelling)."""
    return msgspec.structs.replace(response, body_prefix=None, body_prefix_base64=None)


def _cost(response: HttpResponse) -> int:
    """Return how many bytes the prefix adds to the JSON line over no prefix (`null`)."""
    if response.body_prefix is not None:
        return len(_encode(response.body_prefix)) - len(b"null")
    if response.body_prefix_base64 is not None:
        return len(response.body_prefix_base64) + 2 - len(b"null")
    return 0


def _fit_text(text: str, allowance: int) -> str | None:
    """Return the longest start of `text` whose JSON string fits `allowance` bytes."""
    low, high = 0, len(text)
    for _ in range(_MAX_CUTS):
        if low >= high:
            break
        middle = (low + high + 1) // 2
        if len(_encode(text[:middle])) <= allowance:
            low = middle
        else:
            high = middle - 1
    return text[:low] if low else None


def _fit_base64(data: str, allowance: int) -> str | None:
    """Return the base64 of the longest start of the bytes whose JSON string fits."""
    keep = max(0, (allowance - 2) // 4 * 3)
    if keep == 0:
        return None
    return base64.b64encode(base64.b64decode(data)[:keep]).decode()


def _trimmed(response: HttpResponse, allowance: int) -> HttpResponse:
    """Return the response with its prefix cut to add at most `allowance` bytes."""
    if _cost(response) <= allowance:
        return response
    if allowance <= 0:
        return msgspec.structs.replace(_without_body(response), body_prefix_is_trimmed=True)
    budget = allowance + len(b"null")
    if response.body_prefix is not None:
        text = _fit_text(response.body_prefix, budget)
        return msgspec.structs.replace(response, body_prefix=text, body_prefix_is_trimmed=True)
    data = response.body_prefix_base64 or ""
    return msgspec.structs.replace(
        response, body_prefix_base64=_fit_base64(data, budget), body_prefix_is_trimmed=True
    )


def _priority(http: list[HttpTransaction]) -> list[int]:
    """Return transaction indexes, most useful body first: the final hop, then in order."""
    order = list(range(len(http)))
    with_body = [i for i in order if http[i].response is not None]
    if not with_body:
        return order
    final = max(with_body, key=lambda i: (http[i].depth, i))
    return [final] + [i for i in order if i != final]


def fit_budget(
    measurement: Measurement, budget_bytes: int = MEASUREMENT_BUDGET_BYTES
) -> Measurement:
    """Return the measurement, its body prefixes cut so its JSON line fits `budget_bytes`.

    A measurement already within the budget is returned unchanged.
    """
    if encoded_size(measurement) <= budget_bytes:
        return measurement
    http = list(measurement.http)
    bare = [
        tx
        if tx.response is None
        else msgspec.structs.replace(tx, response=_without_body(tx.response))
        for tx in http
    ]
    remaining = budget_bytes - encoded_size(msgspec.structs.replace(measurement, http=bare))
    kept = list(bare)
    for index in _priority(http):
        response = http[index].response
        if response is None or _cost(response) == 0:
            continue
        cut = _trimmed(response, max(0, remaining))
        remaining -= _cost(cut)
        kept[index] = msgspec.structs.replace(http[index], response=cut)
    return msgspec.structs.replace(measurement, http=kept)
