"""The lab's DNS data and the pure planning of replies: which packets to send, and when.

Pure: no I/O, no clock. `plan_replies` turns one query's wire bytes into timed reply packets;
`lab.servers.dns` and the DoH endpoint only carry them out.
"""

from __future__ import annotations

import copy
import functools
import ipaddress
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from lab.servers.names import normalise_name, wildcard_parents

RECORD_TYPES = ("A", "AAAA", "CNAME")
# A CNAME chain longer than this is answered as far as it got (resolvers give up near 8-16 hops).
MAX_CNAME_HOPS = 16
UDP_PLAIN_LIMIT_BYTES = 512  # RFC 1035 section 4.2.1, without EDNS
STREAM_LIMIT_BYTES = 65535  # TCP and DoH: the 16-bit length prefix / RFC 8484
_HEADER = struct.Struct("!HHHHHH")
_QR = 0x8000


def _rcode_text(rcode: str) -> str:
    """Return `rcode` upper-cased after checking that dnspython knows it."""
    try:
        dns.rcode.from_text(rcode)
    except dns.rcode.UnknownRcode as exc:
        raise ValueError(f"unknown DNS rcode {rcode!r}") from exc
    return rcode.upper()


@dataclass(frozen=True)
class DnsRecord:
    """One A, AAAA or CNAME record; a name starting with "*." covers every name below it."""

    name: str
    rtype: str
    value: str
    ttl: int = 300

    def __post_init__(self) -> None:
        rtype = self.rtype.upper()
        if rtype not in RECORD_TYPES:
            raise ValueError(f"record type must be one of {RECORD_TYPES}, got {self.rtype!r}")
        if not 0 <= self.ttl <= 2**31 - 1:
            raise ValueError(f"TTL out of range: {self.ttl}")
        if rtype == "CNAME":
            value = normalise_name(self.value)
        else:
            address = ipaddress.ip_address(self.value)
            if (rtype == "A") != (address.version == 4):
                raise ValueError(f"{rtype} record needs an IPv{4 if rtype == 'A' else 6} address")
            value = str(address)
        object.__setattr__(self, "name", normalise_name(self.name))
        object.__setattr__(self, "rtype", rtype)
        object.__setattr__(self, "value", value)


@dataclass(frozen=True)
class Injection:
    """A forged reply (same txid and question) sent `delay_ms` after the query arrives.

    Its answer holds the `addresses` whose family matches the query type (A or AAAA); other
    query types, or a non-NOERROR `rcode`, get an empty answer section.
    """

    addresses: tuple[str, ...]
    delay_ms: float = 0.0
    rcode: str = "NOERROR"
    ttl: int = 60

    def __post_init__(self) -> None:
        if self.delay_ms < 0:
            raise ValueError("delay_ms must not be negative")
        addresses = tuple(str(ipaddress.ip_address(a)) for a in self.addresses)
        object.__setattr__(self, "addresses", addresses)
        object.__setattr__(self, "rcode", _rcode_text(self.rcode))


@dataclass(frozen=True)
class NameBehaviour:
    """How the server treats queries for one name, beyond what its records say.

    `delay_ms` holds the real reply (added to the zone's default delay); `rcode` forces an error
    reply; `drop` sends no real reply; `empty` answers NOERROR with no records; `inject` sends
    forged replies, each at its own delay, whatever happens to the real one.
    """

    delay_ms: float = 0.0
    rcode: str | None = None
    drop: bool = False
    empty: bool = False
    inject: tuple[Injection, ...] = ()

    def __post_init__(self) -> None:
        if self.delay_ms < 0:
            raise ValueError("delay_ms must not be negative")
        if self.rcode is not None:
            object.__setattr__(self, "rcode", _rcode_text(self.rcode))


@dataclass(frozen=True)
class Answer:
    """What the zone says about one (name, type): the rcode and the records in answer order."""

    rcode: str
    records: tuple[DnsRecord, ...]


