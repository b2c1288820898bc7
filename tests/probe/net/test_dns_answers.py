"""Pure tests of reading DNS responses: answer records and rcode failures."""

from __future__ import annotations

import dns.message
import dns.rcode
import dns.rrset
import pytest

from probe.model.failures import Failure
from probe.net.dns_answers import MAX_ANSWERS, answers_of, parse_query_type, rcode_failure


def response_to(
    name: str, query_type: str, records: list[tuple[str, str, str]], rcode: int = dns.rcode.NOERROR
) -> tuple[dns.message.Message, dns.message.Message]:
    """Return (query, response) where the response's answer holds `records` (owner, type, text)."""
    query = dns.message.make_query(name, query_type)
    response = dns.message.make_response(query)
    response.set_rcode(dns.rcode.Rcode(rcode))
    for owner, rtype, text in records:
        response.answer.append(dns.rrset.from_text(owner, 60, "IN", rtype, text))
    return query, response


def test_only_address_and_cname_records_are_kept() -> None:
    _, response = response_to(
        "www.example.test",
        "A",
        [
            ("www.example.test.", "CNAME", "cdn.example.test."),
            ("cdn.example.test.", "TXT", '"not kept"'),
            ("cdn.example.test.", "A", "192.0.2.1"),
        ],
    )
    answers = answers_of(response)
    assert [(a.answer_type, a.hostname, a.address, a.ttl) for a in answers] == [
        ("CNAME", "cdn.example.test", None, 60),
        ("A", None, "192.0.2.1", 60),
    ]


def test_answers_are_capped() -> None:
    records = [("big.example.test.", "A", f"10.0.{i // 256}.{i % 256}") for i in range(300)]
    _, response = response_to("big.example.test", "A", records)
    assert len(answers_of(response)) == MAX_ANSWERS


RCODES = [
    ("answer", "A", [("w.test.", "A", "192.0.2.1")], dns.rcode.NOERROR, None),
    (
        "cname-then-answer",
        "A",
        [("w.test.", "CNAME", "c.test."), ("c.test.", "A", "192.0.2.1")],
        dns.rcode.NOERROR,
        None,
    ),
    (
        "answer-of-another-type",
        "AAAA",
        [("w.test.", "A", "192.0.2.1")],
        dns.rcode.NOERROR,
        Failure.DNS_NO_ANSWER,
    ),
    (
        "address-under-another-name",
        "A",
        [("other.test.", "A", "192.0.2.1")],
        dns.rcode.NOERROR,
        Failure.DNS_NO_ANSWER,
    ),
    (
        "cname-loop",
        "A",
        [("w.test.", "CNAME", "c.test."), ("c.test.", "CNAME", "w.test.")],
        dns.rcode.NOERROR,
        Failure.DNS_NO_ANSWER,
    ),
    ("nxdomain", "A", [], dns.rcode.NXDOMAIN, Failure.DNS_NXDOMAIN),
    ("servfail", "A", [], dns.rcode.SERVFAIL, Failure.DNS_SERVER_FAILURE),
    ("refused", "A", [], dns.rcode.REFUSED, Failure.DNS_REFUSED),
    ("formerr", "A", [], dns.rcode.FORMERR, Failure.DNS_BAD_RESPONSE),
]


@pytest.mark.parametrize(
    ("query_type", "records", "rcode", "expected"),
    [case[1:] for case in RCODES],
    ids=[case[0] for case in RCODES],
)
def test_rcode_and_answer_give_the_failure(
    query_type: str, records: list[tuple[str, str, str]], rcode: int, expected: Failure | None
) -> None:
    query, response = response_to("w.test", query_type, records, rcode)
    assert rcode_failure(response, query) == (expected.value if expected else None)


def test_unknown_query_type_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="query type"):
        parse_query_type("NOPE")
