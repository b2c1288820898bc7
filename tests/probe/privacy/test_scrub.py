"""Scrubbing the probe's own addresses."""

from __future__ import annotations

import base64

import msgspec

from probe.model import HttpResponse
from probe.privacy import SCRUBBED, own_addresses, scrub_measurement
from tests.probe.analysis.build import World, healthy, page_response


def test_every_occurrence_is_scrubbed_including_inside_base64_bodies() -> None:
    w = healthy()
    binary = HttpResponse(
        status_code=200,
        http_version="HTTP/1.1",
        headers=[("X-Client", "203.0.113.7")],
        body_prefix_base64=base64.b64encode(b"\xff\xfeyou are 203.0.113.7").decode(),
        body_length=20,
        body_is_complete=True,
        body_sha256="0" * 64,
    )
    w.fetch("198.51.100.10", binary, url="http://news.example.test/?ip=203.0.113.7")
    scrubbed = scrub_measurement(w.build(), ["203.0.113.7", "2001:db8::7"])
    text = msgspec.json.encode(scrubbed).decode()
    assert "203.0.113.7" not in text
    assert SCRUBBED in text
    body = scrubbed.http[-1].response
    assert body is not None and body.body_prefix_base64 is not None
    assert b"203.0.113.7" not in base64.b64decode(body.body_prefix_base64)


def test_similar_addresses_and_loopback_are_left_alone() -> None:
    w = World()
    w.fetch(
        "198.51.100.10",
        page_response(b"<p>203.0.113.70 and 1203.0.113.7 and 127.0.0.1</p>", title=None),
    )
    scrubbed = scrub_measurement(w.build(), ["203.0.113.7", "127.0.0.1"])
    prefix = scrubbed.http[0].response.body_prefix  # type: ignore[union-attr]
    assert prefix == "<p>203.0.113.70 and 1203.0.113.7 and 127.0.0.1</p>"


def test_ipv6_in_any_spelling_is_scrubbed() -> None:
    w = World()
    w.fetch("198.51.100.10", page_response(b"me: 2001:DB8:0:0:0:0:0:7 / 2001:db8::7", title=None))
    scrubbed = scrub_measurement(w.build(), ["2001:db8::7"])
    assert scrubbed.http[0].response.body_prefix == f"me: {SCRUBBED} / {SCRUBBED}"  # type: ignore[union-attr]


def test_own_addresses_exclude_loopback() -> None:
    assert not any(a.startswith("127.") or a == "::1" for a in own_addresses())


def test_a_scrubbed_body_gets_the_digest_of_what_is_kept() -> None:
    import hashlib

    w = World()
    w.fetch("198.51.100.10", page_response(b"<p>you are 192-0-2-2.dyn.example</p>", title=None))
    scrubbed = scrub_measurement(w.build(), ["192.0.2.2"])
    response = scrubbed.http[0].response
    assert response is not None and response.body_prefix is not None
    assert response.body_prefix == "<p>you are [scrubbed].dyn.example</p>"
    assert response.body_is_scrubbed
    assert response.body_sha256 == hashlib.sha256(response.body_prefix.encode()).hexdigest()


def test_identifiers_the_probe_made_are_never_scrubbed() -> None:
    w = healthy()
    m = w.build()
    # 192.0.2.2 is 3221225986 as an integer: an AS with that number must survive.
    network = msgspec.structs.replace(m.probe, asn="AS3221225986")
    scrubbed = scrub_measurement(msgspec.structs.replace(m, probe=network), ["192.0.2.2"])
    assert scrubbed.probe.asn == "AS3221225986"
