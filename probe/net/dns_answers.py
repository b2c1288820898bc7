"""Pure readers of DNS responses: the answer records kept, and the failure an rcode stands for.

Pure: no I/O. Shared by the UDP, TCP and DoH lookups.
"""

from __future__ import annotations

from collections.abc import Sequence

import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset

from probe.model.failures import Failure
from probe.model.observations import DnsAnswer

MAX_ANSWERS = 128
"""Answer records kept per response."""
MAX_CNAME_HOPS = 16


def answers_of(message: dns.message.Message) -> list[DnsAnswer]:
    """Return the A, AAAA and CNAME records of a response's answer section (at most MAX_ANSWERS)."""
    answers: list[DnsAnswer] = []
    for rrset in message.answer:
        for rdata in rrset:
            if len(answers) >= MAX_ANSWERS:
                return answers
            if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                answers.append(
                    DnsAnswer(
                        answer_type=dns.rdatatype.to_text(rrset.rdtype),
                        address=str(rdata.address),
                        ttl=rrset.ttl,
                    )
                )
            elif rrset.rdtype == dns.rdatatype.CNAME:
                answers.append(
                    DnsAnswer(
                        answer_type="CNAME",
                        hostname=rdata.target.to_text(omit_final_dot=True),
                        ttl=rrset.ttl,
                    )
                )
    return answers


def rcode_failure(message: dns.message.Message, query: dns.message.Message) -> str | None:
    """Return the failure a response's rcode stands for, or None for a usable answer.

    NOERROR without a record of the queried type at the end of the answer's CNAME chain is
    `dns_no_answer`.
    """
    rcode = message.rcode()
    if rcode == dns.rcode.NXDOMAIN:
        return Failure.DNS_NXDOMAIN.value
    if rcode == dns.rcode.SERVFAIL:
        return Failure.DNS_SERVER_FAILURE.value
    if rcode == dns.rcode.REFUSED:
        return Failure.DNS_REFUSED.value
    if rcode != dns.rcode.NOERROR:
        return Failure.DNS_BAD_RESPONSE.value
    question = query.question[0]
    if _has_final_answer(message.answer, question.name, question.rdtype):
        return None
    return Failure.DNS_NO_ANSWER.value


def _has_final_answer(
    answer: Sequence[dns.rrset.RRset], name: dns.name.Name, rdtype: dns.rdatatype.RdataType
) -> bool:
    """Return whether following CNAMEs from `name` reaches a record set of `rdtype`."""
    for _ in range(MAX_CNAME_HOPS):
        if any(rrset.name == name and rrset.rdtype == rdtype for rrset in answer):
            return True
        cname = next(
            (r for r in answer if r.name == name and r.rdtype == dns.rdatatype.CNAME), None
        )
        if cname is None or len(cname) == 0:
            return False
        name = next(iter(cname)).target
    return False


def parse_query_type(query_type: str) -> dns.rdatatype.RdataType:
    """Return the rdtype for `query_type`.

    Raises:
        ValueError: it is not a known DNS record type.
    """
    try:
        return dns.rdatatype.from_text(query_type)
    except dns.rdatatype.UnknownRdatatype as exc:
        raise ValueError(f"unknown DNS query type {query_type!r}") from exc
