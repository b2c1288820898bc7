"""Parse query parameters into filters, cursors and limits; every error names the parameter.

Pure: a mapping of strings in, typed values out. Unknown parameters are refused so a typo
(`contry=IR`) is an error instead of a silently unfiltered answer.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Collection, Mapping
from datetime import UTC, date, datetime, time, timedelta

import msgspec

from collector.core.errors import InvalidField
from collector.storage import Axis, Cursor, Filters
from probe.model import Method, Verdict

FILTER_PARAMS = (
    "country",
    "asn",
    "domain",
    "input",
    "category",
    "verdict",
    "method",
    "since",
    "until",
    "software",
    "confirmed",
    "geo_mismatch",
    "origin",
)
_CC = re.compile(r"^[A-Z]{2}$")
_ASN = re.compile(r"^(?:AS)?([0-9]{1,10})$")
_CATEGORY = re.compile(r"^[A-Z0-9_]{1,16}$")
_UID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
EARLIEST_DAY = date(1970, 1, 1)
"""The first day a time parameter may name."""
LATEST_DAY = date(9998, 12, 31)
"""The last day a time parameter may name: a day and any time zone can be added without overflow."""
VERDICTS = frozenset([v.value for v in Verdict] + ["pending"])
METHODS = frozenset(m.value for m in Method)
ORIGINS = ("crenel", "ooni")
"""Who made a measurement: Crenel's probes, or a platform it was imported from."""


def check_known(params: Mapping[str, str], allowed: Collection[str]) -> None:
    """Refuse parameters a route does not take.

    Raises:
        InvalidField: an unknown parameter (named in `field`).
    """
    for name in params:
        if name not in allowed:
            raise InvalidField(
                f"unknown parameter {name!r}; this route takes: {', '.join(sorted(allowed))}",
                field=name,
            )


def _items(params: Mapping[str, str], name: str) -> tuple[str, ...]:
    value = params.get(name)
    if value is None:
        return ()
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _matching(
    params: Mapping[str, str], name: str, pattern: re.Pattern[str], upper: bool = False
) -> tuple[str, ...]:
    out = []
    for item in _items(params, name):
        value = item.upper() if upper else item
        if not pattern.match(value):
            raise InvalidField(f"{name}: {item!r} is not valid", field=name)
        out.append(value)
    return tuple(out)


def parse_asn(text: str, name: str = "asn") -> int:
    """Return the number of `AS123` or `123`.

    Raises:
        InvalidField: not an AS number below 2^32.
    """
    match = _ASN.match(text.strip().upper())
    if not match or int(match.group(1)) > 2**32 - 1:
        raise InvalidField(f"{name}: {text!r} is not an AS number (AS123)", field=name)
    return int(match.group(1))


def check_day(day: date, name: str) -> date:
    """Return `day` if it lies between `EARLIEST_DAY` and `LATEST_DAY`.

    Raises:
        InvalidField: outside (such dates overflow once a day or a time zone is added).
    """
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise InvalidField(
            f"{name}: {day.isoformat()} is out of range; use a date from "
            f"{EARLIEST_DAY.isoformat()} to {LATEST_DAY.isoformat()}",
            field=name,
        )
    return day


def parse_time(text: str, name: str, *, end_of_day: bool = False) -> datetime:
    """Return a UTC time from `YYYY-MM-DD` or RFC 3339; a bare date ends the day if asked.

    Raises:
        InvalidField: neither form, or a date out of range (see `check_day`).
    """
    value = text.strip()
    try:
        if len(value) == 10:
            day = check_day(date.fromisoformat(value), name)
            moment = datetime.combine(day, time(0), tzinfo=UTC)
            return moment + timedelta(days=1) if end_of_day else moment
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidField(
            f"{name}: {text!r} is not a date (YYYY-MM-DD) or RFC 3339 time", field=name
        ) from exc
    check_day(moment.date(), name)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_bool(text: str | None, name: str) -> bool | None:
    """Return True / False for true|false|1|0|yes|no, None when absent.

    Raises:
        InvalidField: another value.
    """
    if text is None:
        return None
    value = text.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise InvalidField(f"{name} must be true or false", field=name)


