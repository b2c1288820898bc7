"""What the injector forges: DNS replies and TCP segments (pure)."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from lab.censor.forgery import (
    MAX_FORGED_BODY_BYTES,
    SEGMENT_BYTES,
    ForgedSegment,
    TcpSegment,
    answer_segments,
    forge_dns,
    forge_tcp,
    http_response,
    needs_tcp,
)
from lab.censor.rules import (
    CensorRule,
    DnsInject,
    ForgedTraits,
    HttpBlock,
    HttpInject,
    TlsBlock,
)

from .test_sni import client_hello

INJECT = DnsInject("news.example.test", answers=("127.0.0.2", "2001:db8::2"))


def query(name: str = "news.example.test", rdtype: str = "A") -> dns.message.Message:
    return dns.message.make_query(name, rdtype)


def test_a_forged_reply_keeps_the_id_and_question_and_answers_the_rule() -> None:
    q = query()
    forged = forge_dns(q.to_wire(), (INJECT,), query_ip_ttl=64)
    assert forged is not None
    reply = dns.message.from_wire(forged.payload)
    assert reply.id == q.id and reply.question == q.question
    assert reply.flags & dns.flags.QR and reply.flags & dns.flags.RD
    assert reply.rcode() == dns.rcode.NOERROR
    assert [(rr.rdtype, [r.to_text() for r in rr]) for rr in reply.answer] == [
        (dns.rdatatype.A, ["127.0.0.2"])
    ]
    assert forged.ip_ttls == (64,)


def test_an_aaaa_query_gets_the_rules_ipv6_answers() -> None:
    forged = forge_dns(query(rdtype="AAAA").to_wire(), (INJECT,), query_ip_ttl=64)
    assert forged is not None
    reply = dns.message.from_wire(forged.payload)
    assert [r.to_text() for rr in reply.answer for r in rr] == ["2001:db8::2"]


def test_a_query_type_without_rule_addresses_gets_an_empty_noerror() -> None:
    rule = DnsInject("news.example.test", answers=("127.0.0.2",))
    forged = forge_dns(query(rdtype="AAAA").to_wire(), (rule,), query_ip_ttl=64)
    assert forged is not None
    reply = dns.message.from_wire(forged.payload)
    assert reply.rcode() == dns.rcode.NOERROR and reply.answer == []


def test_an_error_rcode_rule_sends_that_rcode_without_answers() -> None:
    rule = DnsInject("news.example.test", answers=("127.0.0.2",), rcode="NXDOMAIN")
    forged = forge_dns(query().to_wire(), (rule,), query_ip_ttl=64)
    assert forged is not None
    reply = dns.message.from_wire(forged.payload)
    assert reply.rcode() == dns.rcode.NXDOMAIN and reply.answer == []


def test_the_question_is_echoed_with_its_mixed_case() -> None:
    q = query("NeWs.ExAmPlE.tEsT")
    forged = forge_dns(q.to_wire(), (INJECT,), query_ip_ttl=64)
    assert forged is not None
    assert b"\x04NeWs\x07ExAmPlE\x04tEsT\x00" in forged.payload


@pytest.mark.parametrize(
    ("payload", "rules"),
    [
        pytest.param(query("www.example.test").to_wire(), (INJECT,), id="other-name"),
        pytest.param(query("a.news.example.test").to_wire(), (INJECT,), id="subdomain"),
        pytest.param(
            query().to_wire(),
            (HttpBlock("reset", host="x.test"),),
            id="no-dns-rule",
        ),
        pytest.param(dns.message.make_response(query()).to_wire(), (INJECT,), id="a-response"),
        pytest.param(b"\x12\x34garbage", (INJECT,), id="garbage"),
        pytest.param(b"", (INJECT,), id="empty"),
    ],
)
def test_packets_no_rule_names_get_no_forgery(
    payload: bytes, rules: tuple[CensorRule, ...]
) -> None:
    assert forge_dns(payload, rules, query_ip_ttl=64) is None


@pytest.mark.parametrize(
    ("rule", "query_ttl", "ttls"),
    [
        pytest.param(DnsInject("news.example.test", ip_ttl=50), 64, (50,), id="fixed"),
        pytest.param(DnsInject("news.example.test", ip_ttl=50, copies=3), 64, (50, 49, 48), id="copies"),
        pytest.param(DnsInject("news.example.test", ttl_mode="copy"), 61, (61,), id="copy"),
        pytest.param(DnsInject("news.example.test", ttl_mode="copy", copies=2), 1, (1, 1), id="floor"),
        pytest.param(DnsInject("news.example.test", copies=0), 64, (64,), id="at-least-one"),
    ],
)  # fmt: skip
def test_forged_ip_ttls_follow_the_rule(
    rule: DnsInject, query_ttl: int, ttls: tuple[int, ...]
) -> None:
    forged = forge_dns(query().to_wire(), (rule,), query_ip_ttl=query_ttl)
    assert forged is not None and forged.ip_ttls == ttls


def test_an_injected_response_is_complete_http_that_closes() -> None:
    rule = HttpInject(status=451, body=b"<html>blocked</html>", host="news.example.test")
    assert http_response(rule) == (
        b"HTTP/1.1 451 Unavailable For Legal Reasons\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n"
        b"Content-Length: 20\r\n"
        b"Connection: close\r\n\r\n"
        b"<html>blocked</html>"
    )


def test_injected_headers_replace_the_defaults_but_never_the_framing() -> None:
    headers = (("Location", "http://warning.isp.test/"), ("content-type", "text/plain"),
               ("Content-Length", "999"), ("Connection", "keep-alive"))  # fmt: skip
    rule = HttpInject(status=302, headers=headers, host="news.example.test")
    assert http_response(rule) == (
        b"HTTP/1.1 302 Found\r\nLocation: http://warning.isp.test/\r\n"
        b"content-type: text/plain\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )


def test_an_oversized_injected_body_is_refused() -> None:
    rule = HttpInject(status=200, body=b"x" * (MAX_FORGED_BODY_BYTES + 1), host="a.test")
    with pytest.raises(ValueError, match="larger"):
        http_response(rule)


def test_answer_segments_continue_the_servers_sequence_and_ack_the_trigger() -> None:
    trigger = TcpSegment(seq=1000, ack=5000, payload=b"GET / HTTP/1.1\r\n\r\n")
    assert answer_segments(trigger, b"hello", "fin") == [
        ForgedSegment(flags="PA", seq=5000, ack=1018, payload=b"hello"),
        ForgedSegment(flags="FA", seq=5005, ack=1018),
    ]


def test_answer_segments_wrap_around_sequence_space_and_split_long_responses() -> None:
    trigger = TcpSegment(seq=2**32 - 2, ack=2**32 - 1, payload=b"abcd")
    response = b"x" * (SEGMENT_BYTES + 10)
    segments = answer_segments(trigger, response, "rst")
    assert [(s.flags, s.seq, s.ack, len(s.payload)) for s in segments] == [
        ("PA", 2**32 - 1, 2, SEGMENT_BYTES),
        ("PA", SEGMENT_BYTES - 1, 2, 10),
        ("RA", SEGMENT_BYTES + 9, 2, 0),
    ]


REQUEST = b"GET /a/forbidden-word/b HTTP/1.1\r\nhost: NEWS.example.test\r\nAccept: */*\r\n\r\n"


@pytest.mark.parametrize(
    ("rule", "payload", "flags"),
    [
        pytest.param(HttpInject(status=200, host="news.example.test"), REQUEST, ["PA", "FA"], id="inject-host"),
        pytest.param(HttpInject(status=200, path_keyword="forbidden-word", end="rst"), REQUEST, ["PA", "RA"], id="inject-path"),
        pytest.param(HttpInject(status=200, host="www.example.test"), REQUEST, [], id="inject-other-host"),
        pytest.param(HttpBlock("close", host="news.example.test"), REQUEST, ["FA"], id="http-close"),
        pytest.param(HttpBlock("reset", host="news.example.test"), REQUEST, [], id="http-reset-is-iptables"),
        pytest.param(TlsBlock("news.example.test", "close"), client_hello("news.example.test"), ["FA"], id="sni-close"),
        pytest.param(TlsBlock("news.example.test", "close"), client_hello("www.example.test"), [], id="sni-other"),
        pytest.param(TlsBlock("news.example.test", "close"), REQUEST, [], id="sni-rule-ignores-host"),
        pytest.param(TlsBlock("news.example.test", "drop"), client_hello("news.example.test"), [], id="sni-drop-is-iptables"),
        pytest.param(HttpBlock("close", host="news.example.test"), b"", [], id="no-payload"),
    ],
)  # fmt: skip
def test_tcp_forgeries_by_rule(rule: CensorRule, payload: bytes, flags: list[str]) -> None:
    segments = forge_tcp(TcpSegment(seq=1, ack=2, payload=payload), (rule,))
    assert [s.flags for s in segments] == flags
    assert all(s.seq >= 2 and s.ack == 1 + len(payload) for s in segments)


def test_the_first_matching_rule_acts() -> None:
    rules = (
        HttpBlock("close", host="news.example.test"),
        HttpInject(status=200, host="news.example.test"),
    )
    segments = forge_tcp(TcpSegment(seq=1, ack=2, payload=REQUEST), rules)
    assert [s.flags for s in segments] == ["FA"]


def test_dns_forgery_traits_follow_the_rule() -> None:
    plain = forge_dns(query().to_wire(), (DnsInject("news.example.test"),), query_ip_ttl=64)
    assert plain is not None and not plain.zero_ip_id and plain.udp_checksum
    rule = DnsInject("news.example.test", ip_id="zero", udp_checksum=False)
    odd = forge_dns(query().to_wire(), (rule,), query_ip_ttl=64)
    assert odd is not None and odd.zero_ip_id and not odd.udp_checksum


@pytest.mark.parametrize(
    ("traits", "trigger_ttl", "ttl", "zero_id"),
    [
        pytest.param(ForgedTraits(), 63, 64, False, id="fixed"),
        pytest.param(ForgedTraits(ip_ttl=33, ip_id="zero"), 63, 33, True, id="fixed-zero-id"),
        pytest.param(ForgedTraits(ttl_mode="copy"), 61, 61, False, id="copies-the-trigger"),
    ],
)
def test_a_forged_reset_carries_the_rules_traits(
    traits: ForgedTraits, trigger_ttl: int, ttl: int, zero_id: bool
) -> None:
    rule = HttpBlock("reset", host="news.example.test", forged=traits)
    trigger = TcpSegment(seq=10, ack=20, payload=REQUEST, ip_ttl=trigger_ttl)
    (segment,) = forge_tcp(trigger, (rule,))
    assert (segment.flags, segment.seq, segment.ack) == ("RA", 20, 10 + len(REQUEST))
    assert (segment.ip_ttl, segment.zero_ip_id) == (ttl, zero_id)


def test_a_forged_sni_reset_answers_only_its_name() -> None:
    rule = TlsBlock("news.example.test", "reset", forged=ForgedTraits())
    hit = forge_tcp(TcpSegment(seq=1, ack=2, payload=client_hello("news.example.test")), (rule,))
    miss = forge_tcp(TcpSegment(seq=1, ack=2, payload=client_hello("www.example.test")), (rule,))
    assert [s.flags for s in hit] == ["RA"] and miss == []
    assert needs_tcp((rule,)) and not needs_tcp((TlsBlock("news.example.test", "reset"),))
