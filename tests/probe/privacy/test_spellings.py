"""The scrubber catches every spelling of an address and leaves other addresses alone."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from probe.privacy import SCRUBBED, scrub_text
from tests.probe.privacy.spelling_forms import ipv4_spellings, ipv6_spellings

ipv4s = st.builds(ipaddress.IPv4Address, st.integers(min_value=1 << 24, max_value=(1 << 32) - 1))
ipv6s = st.builds(ipaddress.IPv6Address, st.integers(min_value=2, max_value=(1 << 128) - 1))


def _spellings(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[str]:
    if isinstance(ip, ipaddress.IPv4Address):
        return ipv4_spellings(ip)
    return ipv6_spellings(ip)


def _left(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, text: str) -> list[str]:
    return [form for form in _spellings(ip) if form in text]


@settings(deadline=None, max_examples=40)
@given(ip=st.one_of(ipv4s, ipv6s))
def test_no_spelling_survives_scrubbing(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    assume(not ip.is_loopback)
    page = "\n".join(f"<p>you are {form} ok</p>" for form in _spellings(ip))
    scrubbed = scrub_text(page, [str(ip)])
    assert _left(ip, scrubbed) == []
    assert scrubbed.count(SCRUBBED) >= len(_spellings(ip))


@settings(deadline=None, max_examples=40)
@given(ip=ipv4s)
def test_mapped_ipv6_address_scrubs_its_ipv4_spellings(ip: ipaddress.IPv4Address) -> None:
    assume(not ip.is_loopback)  # loopback addresses are never scrubbed, in any spelling
    page = " ".join(ipv4_spellings(ip))
    assert _left(ip, scrub_text(page, [f"::ffff:{ip}"])) == []


@settings(deadline=None, max_examples=40)
@given(ip=ipv4s, other=ipv4s)
def test_a_different_ipv4_address_stays(
    ip: ipaddress.IPv4Address, other: ipaddress.IPv4Address
) -> None:
    reversed_ip = ipaddress.IPv4Address(bytes(reversed(ip.packed)))
    assume(other not in (ip, reversed_ip))
    text = f"server {other} answered; length {int(other) % 100000}"
    assert scrub_text(text, [str(ip)]) == text


@settings(deadline=None, max_examples=40)
@given(ip=ipv6s, other=ipv6s)
def test_a_different_ipv6_address_stays(
    ip: ipaddress.IPv6Address, other: ipaddress.IPv6Address
) -> None:
    assume(other != ip and ip.ipv4_mapped is None)
    text = f"server [{other}] and {other.exploded}"
    assert scrub_text(text, [str(ip)]) == text


@pytest.mark.parametrize(
    "text",
    ["192.0.2.20", "1192.0.2.2", "192.0.2.3", "2.2.0.192", "32212259860", "content-length: 2"],
)
def test_near_misses_are_left_alone(text: str) -> None:
    assert scrub_text(text, ["192.0.2.2"]) == text


def test_utf16_text_is_searched_without_its_nuls() -> None:
    page = "your address: 192.0.2.2".encode("utf-16-le").decode("latin-1")
    scrubbed = scrub_text(page, ["192.0.2.2"])
    assert "192.0.2.2" not in scrubbed.replace("\x00", "")
    assert SCRUBBED in scrubbed
