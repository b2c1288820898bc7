"""Pure tests of sites: route selection, Host parsing, response heads and bodies."""

from __future__ import annotations

import hashlib
import ipaddress

import pytest

from lab.servers.sites import (
    FILLER_PATTERN,
    NOT_FOUND,
    ClientRoute,
    Route,
    Site,
    body_chunks,
    filler_bytes,
    host_from_header,
    html_page,
    response_headers,
    response_status,
    select_route,
)

HOME = Route(body=b"home")
ABOUT = Route(body=b"about")
DOCS = Route(body=b"docs")
DEEP_DOCS = Route(body=b"deep docs")
CATCH_ALL = Route(body=b"catch all")
CHALLENGE = Route(status=403, body=b"challenge")
LOCAL = ipaddress.ip_address("127.0.0.1")
OTHER = ipaddress.ip_address("192.0.2.7")

SITE = Site(
    "Example.TEST",
    {"/index": HOME, "/about": ABOUT, "/docs/": DOCS, "/docs/deep/": DEEP_DOCS, "*": CATCH_ALL},
    client_routes=(ClientRoute("192.0.2.0/24", "/index", CHALLENGE),),
)
ROOT_PREFIX = Site("root.test", {"/": HOME, "/about": ABOUT, "*": CATCH_ALL})
NO_CATCH_ALL = Site("bare.test", {"/index": HOME})

ROUTE_CASES = [
    ("exact-path", SITE, "/about", LOCAL, ABOUT),
    ("prefix", SITE, "/docs/intro", LOCAL, DOCS),
    ("prefix-itself", SITE, "/docs/", LOCAL, DOCS),
    ("longest-prefix", SITE, "/docs/deep/x", LOCAL, DEEP_DOCS),
    ("catch-all", SITE, "/about/more", LOCAL, CATCH_ALL),
    ("exact-beats-root-prefix", ROOT_PREFIX, "/about", LOCAL, ABOUT),
    ("root-prefix-beats-catch-all", ROOT_PREFIX, "/anything", LOCAL, HOME),
    ("no-match-is-404", NO_CATCH_ALL, "/", LOCAL, NOT_FOUND),
    ("client-route-applies", SITE, "/index", OTHER, CHALLENGE),
    ("client-route-other-client", SITE, "/index", LOCAL, HOME),
    ("client-route-other-path", SITE, "/about", OTHER, ABOUT),
]


@pytest.mark.parametrize(
    ("site", "path", "client", "expected"),
    [c[1:] for c in ROUTE_CASES],
    ids=[c[0] for c in ROUTE_CASES],
)
def test_route_selection_follows_exact_prefix_wildcard_order(
    site: Site, path: str, client: ipaddress.IPv4Address, expected: Route
) -> None:
    assert select_route(site, path, client) is expected


def test_client_route_with_a_prefix_covers_paths_below() -> None:
    site = Site("a.test", {"*": HOME}, (ClientRoute("127.0.0.0/8", "/app/", CHALLENGE),))
    assert select_route(site, "/app/login", LOCAL) is CHALLENGE
    assert select_route(site, "/other", LOCAL) is HOME
    assert select_route(site, "/app/login", ipaddress.ip_address("::1")) is HOME


def test_site_hosts_are_normalised() -> None:
    assert Site("Bücher.Test.", {}).host == "xn--bcher-kva.test"
    assert Site("[2001:DB8::1]", {}).host == "2001:db8::1"


def test_unknown_certificate_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="certificate"):
        Site("a.test", {}, certificate="self_signed")


HOST_CASES = [
    ("name", "Example.Test", "example.test"),
    ("name-port", "example.test:8080", "example.test"),
    ("unicode", "bücher.test", "xn--bcher-kva.test"),
    ("ipv4-port", "192.0.2.1:80", "192.0.2.1"),
    ("ipv6-port", "[::1]:8443", "::1"),
    ("ipv6", "[::1]", "::1"),
    ("bad-port", "example.test:http", None),
    ("empty-label", "a..test", None),
]


@pytest.mark.parametrize(
    ("value", "expected"), [c[1:] for c in HOST_CASES], ids=[c[0] for c in HOST_CASES]
)
def test_host_header_names_a_site(value: str, expected: str | None) -> None:
    assert host_from_header(value) == expected


@pytest.mark.parametrize(
    ("status", "expected"), [(200, 302), (302, 302), (301, 301), (307, 307), (308, 308)]
)
def test_redirects_use_302_unless_another_redirect_status_is_set(
    status: int, expected: int
) -> None:
    assert response_status(Route(status=status, redirect_to="/next")) == expected


def test_response_headers_add_type_location_and_length() -> None:
    route = Route(
        headers=(("Content-Length", "1"), ("X-Lab", "yes")),
        body=b"abc",
        redirect_to="https://example.test/",
    )
    assert response_headers(route) == [
        ("content-type", "text/html; charset=utf-8"),
        ("X-Lab", "yes"),
        ("location", "https://example.test/"),
        ("content-length", "3"),
    ]


def test_streamed_body_is_prefix_then_deterministic_filler_in_bounded_chunks() -> None:
    route = Route(body=b"<html>", body_size=1000)
    chunks = list(body_chunks(route, 128))
    assert all(len(c) <= 128 for c in chunks)
    body = b"".join(chunks)
    assert len(body) == 1000
    assert body[:6] == b"<html>"
    assert body[6:] == filler_bytes(994, offset=6)
    assert body[64:128] == FILLER_PATTERN
    assert hashlib.sha256(body).digest() == hashlib.sha256(b"".join(body_chunks(route, 7))).digest()


def test_body_size_below_body_length_is_refused() -> None:
    with pytest.raises(ValueError, match="body_size"):
        Route(body=b"abc", body_size=2)


@pytest.mark.parametrize("size", [None, 200, 210, 1000, 100_000])
def test_html_page_is_padded_to_the_exact_size(size: int | None) -> None:
    page = html_page("Blocked <here>", "This & that", size)
    assert b"<title>Blocked &lt;here&gt;</title>" in page
    assert page.endswith(b"</body></html>\n")
    if size is not None:
        assert len(page) == size
        assert b"--" not in page.split(b"<!--", 1)[-1].rsplit(b"-->", 1)[0]


def test_html_page_smaller_than_its_content_is_refused() -> None:
    with pytest.raises(ValueError, match="size"):
        html_page("Title", "text", size=10)