@dataclass(frozen=True)
class Zone:
    """Records plus per-name behaviours; names outside the records get NXDOMAIN.

    `default_delay_ms` holds every real reply of the zone; a name's own `delay_ms` adds to it.
    Behaviour keys may be Unicode, any case, or "*." wildcards like record names.
    """

    records: tuple[DnsRecord, ...]
    behaviours: Mapping[str, NameBehaviour] = field(default_factory=dict)
    default_delay_ms: float = 0.0
    _by_name: Mapping[str, tuple[DnsRecord, ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        if self.default_delay_ms < 0:
            raise ValueError("default_delay_ms must not be negative")
        by_name: dict[str, list[DnsRecord]] = {}
        for record in self.records:
            by_name.setdefault(record.name, []).append(record)
        for name, records in by_name.items():
            if any(r.rtype == "CNAME" for r in records) and len(records) > 1:
                # RFC 1034 section 3.6.2: a CNAME owner has no other data.
                raise ValueError(f"{name} has a CNAME and other records")
        behaviours = {normalise_name(k): v for k, v in self.behaviours.items()}
        object.__setattr__(self, "records", tuple(self.records))
        object.__setattr__(self, "behaviours", behaviours)
        object.__setattr__(self, "_by_name", {k: tuple(v) for k, v in by_name.items()})

    def records_for(self, name: str) -> tuple[DnsRecord, ...] | None:
        """Return the records owned by `name` (a wildcard's renamed to it), or None if unknown."""
        key = normalise_name(name)
        if key in self._by_name:
            return self._by_name[key]
        for wildcard in wildcard_parents(key):
            if wildcard in self._by_name:
                return tuple(_renamed(r, key) for r in self._by_name[wildcard])
        return None

    def behaviour_for(self, name: str) -> NameBehaviour | None:
        """Return the behaviour set for `name`, exact key first, then the closest wildcard."""
        key = normalise_name(name)
        if key in self.behaviours:
            return self.behaviours[key]
        for wildcard in wildcard_parents(key):
            if wildcard in self.behaviours:
                return self.behaviours[wildcard]
        return None

    def answer(self, name: str, rtype: str) -> Answer:
        """Return the zone's answer for (`name`, `rtype`), following CNAMEs inside the zone.

        The rcode is that of the last name in the chain (RFC 6604): a CNAME to a name the zone
        does not hold gives NXDOMAIN with the CNAME in the answer.
        """
        rtype = rtype.upper()
        current = normalise_name(name)
        chain: list[DnsRecord] = []
        seen = {current}
        for _ in range(MAX_CNAME_HOPS):
            records = self.records_for(current)
            if records is None:
                return Answer("NXDOMAIN", tuple(chain))
            matching = [r for r in records if r.rtype == rtype]
            if matching:
                return Answer("NOERROR", (*chain, *matching))
            cnames = [r for r in records if r.rtype == "CNAME"]
            if not cnames:
                return Answer("NOERROR", tuple(chain))
            chain.append(cnames[0])
            current = cnames[0].value
            if current in seen:
                break
            seen.add(current)
        return Answer("NOERROR", tuple(chain))


def _renamed(record: DnsRecord, name: str) -> DnsRecord:
    """Return a copy of valid `record` owned by normalised `name`, skipping re-validation."""
    renamed = copy.copy(record)
    object.__setattr__(renamed, "name", name)
    return renamed


@dataclass(frozen=True)
class PlannedReply:
    """One reply packet and when to send it, in ms after the query arrived."""

    delay_ms: float
    wire: bytes
    is_forged: bool = False


def plan_replies(query_wire: bytes, zone: Zone, *, udp: bool = True) -> list[PlannedReply]:
    """Return the replies to send for `query_wire`, ordered by delay (forged first on ties).

    Malformed queries give [] or, when the 12-byte header parses, one FORMERR reply. With
    `udp`, a reply too big for the client's buffer (512 bytes, or its EDNS size) is truncated
    (TC set, no answers); otherwise the limit is 65535 bytes (TCP, DoH).
    """
    if len(query_wire) < _HEADER.size:
        return []
    txid, flags, *_ = _HEADER.unpack_from(query_wire)
    if flags & _QR:
        return []  # a response, not a query: answering could start a loop
    try:
        query = dns.message.from_wire(query_wire)
    except (dns.exception.DNSException, ValueError, UnicodeError):
        return [PlannedReply(0.0, _formerr(txid, flags))]
    if query.opcode() != dns.opcode.QUERY:
        return [PlannedReply(0.0, _error_reply(query, dns.rcode.NOTIMP, udp))]
    if len(query.question) != 1:
        return [PlannedReply(0.0, _formerr(txid, flags))]
    question = query.question[0]
    if question.rdclass != dns.rdataclass.IN:
        return [PlannedReply(0.0, _error_reply(query, dns.rcode.REFUSED, udp))]
    qname = question.name.to_text(omit_final_dot=True)
    try:
        behaviour = zone.behaviour_for(qname) if qname else None
    except ValueError:
        behaviour = None  # a name we cannot normalise has no behaviour and no records
    behaviour = behaviour or NameBehaviour()
    replies = [
        PlannedReply(i.delay_ms, _forged_reply(query, i, udp), is_forged=True)
        for i in behaviour.inject
    ]
    if not behaviour.drop:
        delay_ms = zone.default_delay_ms + behaviour.delay_ms
        replies.append(PlannedReply(delay_ms, _real_reply(query, zone, behaviour, udp)))
    return sorted(replies, key=lambda r: (r.delay_ms, not r.is_forged))


def _formerr(txid: int, query_flags: int) -> bytes:
    """Return a bare FORMERR header echoing the txid, opcode and RD bit."""
    flags = _QR | (query_flags & 0x7900) | dns.rcode.FORMERR  # opcode and RD bits kept
    return _HEADER.pack(txid, flags, 0, 0, 0, 0)


def _response(query: dns.message.Message) -> dns.message.Message:
    """Return an empty response to `query`, flagged like a recursive resolver's."""
    return dns.message.make_response(query, recursion_available=True)


def _error_reply(query: dns.message.Message, rcode: dns.rcode.Rcode, udp: bool) -> bytes:
    """Return the wire form of an empty reply with `rcode`."""
    response = _response(query)
    response.set_rcode(rcode)
    return _to_wire(query, response, udp)


def _real_reply(
    query: dns.message.Message, zone: Zone, behaviour: NameBehaviour, udp: bool
) -> bytes:
    """Return the wire form of the zone's own reply, shaped by `behaviour`."""
    response = _response(query)
    if behaviour.rcode is not None:
        response.set_rcode(dns.rcode.from_text(behaviour.rcode))
        return _to_wire(query, response, udp)
    if behaviour.empty:
        return _to_wire(query, response, udp)
    question = query.question[0]
    qname = question.name.to_text(omit_final_dot=True)
    try:
        answer = zone.answer(qname, dns.rdatatype.to_text(question.rdtype))
    except ValueError:
        answer = Answer("NXDOMAIN", ())
    response.set_rcode(dns.rcode.from_text(answer.rcode))
    owner = question.name
    normalised_owner = answer.records[0].name if answer.records else ""
    for record in answer.records:
        # Answer with the query's own spelling of its name (0x20 case randomisation survives).
        name = owner if record.name == normalised_owner else dns.name.from_text(record.name)
        _add_record(response, name, record.rtype, record.value, record.ttl)
    return _to_wire(query, response, udp)


def _forged_reply(query: dns.message.Message, injection: Injection, udp: bool) -> bytes:
    """Return the wire form of a forged reply carrying `injection`'s addresses."""
    response = _response(query)
    response.set_rcode(dns.rcode.from_text(injection.rcode))
    question = query.question[0]
    if injection.rcode == "NOERROR" and question.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
        version = 4 if question.rdtype == dns.rdatatype.A else 6
        rtype = "A" if version == 4 else "AAAA"
        for address in injection.addresses:
            if ipaddress.ip_address(address).version == version:
                _add_record(response, question.name, rtype, address, injection.ttl)
    return _to_wire(query, response, udp)


def _add_record(
    response: dns.message.Message, name: dns.name.Name, rtype: str, value: str, ttl: int
) -> None:
    """Append one record to the answer section, merging into an existing RRset."""
    rdata = _rdata(rtype, value)
    rrset = response.find_rrset(response.answer, name, dns.rdataclass.IN, rdata.rdtype, create=True)
    rrset.add(rdata, ttl)


@functools.lru_cache(maxsize=4096)
def _rdata(rtype: str, value: str) -> dns.rdata.Rdata:
    """Return the (immutable) rdata for a record value; cached because parsing text is slow."""
    text = value + "." if rtype == "CNAME" else value
    return dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rtype), text)


def _to_wire(query: dns.message.Message, response: dns.message.Message, udp: bool) -> bytes:
    """Return `response` as wire bytes, truncated (TC, no records) if it exceeds the limit."""
    limit = STREAM_LIMIT_BYTES
    if udp:
        limit = max(query.payload, UDP_PLAIN_LIMIT_BYTES) if query.edns >= 0 else 512
    try:
        return response.to_wire(max_size=limit)
    except dns.exception.TooBig:
        response.answer.clear()
        response.flags |= dns.flags.TC
        return response.to_wire(max_size=limit)