def parse_int(
    text: str | None, name: str, *, default: int, minimum: int, maximum: int | None = None
) -> int:
    """Return an integer parameter within bounds.

    Raises:
        InvalidField: not an integer or out of bounds.
    """
    if text is None:
        return default
    value_text = text.strip()
    # ASCII digits only: str.isdigit() accepts "²", which int() refuses; the length bound keeps
    # int() away from its 4300-digit limit.
    if not (value_text.isascii() and value_text.isdigit() and len(value_text) <= 18):
        raise InvalidField(f"{name} must be a whole number", field=name)
    value = int(value_text)
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise InvalidField(f"{name} must be {bound}", field=name)
    return value


def parse_origin(text: str | None) -> str | None:
    """Return the origin a query is limited to, or None (all origins) when absent.

    Raises:
        InvalidField: not one of `ORIGINS`.
    """
    if not text:
        return None
    origin = text.strip().lower()
    if origin not in ORIGINS:
        raise InvalidField(f"origin: {text!r} is not one of {', '.join(ORIGINS)}", field="origin")
    return origin


def parse_filters(params: Mapping[str, str]) -> Filters:
    """Return the filters named by the query parameters.

    Raises:
        InvalidField: a parameter has a bad value (named in `field`).
    """
    verdicts = tuple(v.lower() for v in _items(params, "verdict"))
    for verdict in verdicts:
        if verdict not in VERDICTS:
            raise InvalidField(
                f"verdict: {verdict!r} is not one of {', '.join(sorted(VERDICTS))}",
                field="verdict",
            )
    methods = _items(params, "method")
    for method in methods:
        if method not in METHODS:
            raise InvalidField(f"method: {method!r} is not a blocking method", field="method")
    software = params.get("software")
    software_name = software_version = None
    if software:
        software_name, _, version = software.partition("/")
        software_version = version or None
    since = parse_time(params["since"], "since") if params.get("since") else None
    until = parse_time(params["until"], "until", end_of_day=True) if params.get("until") else None
    if since is not None and until is not None and until <= since:
        raise InvalidField("until must be after since", field="until")
    return Filters(
        country=_matching(params, "country", _CC, upper=True),
        asn=tuple(parse_asn(a) for a in _items(params, "asn")),
        domain=tuple(d.lower().rstrip(".") for d in _items(params, "domain")),
        input=params.get("input") or None,
        category=_matching(params, "category", _CATEGORY, upper=True),
        verdict=verdicts,
        method=methods,
        since=since,
        until=until,
        software_name=software_name or None,
        software_version=software_version,
        confirmed=parse_bool(params.get("confirmed"), "confirmed"),
        geo_mismatch=parse_bool(params.get("geo_mismatch"), "geo_mismatch"),
        origin=parse_origin(params.get("origin")),
    )


def parse_axis(text: str | None, name: str, *, required: bool) -> Axis | None:
    """Return an aggregation axis.

    Raises:
        InvalidField: missing when required, or not an axis.
    """
    if not text:
        if required:
            raise InvalidField(f"{name} is required", field=name)
        return None
    try:
        return Axis(text.strip().lower())
    except ValueError as exc:
        choices = ", ".join(a.value for a in Axis)
        raise InvalidField(f"{name}: {text!r} is not one of {choices}", field=name) from exc


def encode_cursor(cursor: Cursor) -> str:
    """Return the opaque page token for a position."""
    payload = msgspec.json.encode([cursor.start_time.isoformat(), cursor.uid])
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_cursor(token: str | None) -> Cursor | None:
    """Return the position a page token stands for.

    Raises:
        InvalidField: not a token this API made.
    """
    if not token:
        return None
    try:
        payload = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        start, uid = msgspec.json.decode(payload, type=tuple[str, str])
        moment = datetime.fromisoformat(start)
    except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise InvalidField("cursor is not a valid page token", field="cursor") from exc
    if not _UID.match(uid):
        raise InvalidField("cursor is not a valid page token", field="cursor")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return Cursor(start_time=moment, uid=uid)
