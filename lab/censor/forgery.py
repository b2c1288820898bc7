"""What the on-path injector forges for a packet it saw: DNS replies and TCP segments.

Pure: no I/O, no clock, no randomness (IP IDs arrive as arguments). `injector` parses packets
with scapy, asks this module what to send, and sends it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from http import HTTPStatus

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from lab.censor.patterns import contains, http_pattern, sni_pattern
from lab.censor.rules import CensorRule, DnsInject, ForgedTraits, HttpBlock, HttpInject, TlsBlock
from lab.servers.names import normalise_name

SEQ_MODULO = 1 << 32
FORGED_DNS_TTL_S = 60  # the DNS TTL of forged records (GFW answers use assorted TTLs)
FORGED_TCP_WINDOW = 64240
# Forged payload is cut into segments no larger than a typical Ethernet MSS.
SEGMENT_BYTES = 1400
MAX_FORGED_BODY_BYTES = 64 * 1024  # a blockpage, not a download
_ANSWER_TYPES = {dns.rdatatype.A: 4, dns.rdatatype.AAAA: 6}


@dataclass(frozen=True)
class DnsForgery:
    """The forged DNS replies for one query: one payload, sent once per IP TTL in `ip_ttls`,
    with IP ID 0 when `zero_ip_id` and a zero UDP checksum unless `udp_checksum`."""

    payload: bytes
    ip_ttls: tuple[int, ...]
    zero_ip_id: bool = False
    udp_checksum: bool = True


@dataclass(frozen=True)
class TcpSegment:
    """The facts of one client-to-server TCP segment that the injector acts on."""

    seq: int
    ack: int
    payload: bytes
    ip_ttl: int = 64
    """The segment's IP TTL as it reached the censor."""


@dataclass(frozen=True)
class ForgedSegment:
    """A TCP segment to send to the client as if it came from the server.

    `flags` uses scapy's letters: "PA" data, "FA" FIN, "RA" reset. `ip_ttl` None leaves the
    injector's default TTL; `zero_ip_id` sends IP ID 0 instead of a random one.
    """

    flags: str
    seq: int
    ack: int
    payload: bytes = b""
    ip_ttl: int | None = None
    zero_ip_id: bool = False


def _query_name(query: dns.message.Message) -> str | None:
    """Return the normalised name of a query's single question, or None."""
    if len(query.question) != 1:
        return None
    try:
        return normalise_name(query.question[0].name.to_text(omit_final_dot=True))
    except ValueError:
        return None


def forge_dns(
    payload: bytes, rules: tuple[CensorRule, ...], *, query_ip_ttl: int
) -> DnsForgery | None:
    """Return the forged replies for a UDP DNS query payload, or None if no rule names it.

    The reply keeps the query's id and question (as sent, case included). A NOERROR rule
    answers the addresses of the queried family (A or AAAA, possibly none); another rcode
    comes with no answers. IP TTLs: the rule's `ip_ttl` or the query's own (`copy`), one
    lower for each further copy so the copies are told apart.
    """
    try:
        query = dns.message.from_wire(payload)
    except (dns.exception.DNSException, ValueError):
        return None
    if query.flags & dns.flags.QR:
        return None
    name = _query_name(query)
    if name is None:
        return None
    rule = next(
        (r for r in rules if isinstance(r, DnsInject) and normalise_name(r.name) == name), None
    )
    if rule is None:
        return None
    reply = dns.message.make_response(query, recursion_available=True)
    rcode = dns.rcode.from_text(rule.rcode)
    reply.set_rcode(rcode)
    question = query.question[0]
    family = _ANSWER_TYPES.get(question.rdtype)
    addresses = [a for a in rule.answers if ipaddress.ip_address(a).version == family]
    if rcode == dns.rcode.NOERROR and addresses and question.rdclass == dns.rdataclass.IN:
        reply.answer.append(
            dns.rrset.from_text_list(
                question.name, FORGED_DNS_TTL_S, dns.rdataclass.IN, question.rdtype, addresses
            )
        )
    base = query_ip_ttl if rule.ttl_mode == "copy" else rule.ip_ttl
    ttls = tuple(max(1, min(255, base - i)) for i in range(max(1, rule.copies)))
    return DnsForgery(
        payload=reply.to_wire(),
        ip_ttls=ttls,
        zero_ip_id=rule.ip_id == "zero",
        udp_checksum=rule.udp_checksum,
    )


