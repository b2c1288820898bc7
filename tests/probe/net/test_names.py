"""Pure tests of hostname encoding and URL splitting."""

from __future__ import annotations

import idna
import pytest

from probe.net import WebTarget, encode_hostname, parse_web_url
from probe.net.names import endpoint_text, hostname_for_record

HOSTNAMES = [
    ("ascii-lower-cased", "WWW.Example.TEST", "www.example.test"),
    ("underscore-kept", "_dmarc.example.test", "_dmarc.example.test"),
    ("cyrillic", "яндекс.example.test", "xn--d1acpjx3f.example.test"),
    ("uts46-case-mapping", "ЯНДЕКС.Example.test", "xn--d1acpjx3f.example.test"),
    ("ideographic-full-stop", "例え。テスト", "xn--r8jz45g.xn--zckzah"),
    ("german-sharp-s-not-transitional", "straße.de", "xn--strae-oqa.de"),
    ("ip-literal", "2001:DB8::1", "2001:db8::1"),
]


@pytest.mark.parametrize(
    ("name", "expected"), [c[1:] for c in HOSTNAMES], ids=[c[0] for c in HOSTNAMES]
)
def test_hostname_is_encoded(name: str, expected: str) -> None:
    assert encode_hostname(name) == expected


def test_invalid_unicode_hostname_raises_and_is_recorded_unchanged() -> None:
    name = "\u200d.example.test"
    with pytest.raises(idna.IDNAError):
        encode_hostname(name)
    assert hostname_for_record(name) == name


URLS = [
    (
        "default-port",
        "https://WWW.Example.test/a?b=1#frag",
        WebTarget(
            url="https://www.example.test/a?b=1",
            scheme="https",
            host="www.example.test",
            port=443,
            host_header="www.example.test",
        ),
    ),
    (
        "explicit-port",
        "http://www.example.test:8080",
        WebTarget(
            url="http://www.example.test:8080/",
            scheme="http",
            host="www.example.test",
            port=8080,
            host_header="www.example.test:8080",
        ),
    ),
    (
        "explicit-default-port",
        "http://www.example.test:80/",
        WebTarget(
            url="http://www.example.test/",
            scheme="http",
            host="www.example.test",
            port=80,
            host_header="www.example.test",
        ),
    ),
    (
        "ipv6-literal",
        "http://[2001:db8::1]:8080/x",
        WebTarget(
            url="http://[2001:db8::1]:8080/x",
            scheme="http",
            host="2001:db8::1",
            port=8080,
            host_header="[2001:db8::1]:8080",
        ),
    ),
    (
        "credentials-dropped",
        "https://user:secret@www.example.test/",
        WebTarget(
            url="https://www.example.test/",
            scheme="https",
            host="www.example.test",
            port=443,
            host_header="www.example.test",
        ),
    ),
    (
        "unicode-host-and-path",
        "https://яндекс.example.test/путь",
        WebTarget(
            url="https://xn--d1acpjx3f.example.test/%D0%BF%D1%83%D1%82%D1%8C",
            scheme="https",
            host="xn--d1acpjx3f.example.test",
            port=443,
            host_header="xn--d1acpjx3f.example.test",
        ),
    ),
]


@pytest.mark.parametrize(("url", "expected"), [c[1:] for c in URLS], ids=[c[0] for c in URLS])
def test_url_is_split_for_a_request(url: str, expected: WebTarget) -> None:
    assert parse_web_url(url) == expected


@pytest.mark.parametrize(
    "url",
    ["ftp://www.example.test/", "www.example.test/", "http:///path", "http://x.test:99999/"],
    ids=["not-http", "no-scheme", "no-host", "port-out-of-range"],
)
def test_unusable_url_is_rejected(url: str) -> None:
    with pytest.raises(ValueError):
        parse_web_url(url)


def test_pinned_url_puts_the_address_in_brackets_when_ipv6() -> None:
    target = parse_web_url("https://www.example.test:8443/p?q")
    assert target.pinned_url("127.0.0.1") == "https://127.0.0.1:8443/p?q"
    assert target.pinned_url("::1") == "https://[::1]:8443/p?q"
    assert not target.is_host_ip
    assert parse_web_url("https://192.0.2.1/").is_host_ip


def test_endpoint_text_brackets_ipv6() -> None:
    assert endpoint_text("192.0.2.1", 53) == "192.0.2.1:53"
    assert endpoint_text("2001:db8::1", 53) == "[2001:db8::1]:53"
