"""The byte patterns shared by the packet filter and the injector."""

from __future__ import annotations

import pytest

from lab.censor.patterns import (
    MAX_PATTERN_BYTES,
    contains,
    dns_name_pattern,
    hex_string,
    host_pattern,
    http_pattern,
    path_pattern,
    sni_pattern,
)


@pytest.mark.parametrize(
    ("name", "wire"),
    [
        pytest.param("news.example.test", b"\x04news\x07example\x04test\x00", id="plain"),
        pytest.param("News.Example.TEST.", b"\x04news\x07example\x04test\x00", id="case-and-dot"),
        pytest.param("яндекс.test", b"\rxn--d1acpjx3f\x04test\x00", id="unicode"),
    ],
)
def test_dns_name_pattern_is_the_wire_encoding(name: str, wire: bytes) -> None:
    assert dns_name_pattern(name) == wire


def test_sni_pattern_carries_the_name_type_and_length() -> None:
    assert sni_pattern("news.example.test") == b"\x00\x00\x11news.example.test"


def test_host_and_path_patterns() -> None:
    assert host_pattern("News.Example.Test") == b"Host: news.example.test"
    assert path_pattern("forbidden-word") == b"forbidden-word"
    assert http_pattern("news.example.test", None) == b"Host: news.example.test"
    assert http_pattern(None, "forbidden-word") == b"forbidden-word"


@pytest.mark.parametrize(
    ("host", "keyword"),
    [pytest.param(None, None, id="neither"), pytest.param("a.test", "x", id="both")],
)
def test_http_pattern_needs_exactly_one_of_host_and_keyword(
    host: str | None, keyword: str | None
) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        http_pattern(host, keyword)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: path_pattern("x" * (MAX_PATTERN_BYTES + 1)), id="long-keyword"),
        pytest.param(lambda: path_pattern(""), id="empty-keyword"),
        pytest.param(lambda: host_pattern("a..test"), id="empty-label"),
    ],
)
def test_patterns_the_kernel_cannot_match_are_refused(make: object) -> None:
    with pytest.raises(ValueError):
        make()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        pytest.param(
            b"\x04news\x07example\x04test\x00", "|04|news|07|example|04|test|00|", id="dns"
        ),
        pytest.param(b"Host: a.test", "Host:|20|a.test", id="space"),
        pytest.param(b"\x00\x00\x11ab", "|000011|ab", id="hex-run"),
        pytest.param(b'a"|\\b', "a|227c5c|b", id="specials"),
    ],
)
def test_hex_string_keeps_plain_text_and_hexes_the_rest(pattern: bytes, text: str) -> None:
    assert hex_string(pattern) == text


def test_contains_ignores_ascii_case_like_the_kernel_match() -> None:
    assert contains(b"GET / HTTP/1.1\r\nhost: NEWS.example.test\r\n", b"Host: news.example.test")
    assert not contains(b"GET / HTTP/1.1\r\nHost: www.example.test\r\n", b"Host: news.example.test")
