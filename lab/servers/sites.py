"""The lab's web content: sites, routes, route selection and response bodies.

Pure: no I/O. `lab.servers.web` asks this module what to answer and only sends it.
"""

from __future__ import annotations

import html
import ipaddress
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TypeVar

from lab.servers.names import normalise_name, wildcard_parents

CERTIFICATE_KINDS = ("valid", "expired", "wrong_host", "untrusted")
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
WILDCARD_ROUTE = "*"
# Deterministic filler for streamed bodies: 64 printable bytes repeated.
FILLER_PATTERN = b"crenel-lab filler: the quick brown fox jumps over the lazy dog.\n"
_HOP_BY_HOP = frozenset({"content-length", "transfer-encoding", "connection"})

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
T = TypeVar("T")


@dataclass(frozen=True)
class Route:
    """What one path answers: status, headers, a body (or `body_size` streamed bytes), latency.

    With `body_size`, `body` is sent first and deterministic filler makes up the rest. With
    `redirect_to`, the status is 302 unless `status` is 301, 303, 307 or 308.
    `latency_ms` is waited before the response headers are sent. With `reset`, the server
    answers nothing and resets the connection itself (a RST from its own stack).
    """

    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    body_size: int | None = None
    redirect_to: str | None = None
    latency_ms: float = 0.0
    reset: bool = False

    def __post_init__(self) -> None:
        if not 200 <= self.status <= 599:
            raise ValueError(f"status must be 200-599, got {self.status}")
        if self.body_size is not None and self.body_size < len(self.body):
            raise ValueError("body_size must be at least len(body)")
        if self.latency_ms < 0:
            raise ValueError("latency_ms must not be negative")

    @property
    def body_bytes(self) -> int:
        """Return the length of the response body."""
        return len(self.body) if self.body_size is None else self.body_size


@dataclass(frozen=True)
class ClientRoute:
    """Serve `route` on `path` to clients whose source address is in `network` (CIDR)."""

    network: str
    path: str
    route: Route
    _parsed: ipaddress.IPv4Network | ipaddress.IPv6Network = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        parsed = ipaddress.ip_network(self.network, strict=False)
        object.__setattr__(self, "network", str(parsed))
        object.__setattr__(self, "_parsed", parsed)

    def applies(self, path: str, client: IpAddress) -> bool:
        """Return True if this override covers `path` for `client`."""
        network = self._parsed
        return (
            client.version == network.version
            and client in network
            and _route_key([self.path], path) is not None
        )


@dataclass(frozen=True)
class Site:
    """One virtual host: its routes, per-client overrides and the certificate HTTPS presents.

    A host starting with "*." serves every name below it that has no site of its own.
    """

    host: str
    routes: Mapping[str, Route] = field(default_factory=dict)
    client_routes: tuple[ClientRoute, ...] = ()
    certificate: str = "valid"

    def __post_init__(self) -> None:
        if self.certificate not in CERTIFICATE_KINDS:
            raise ValueError(f"certificate must be one of {CERTIFICATE_KINDS}")
        object.__setattr__(self, "host", site_key(self.host))
        object.__setattr__(self, "routes", dict(self.routes))
        object.__setattr__(self, "client_routes", tuple(self.client_routes))


def site_key(host: str) -> str:
    """Return the lookup form of a host: an IP literal's canonical text or the IDNA name.

    Raises:
        ValueError: `host` is neither an IP literal nor a valid name.
    """
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return normalise_name(text)


def host_from_header(value: str) -> str | None:
    """Return the site key named by a Host header value (port stripped), or None if invalid."""
    text = value.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text, _, port = text.partition(":")
        if not port.isdigit():
            return None
    try:
        return site_key(text)
    except ValueError:
        return None


def find_site(sites: Mapping[str, T], key: str) -> T | None:
    """Return the entry for site key `key`: exact host first, then the closest "*." wildcard."""
    if key in sites:
        return sites[key]
    for wildcard in wildcard_parents(key):
        if wildcard in sites:
            return sites[wildcard]
    return None


def _route_key(keys: Iterable[str], path: str) -> str | None:
    """Return the key serving `path`: exact, longest "/"-ended prefix, then "*", else None."""
    keys = list(keys)
    if path in keys:
        return path
    prefixes = [k for k in keys if k.endswith("/") and path.startswith(k)]
    if prefixes:
        return max(prefixes, key=len)
    return WILDCARD_ROUTE if WILDCARD_ROUTE in keys else None


def select_route(site: Site, path: str, client: IpAddress) -> Route:
    """Return the route `site` serves `client` for `path` (no query string); 404 if none.

    The first matching client route wins over the site's routes.
    """
    for override in site.client_routes:
        if override.applies(path, client):
            return override.route
    key = _route_key(site.routes, path)
    return NOT_FOUND if key is None else site.routes[key]


def response_status(route: Route) -> int:
    """Return the status code `route` answers with."""
    if route.redirect_to is not None and route.status not in REDIRECT_STATUSES:
        return 302
    return route.status


def response_headers(route: Route) -> list[tuple[str, str]]:
    """Return the response headers for `route`, with Content-Length and a default type."""
    headers = [(k, v) for k, v in route.headers if k.lower() not in _HOP_BY_HOP]
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.insert(0, ("content-type", "text/html; charset=utf-8"))
    if route.redirect_to is not None and not any(k.lower() == "location" for k, _ in headers):
        headers.append(("location", route.redirect_to))
    headers.append(("content-length", str(route.body_bytes)))
    return headers


def filler_bytes(size: int, offset: int = 0) -> bytes:
    """Return `size` filler bytes as they appear from `offset` in a streamed body."""
    start = offset % len(FILLER_PATTERN)
    repeats = (start + size) // len(FILLER_PATTERN) + 1
    return (FILLER_PATTERN * repeats)[start : start + size]


def body_chunks(route: Route, chunk_bytes: int) -> Iterator[bytes]:
    """Yield `route`'s body in pieces of at most `chunk_bytes`, never holding all of it."""
    for start in range(0, len(route.body), chunk_bytes):
        yield route.body[start : start + chunk_bytes]
    sent = len(route.body)
    while sent < route.body_bytes:  # ends: `sent` grows by at least one byte per pass
        size = min(chunk_bytes, route.body_bytes - sent)
        yield filler_bytes(size, sent)
        sent += size


def html_page(title: str, text: str, size: int | None = None) -> bytes:
    """Return a small UTF-8 HTML page, padded to exactly `size` bytes with a comment if given.

    Raises:
        ValueError: `size` is smaller than the unpadded page.
    """
    head = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>\n"
        f"<body><h1>{html.escape(title)}</h1>\n<p>{html.escape(text)}</p>\n"
    ).encode()
    tail = b"</body></html>\n"
    page = head + tail
    if size is None or size == len(page):
        return page
    gap = size - len(page)
    if gap < 0:
        raise ValueError(f"page needs {len(page)} bytes, more than size={size}")
    comment = b"<!--  -->\n"
    if gap < len(comment):
        padding = b"\n" * gap  # too short for a comment: whitespace between tags
    else:
        padding = b"<!-- " + filler_bytes(gap - len(comment)).replace(b"-", b".") + b" -->\n"
    return head + padding + tail


def status_page(status: int) -> Route:
    """Return a route answering `status` with a small page naming it."""
    phrase = HTTPStatus(status).phrase
    return Route(status=status, body=html_page(f"{status} {phrase}", phrase))


NOT_FOUND = status_page(404)
