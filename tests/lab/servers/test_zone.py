"""Pure tests of the zone model and `plan_replies` (no sockets)."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lab.servers import DnsRecord, Injection, NameBehaviour, PlannedReply, Zone, plan_replies

ZONE = Zone(
    records=(
        DnsRecord("www.example.test", "A", "192.0.2.10"),
        DnsRecord("WWW.Example.Test.", "AAAA", "2001:db8:0::10"),
        DnsRecord("alias.example.test", "CNAME", "www.example.test"),
        DnsRecord("chain.example.test", "cname", "alias.example.test."),
        DnsRecord("dangling.example.test", "CNAME", "gone.example.test"),
        DnsRecord("*.bench.test", "A", "192.0.2.20"),
        DnsRecord("exact.bench.test", "A", "192.0.2.21"),
        DnsRecord("bücher.example.test", "A", "192.0.2.30"),
        DnsRecord("loop1.test", "CNAME", "loop2.test"),
        DnsRecord("loop2.test", "CNAME", "loop1.test"),
        DnsRecord("injected.example.test", "A", "192.0.2.40"),
        DnsRecord("injected.example.test", "AAAA", "2001:db8::40"),
    ),
    behaviours={
        "servfail.example.test": NameBehaviour(rcode="SERVFAIL"),
        "refused.example.test": NameBehaviour(rcode="refused"),
        "WWW.EXAMPLE.TEST": NameBehaviour(delay_ms=25),
        "empty.bench.test": NameBehaviour(empty=True),
        "dropped.bench.test": NameBehaviour(drop=True),
        "*.slow.bench.test": NameBehaviour(delay_ms=100),
        "injected.example.test": NameBehaviour(
            delay_ms=100,
            inject=(
                Injection(("198.51.100.250", "2001:db8::250"), delay_ms=5),
                Injection((), delay_ms=10, rcode="NXDOMAIN"),
            ),
        ),
        "blackholed.example.test": NameBehaviour(
            drop=True, inject=(Injection(("198.51.100.251",), delay_ms=1),)
        ),
    },
    default_delay_ms=10,
)


def query_wire(name: str, rtype: str = "A", *, txid: int = 4242, **kwargs: object) -> bytes:
    query = dns.message.make_query(name, rtype, **kwargs)  # type: ignore[arg-type]
    query.id = txid
    return query.to_wire()


def summary(wire: bytes) -> tuple[str, list[str]]:
    message = dns.message.from_wire(wire)
    answers = sorted(
        f"{rrset.name.to_text(omit_final_dot=True)} {dns.rdatatype.to_text(rrset.rdtype)} {rd}"
        for rrset in message.answer
        for rd in rrset
    )
    return dns.rcode.to_text(message.rcode()), answers


ANSWER_CASES = [
    ("a-record", "www.example.test", "A", "NOERROR", ["www.example.test A 192.0.2.10"]),
    ("aaaa-record", "www.example.test", "AAAA", "NOERROR", ["www.example.test AAAA 2001:db8::10"]),
    (
        "cname-followed",
        "alias.example.test",
        "A",
        "NOERROR",
        ["alias.example.test CNAME www.example.test.", "www.example.test A 192.0.2.10"],
    ),
    (
        "cname-chain",
        "chain.example.test",
        "AAAA",
        "NOERROR",
        [
            "alias.example.test CNAME www.example.test.",
            "chain.example.test CNAME alias.example.test.",
            "www.example.test AAAA 2001:db8::10",
        ],
    ),
    (
        "cname-query",
        "alias.example.test",
        "CNAME",
        "NOERROR",
        ["alias.example.test CNAME www.example.test."],
    ),
    (
        "cname-out-of-zone",
        "dangling.example.test",
        "A",
        "NXDOMAIN",
        ["dangling.example.test CNAME gone.example.test."],
    ),
    (
        "cname-loop-ends",
        "loop1.test",
        "A",
        "NOERROR",
        ["loop1.test CNAME loop2.test.", "loop2.test CNAME loop1.test."],
    ),
    ("wildcard", "anything.bench.test", "A", "NOERROR", ["anything.bench.test A 192.0.2.20"]),
    ("wildcard-deep", "a.b.c.bench.test", "A", "NOERROR", ["a.b.c.bench.test A 192.0.2.20"]),
    ("exact-beats-wildcard", "exact.bench.test", "A", "NOERROR", ["exact.bench.test A 192.0.2.21"]),
    ("wildcard-not-apex", "bench.test", "A", "NXDOMAIN", []),
    ("wildcard-nodata-other-type", "x.bench.test", "AAAA", "NOERROR", []),
    (
        "idna-name",
        "xn--bcher-kva.example.test",
        "A",
        "NOERROR",
        ["xn--bcher-kva.example.test A 192.0.2.30"],
    ),
    ("unknown-name", "nope.example.test", "A", "NXDOMAIN", []),
    ("nodata-mx", "www.example.test", "MX", "NOERROR", []),
    ("forced-servfail", "servfail.example.test", "A", "SERVFAIL", []),
    ("forced-refused", "refused.example.test", "A", "REFUSED", []),
    ("empty", "empty.bench.test", "A", "NOERROR", []),
]


@pytest.mark.parametrize(
    ("name", "rtype", "rcode", "answers"),
    [case[1:] for case in ANSWER_CASES],
    ids=[case[0] for case in ANSWER_CASES],
)
def test_real_reply_answers_from_the_zone(
    name: str, rtype: str, rcode: str, answers: list[str]
) -> None:
    replies = plan_replies(query_wire(name, rtype), ZONE)
    assert len(replies) == 1
    assert not replies[0].is_forged
    assert summary(replies[0].wire) == (rcode, sorted(answers))


def test_reply_echoes_txid_question_and_flags_like_a_resolver() -> None:
    [reply] = plan_replies(query_wire("www.example.test", txid=777), ZONE)
    message = dns.message.from_wire(reply.wire)
    assert message.id == 777
    assert message.flags & dns.flags.QR
    assert message.flags & dns.flags.RD
    assert message.flags & dns.flags.RA
    assert message.question[0].name.to_text() == "www.example.test."


def test_reply_keeps_the_query_spelling_of_the_name() -> None:
    [reply] = plan_replies(query_wire("WwW.ExAmPlE.tEsT"), ZONE)
    message = dns.message.from_wire(reply.wire)
    assert message.answer[0].name.to_text() == "WwW.ExAmPlE.tEsT."


def test_default_delay_and_name_delay_add_up() -> None:
    assert [r.delay_ms for r in plan_replies(query_wire("www.example.test"), ZONE)] == [35]
    assert [r.delay_ms for r in plan_replies(query_wire("alias.example.test"), ZONE)] == [10]
    assert [r.delay_ms for r in plan_replies(query_wire("x.slow.bench.test"), ZONE)] == [110]


def test_injections_come_first_with_their_own_delays() -> None:
    replies = plan_replies(query_wire("injected.example.test", txid=9), ZONE)
    assert [(r.delay_ms, r.is_forged) for r in replies] == [(5, True), (10, True), (110, False)]
    assert [summary(r.wire) for r in replies] == [
        ("NOERROR", ["injected.example.test A 198.51.100.250"]),
        ("NXDOMAIN", []),
        ("NOERROR", ["injected.example.test A 192.0.2.40"]),
    ]
    assert {dns.message.from_wire(r.wire).id for r in replies} == {9}


def test_injection_answers_only_addresses_of_the_query_family() -> None:
    replies = plan_replies(query_wire("injected.example.test", "AAAA"), ZONE)
    assert summary(replies[0].wire) == ("NOERROR", ["injected.example.test AAAA 2001:db8::250"])


def test_injection_on_an_equal_delay_still_comes_first() -> None:
    zone = Zone(
        (DnsRecord("t.test", "A", "192.0.2.1"),),
        {"t.test": NameBehaviour(inject=(Injection(("192.0.2.99",)),))},
    )
    assert [r.is_forged for r in plan_replies(query_wire("t.test"), zone)] == [True, False]


def test_drop_sends_nothing_but_injections() -> None:
    assert plan_replies(query_wire("dropped.bench.test"), ZONE) == []
    [forged] = plan_replies(query_wire("blackholed.example.test"), ZONE)
    assert forged.is_forged
    assert summary(forged.wire) == ("NOERROR", ["blackholed.example.test A 198.51.100.251"])


def test_plan_is_deterministic() -> None:
    wire = query_wire("injected.example.test")
    assert plan_replies(wire, ZONE) == plan_replies(wire, ZONE)


def test_big_answer_is_truncated_over_udp_only() -> None:
    records = tuple(DnsRecord("many.test", "A", f"192.0.2.{i}") for i in range(1, 101))
    zone = Zone(records)
    [udp] = plan_replies(query_wire("many.test"), zone)
    message = dns.message.from_wire(udp.wire)
    assert message.flags & dns.flags.TC
    assert message.answer == []
    assert len(udp.wire) <= 512
    [stream] = plan_replies(query_wire("many.test"), zone, udp=False)
    assert len(dns.message.from_wire(stream.wire).answer[0]) == 100
    [edns] = plan_replies(query_wire("many.test", use_edns=0, payload=4096), zone)
    assert not dns.message.from_wire(edns.wire).flags & dns.flags.TC


MALFORMED_CASES: list[tuple[str, bytes, list[PlannedReply]]] = [
    ("empty", b"", []),
    ("short-header", b"\x01\x02\x03", []),
    ("response-not-query", plan_replies(query_wire("www.example.test"), Zone(()))[0].wire, []),
]


@pytest.mark.parametrize(
    ("wire", "expected"),
    [case[1:] for case in MALFORMED_CASES],
    ids=[case[0] for case in MALFORMED_CASES],
)
def test_unparseable_input_gets_no_reply(wire: bytes, expected: list[PlannedReply]) -> None:
    assert plan_replies(wire, ZONE) == expected


def test_garbage_after_a_valid_header_gets_formerr_with_the_txid() -> None:
    wire = b"\xbe\xef\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff\xff\xff"
    [reply] = plan_replies(wire, ZONE)
    message = dns.message.from_wire(reply.wire)
    assert message.id == 0xBEEF
    assert message.rcode() == dns.rcode.FORMERR
    assert message.flags & dns.flags.RD


def test_non_query_opcode_gets_notimp() -> None:
    query = dns.message.make_query("www.example.test", "A")
    query.set_opcode(dns.opcode.NOTIFY)
    [reply] = plan_replies(query.to_wire(), ZONE)
    assert dns.message.from_wire(reply.wire).rcode() == dns.rcode.NOTIMP


def test_non_internet_class_is_refused() -> None:
    query = dns.message.make_query("www.example.test", "A", rdclass=dns.rdataclass.CH)
    [reply] = plan_replies(query.to_wire(), ZONE)
    assert dns.message.from_wire(reply.wire).rcode() == dns.rcode.REFUSED


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_raise(wire: bytes) -> None:
    for reply in plan_replies(wire, ZONE):
        assert len(reply.wire) >= 12


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=12, max_value=40), st.binary(min_size=1, max_size=8))
def test_corrupted_queries_never_raise(offset: int, junk: bytes) -> None:
    wire = bytearray(query_wire("injected.example.test", use_edns=0))
    wire[offset : offset + len(junk)] = junk
    for reply in plan_replies(bytes(wire), ZONE):
        assert reply.wire[:2] == wire[:2]


RECORD_ERRORS = [
    ("bad-type", ("a.test", "MX", "192.0.2.1")),
    ("a-with-ipv6", ("a.test", "A", "2001:db8::1")),
    ("aaaa-with-ipv4", ("a.test", "AAAA", "192.0.2.1")),
    ("not-an-address", ("a.test", "A", "example")),
    ("empty-label", ("a..test", "A", "192.0.2.1")),
]


@pytest.mark.parametrize("args", [c[1] for c in RECORD_ERRORS], ids=[c[0] for c in RECORD_ERRORS])
def test_invalid_records_are_refused(args: tuple[str, str, str]) -> None:
    with pytest.raises(ValueError):
        DnsRecord(*args)


def test_cname_next_to_other_data_is_refused() -> None:
    with pytest.raises(ValueError, match="CNAME"):
        Zone((DnsRecord("a.test", "CNAME", "b.test"), DnsRecord("a.test", "A", "192.0.2.1")))


def test_unknown_rcode_is_refused() -> None:
    with pytest.raises(ValueError, match="rcode"):
        NameBehaviour(rcode="NOPE")


def test_zone_answer_names_wildcard_records_after_the_query() -> None:
    answer = ZONE.answer("Deep.Bench.Test.", "a")
    assert answer.rcode == "NOERROR"
    assert [(r.name, r.value) for r in answer.records] == [("deep.bench.test", "192.0.2.20")]
