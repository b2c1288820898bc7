"""Pure tests of page-title extraction and redirect targets."""

from __future__ import annotations

import pytest

from probe.model.failures import Failure
from probe.model.observations import HttpResponse, HttpTransaction
from probe.net import RedirectTarget, extract_title, redirect_target

TITLES: list[tuple[str, bytes, str | None, str | None]] = [
    ("plain", b"<html><title>Hello</title></html>", None, "Hello"),
    ("attributes-and-case", b'<TITLE lang="en">Hello</TITLE>', None, "Hello"),
    ("whitespace-collapsed", b"<title>\n  Access \t denied \n</title>", None, "Access denied"),
    ("entities", b"<title>Fish &amp; Chips &lt;3</title>", None, "Fish & Chips <3"),
    ("utf-8-default", "<title>Доступ ограничен</title>".encode(), None, "Доступ ограничен"),
    (
        "charset-from-content-type",
        "<title>Доступ ограничен</title>".encode("windows-1251"),
        "text/html; charset=windows-1251",
        "Доступ ограничен",
    ),
    (
        "quoted-charset",
        "<title>Zugriff verweigert: Größe</title>".encode("latin-1"),
        'text/html; charset="ISO-8859-1"',
        "Zugriff verweigert: Größe",
    ),
    ("unknown-charset", b"<title>Hello</title>", "text/html; charset=x-nope", "Hello"),
    ("non-text-codec", b"<title>Hello</title>", "text/html; charset=rot13", "Hello"),
    ("bad-bytes-replaced", b"<title>caf\xe9</title>", None, "caf\ufffd"),
    ("empty-title", b"<title></title>", None, ""),
    ("no-title", b"<html><body>nothing</body></html>", None, None),
    ("unclosed-title", b"<title>cut off by the prefix limit", None, None),
    ("first-title-wins", b"<title>one</title><title>two</title>", None, "one"),
]


@pytest.mark.parametrize(
    ("prefix", "content_type", "expected"),
    [case[1:] for case in TITLES],
    ids=[case[0] for case in TITLES],
)
def test_title_is_extracted(prefix: bytes, content_type: str | None, expected: str | None) -> None:
    assert extract_title(prefix, content_type) == expected


def test_title_is_capped_at_512_characters() -> None:
    title = extract_title(b"<title>" + b"a" * 2000 + b"</title>", None)
    assert title == "a" * 512


def transaction(
    url: str,
    status: int,
    headers: list[tuple[str, str]] | None = None,
    *,
    has_response: bool = True,
) -> HttpTransaction:
    """Return a minimal transaction for `url` with a response of `status` and `headers`."""
    response = HttpResponse(
        status_code=status,
        http_version="HTTP/1.1",
        headers=headers or [],
        body_length=0,
        body_is_complete=True,
        body_sha256="0" * 64,
    )
    return HttpTransaction(
        id=1,
        url=url,
        address="192.0.2.1",
        port=443,
        t0_ms=0.0,
        t_ms=1.0,
        response=response if has_response else None,
    )


BASE = "https://www.example.test/a/b?q=1"
INVALID = RedirectTarget(failure=Failure.HTTP_INVALID_REDIRECT_LOCATION)
REDIRECTS: list[tuple[str, int, list[tuple[str, str]], RedirectTarget | None]] = [
    (
        "absolute-301",
        301,
        [("Location", "https://other.test/x")],
        RedirectTarget(url="https://other.test/x"),
    ),
    (
        "found-302",
        302,
        [("location", "http://other.test/")],
        RedirectTarget(url="http://other.test/"),
    ),
    ("see-other-303", 303, [("LOCATION", "/c")], RedirectTarget(url="https://www.example.test/c")),
    (
        "relative-307",
        307,
        [("Location", "c?d=2")],
        RedirectTarget(url="https://www.example.test/a/c?d=2"),
    ),
    (
        "scheme-relative-308",
        308,
        [("Location", "//blocked.test:8443/p")],
        RedirectTarget(url="https://blocked.test:8443/p"),
    ),
    (
        "unicode-host",
        302,
        [("Location", "http://яндекс.example.test/")],
        RedirectTarget(url="http://xn--d1acpjx3f.example.test/"),
    ),
    (
        "default-port-dropped",
        302,
        [("Location", "https://other.test:443/")],
        RedirectTarget(url="https://other.test/"),
    ),
    (
        "fragment-dropped",
        302,
        [("Location", "/c#top")],
        RedirectTarget(url="https://www.example.test/c"),
    ),
    ("no-host", 302, [("Location", "http:///path")], INVALID),
    ("empty-authority", 301, [("Location", "https://")], INVALID),
    ("not-http", 302, [("Location", "ftp://files.example.test/")], INVALID),
    ("bad-port", 302, [("Location", "http://other.test:99999/")], INVALID),
    (
        "first-location-wins",
        302,
        [("Location", "/one"), ("Location", "/two")],
        RedirectTarget(url="https://www.example.test/one"),
    ),
    ("redirect-without-location", 302, [], None),
    ("not-a-redirect-status", 200, [("Location", "/c")], None),
    ("not-modified-is-not-a-redirect", 304, [("Location", "/c")], None),
]


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [case[1:] for case in REDIRECTS],
    ids=[case[0] for case in REDIRECTS],
)
def test_redirect_target(
    status: int, headers: list[tuple[str, str]], expected: RedirectTarget | None
) -> None:
    assert redirect_target(transaction(BASE, status, headers)) == expected


def test_a_transaction_without_response_has_no_redirect() -> None:
    assert redirect_target(transaction(BASE, 302, has_response=False)) is None


def test_redirect_table_ids_are_unique() -> None:
    ids = [case[0] for case in REDIRECTS]
    assert len(ids) == len(set(ids))