def http_response(rule: HttpInject) -> bytes:
    """Return the raw HTTP/1.1 response an `HttpInject` rule sends (with Content-Length).

    Raises:
        ValueError: the body is larger than MAX_FORGED_BODY_BYTES.
    """
    if len(rule.body) > MAX_FORGED_BODY_BYTES:
        raise ValueError(f"injected body larger than {MAX_FORGED_BODY_BYTES} bytes")
    try:
        reason = HTTPStatus(rule.status).phrase
    except ValueError:
        reason = "Unknown"
    skip = {"content-length", "connection", "transfer-encoding"}
    headers = [(k, v) for k, v in rule.headers if k.lower() not in skip]
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.insert(0, ("Content-Type", "text/html; charset=utf-8"))
    headers += [("Content-Length", str(len(rule.body))), ("Connection", "close")]
    head = f"HTTP/1.1 {rule.status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    return (head + "\r\n").encode("latin-1") + rule.body


def _plus(number: int, amount: int) -> int:
    """Return `number + amount` in TCP sequence space."""
    return (number + amount) % SEQ_MODULO


def answer_segments(trigger: TcpSegment, response: bytes, end: str) -> list[ForgedSegment]:
    """Return segments delivering `response` to the client, then a FIN or a reset.

    They carry the sequence number the client expects next from the server (its ACK) and
    acknowledge the whole trigger, so the client's stack accepts them and never resends it.
    """
    ack = _plus(trigger.seq, len(trigger.payload))
    segments: list[ForgedSegment] = []
    seq = trigger.ack
    for start in range(0, len(response), SEGMENT_BYTES):
        chunk = response[start : start + SEGMENT_BYTES]
        segments.append(ForgedSegment(flags="PA", seq=seq, ack=ack, payload=chunk))
        seq = _plus(seq, len(chunk))
    segments.append(ForgedSegment(flags="FA" if end == "fin" else "RA", seq=seq, ack=ack))
    return segments


def forged_reset(trigger: TcpSegment, traits: ForgedTraits) -> ForgedSegment:
    """Return the reset the injector sends the client for `trigger`, with the rule's traits."""
    ttl = trigger.ip_ttl if traits.ttl_mode == "copy" else traits.ip_ttl
    return ForgedSegment(
        flags="RA",
        seq=trigger.ack,
        ack=_plus(trigger.seq, len(trigger.payload)),
        ip_ttl=max(1, min(255, ttl)),
        zero_ip_id=traits.ip_id == "zero",
    )


def forge_tcp(trigger: TcpSegment, rules: tuple[CensorRule, ...]) -> list[ForgedSegment]:
    """Return what to send the client for one client-to-server segment (often nothing).

    The first matching rule acts: an `HttpInject` answers with its response then ends the
    flow; a "close" `TlsBlock` or `HttpBlock` sends a lone FIN; a "reset" one with forged
    traits sends a RST with them. The packet filter drops the trigger, except for an on-path
    forged reset, whose trigger still reaches the server.
    """
    if not trigger.payload:
        return []
    for rule in rules:
        if isinstance(rule, TlsBlock | HttpBlock) and rule.action == "reset" and rule.forged:
            pattern = (
                sni_pattern(rule.sni)
                if isinstance(rule, TlsBlock)
                else http_pattern(rule.host, rule.path_keyword)
            )
            if contains(trigger.payload, pattern):
                return [forged_reset(trigger, rule.forged)]
            continue
        if isinstance(rule, HttpInject):
            if contains(trigger.payload, http_pattern(rule.host, rule.path_keyword)):
                return answer_segments(trigger, http_response(rule), rule.end)
        elif isinstance(rule, TlsBlock) and rule.action == "close":
            if contains(trigger.payload, sni_pattern(rule.sni)):
                return answer_segments(trigger, b"", "fin")
        elif (
            isinstance(rule, HttpBlock)
            and rule.action == "close"
            and contains(trigger.payload, http_pattern(rule.host, rule.path_keyword))
        ):
            return answer_segments(trigger, b"", "fin")
    return []


def needs_dns(rules: tuple[CensorRule, ...]) -> bool:
    """Return whether any rule forges DNS replies."""
    return any(isinstance(rule, DnsInject) for rule in rules)


def needs_tcp(rules: tuple[CensorRule, ...]) -> bool:
    """Return whether any rule forges TCP segments."""
    return any(
        isinstance(rule, HttpInject)
        or (isinstance(rule, TlsBlock | HttpBlock) and rule.action == "close")
        or (isinstance(rule, TlsBlock | HttpBlock) and rule.forged is not None)
        for rule in rules
    )
