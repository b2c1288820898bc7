"""DNS lookups through the system resolver, plain UDP and TCP, each returning a `DnsQuery` record.

Failures are recorded, never raised. A step has no timeout of its own: the caller's deadline ends
it, and the caller then records `dns_timed_out(...)` (or `UdpLookup.result()`).
"""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Sequence
from functools import partial

import dns.asyncquery
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import msgspec
import trio

from probe.model.failures import Failure
from probe.model.observations import DnsAnswer, DnsQuery, DnsResponse, ResolverKind
from probe.net.classify import NETWORK_ERRORS, classify
from probe.net.dns_answers import answers_of, parse_query_type, rcode_failure
from probe.net.names import (
    address_family_is_ipv6,
    encode_hostname,
    endpoint_text,
    hostname_for_record,
)
from probe.net.timing import StepClock

logger = logging.getLogger(__name__)

MAX_RESPONSES = 32
"""Responses recorded per UDP query; later ones are not read."""
MAX_IGNORED_PACKETS = 64
"""Unparsable or unrelated packets tolerated per UDP query before the lookup gives up."""
SYSTEM_RESOLVER_ADDRESS = "getaddrinfo"

_RECV_BUFFER_BYTES = 65535
# Linux value of IP_RECVTTL; Python 3.11 does not export it (include/uapi/linux/in.h).
_IP_RECVTTL = getattr(socket, "IP_RECVTTL", 12)
_ANCILLARY_BYTES = socket.CMSG_SPACE(4)


def dns_timed_out(
    hostname: str,
    query_type: str,
    resolver_kind: ResolverKind,
    resolver_address: str,
    *,
    clock: StepClock,
    txid: int,
    depth: int = 0,
    budget_s: float,
) -> DnsQuery:
    """Return the record of a lookup whose `budget_s` ran out: build it just before starting it."""
    t0_ms = clock.ms()
    return DnsQuery(
        id=txid,
        depth=depth,
        resolver_kind=resolver_kind,
        resolver_address=resolver_address,
        hostname=hostname_for_record(hostname),
        query_type=query_type,
        t0_ms=t0_ms,
        t_ms=clock.ms_after(t0_ms, budget_s),
        failure=Failure.GENERIC_TIMEOUT.value,
    )


async def resolve_system(hostname: str, *, clock: StepClock, txid: int, depth: int = 0) -> DnsQuery:
    """Return the addresses getaddrinfo gives for `hostname` (A and AAAA, deduplicated, in order).

    Runs getaddrinfo in a thread that is abandoned if the caller's deadline cancels the lookup.
    """
    t0_ms = clock.ms()
    record = partial(
        DnsQuery,
        id=txid,
        depth=depth,
        resolver_kind=ResolverKind.SYSTEM,
        resolver_address=SYSTEM_RESOLVER_ADDRESS,
        hostname=hostname_for_record(hostname),
        query_type="ANY",
        t0_ms=t0_ms,
    )
    try:
        name = encode_hostname(hostname)
        infos = await trio.to_thread.run_sync(
            partial(socket.getaddrinfo, name, None, socket.AF_UNSPEC, socket.SOCK_STREAM),
            abandon_on_cancel=True,
        )
    except NETWORK_ERRORS as exc:
        return record(t_ms=clock.ms(), failure=classify(exc))
    answers: list[DnsAnswer] = []
    seen: set[str] = set()
    for family, _type, _proto, _canon, sockaddr in infos:
        address = str(sockaddr[0])
        if family not in (socket.AF_INET, socket.AF_INET6) or address in seen:
            continue
        seen.add(address)
        kind = "A" if family == socket.AF_INET else "AAAA"
        answers.append(DnsAnswer(answer_type=kind, address=address))
    failure = None if answers else Failure.DNS_NO_ANSWER.value
    return record(t_ms=clock.ms(), answers=answers, failure=failure)


class UdpLookup:
    """One DNS query over one UDP socket that keeps listening after the first answer.

    Censors often inject a forged answer that races the real one, so the socket stays open for
    `capture_window_s` after the first valid response and records every further response.
    The caller uses the first answer at once and reads the complete record later::

        lookup = UdpLookup("www.example.test", "A", ("192.0.2.53", 53), clock=clock, txid=1)
        async with trio.open_nursery() as nursery:
            with trio.move_on_after(budget_s):
                first = await nursery.start(lookup.run)   # a DnsQuery with one response
            ...                                           # connect to first.answers meanwhile
        final = lookup.result()                           # every response, in arrival order

    `result()` is safe at any time: before the first response it is a timed-out record.

    Raises:
        ValueError: `query_type` is not a DNS record type, or the server is not an IP address.
    """

    def __init__(
        self,
        hostname: str,
        query_type: str,
        server: tuple[str, int],
        *,
        clock: StepClock,
        txid: int,
        depth: int = 0,
        capture_window_s: float = 0.5,
    ) -> None:
        self.hostname = hostname
        self.query_type = query_type
        self.server = server
        self.clock = clock
        self.txid = txid
        self.depth = depth
        self.capture_window_s = capture_window_s
        self._rdtype = parse_query_type(query_type)
        self._is_ipv6 = address_family_is_ipv6(server[0])
        self._t0_ms: float | None = None
        self._first: DnsQuery | None = None
        self._responses: list[DnsResponse] = []
        self._local_port: int | None = None

    @property
    def local_port(self) -> int | None:
        """Return the UDP socket's local port once the query is sent (packet evidence uses it)."""
        return self._local_port

    @property
    def first(self) -> DnsQuery | None:
        """Return the record as of the first valid response (or an early failure), if any yet."""
        return self._first

    def result(self) -> DnsQuery:
        """Return the record so far: every response captured, or a timeout if none arrived."""
        if self._first is None:
            t0_ms = self.clock.ms() if self._t0_ms is None else self._t0_ms
            return self._record(
                t0_ms=t0_ms, t_ms=self.clock.ms(), failure=Failure.GENERIC_TIMEOUT.value
            )
        if len(self._first.responses) == len(self._responses):
            return self._first
        return msgspec.structs.replace(self._first, responses=list(self._responses))

    async def run(
        self, *, task_status: trio.TaskStatus[DnsQuery] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Send the query, report the first valid response via `task_status`, then capture more.

        Owns and closes its socket. Returns when the capture window ends, after `MAX_RESPONSES`,
        or at once when sending fails (then `started` receives the failed record).

        Raises:
            RuntimeError: `run` was called twice.
        """
        if self._t0_ms is not None:
            raise RuntimeError("a UdpLookup runs once")
        self._t0_ms = self.clock.ms()
        try:
            wire, query = self._make_query()
            family = socket.AF_INET6 if self._is_ipv6 else socket.AF_INET
            sock = trio.socket.socket(family, socket.SOCK_DGRAM)
        except NETWORK_ERRORS as exc:
            self._finish_early(classify(exc), task_status)
            return
        with sock:
            _enable_ttl_reporting(sock, is_ipv6=self._is_ipv6)
            try:
                await sock.sendto(wire, self.server)
            except NETWORK_ERRORS as exc:
                self._finish_early(classify(exc), task_status)
                return
            sent_ms = self.clock.ms()
            self._local_port = _local_port(sock)
            try:
                first = await self._receive_first(sock, query, sent_ms)
            except NETWORK_ERRORS as exc:
                self._finish_early(classify(exc), task_status)
                return
            if first is None:
                self._finish_early(Failure.DNS_BAD_RESPONSE.value, task_status)
                return
            self._first = first
            task_status.started(first)
            with trio.move_on_after(self.capture_window_s):
                await self._capture_more(sock, query, sent_ms)

    def _make_query(self) -> tuple[bytes, dns.message.QueryMessage]:
        """Return the query's wire form and message (IDNA-encoded name, random id, RD set)."""
        query = dns.message.make_query(encode_hostname(self.hostname), self._rdtype)
        return query.to_wire(), query

    async def _receive_first(
        self, sock: trio.socket.SocketType, query: dns.message.QueryMessage, sent_ms: float
    ) -> DnsQuery | None:
        """Return the record as of the first valid response; None after too many bad packets."""
        for _ in range(MAX_IGNORED_PACKETS + 1):
            response = await self._receive_one(sock, query, sent_ms)
            if response is None:
                continue
            message, record = response
            self._responses.append(record)
            return self._record(
                t0_ms=self._t0_ms if self._t0_ms is not None else sent_ms,
                t_ms=record.t_ms,
                rcode=record.rcode,
                answers=record.answers,
                failure=rcode_failure(message, query),
            )
        return None

    async def _capture_more(
        self, sock: trio.socket.SocketType, query: dns.message.QueryMessage, sent_ms: float
    ) -> None:
        """Record further responses until `MAX_RESPONSES` or too many ignored packets."""
        ignored = 0
        while len(self._responses) < MAX_RESPONSES and ignored <= MAX_IGNORED_PACKETS:
            try:
                response = await self._receive_one(sock, query, sent_ms)
            except NETWORK_ERRORS as exc:
                # The first answer is already recorded; a later socket error ends the capture.
                logger.debug("UDP capture ended early: %s", classify(exc))
                return
            if response is None:
                ignored += 1
                continue
            self._responses.append(response[1])

    async def _receive_one(
        self, sock: trio.socket.SocketType, query: dns.message.QueryMessage, sent_ms: float
    ) -> tuple[dns.message.Message, DnsResponse] | None:
        """Return the next packet as a response to `query`, or None when it is not one."""
        data, ancillary, _flags, source = await sock.recvmsg(_RECV_BUFFER_BYTES, _ANCILLARY_BYTES)
        t_ms = self.clock.ms()
        try:
            message = dns.message.from_wire(data)
        except NETWORK_ERRORS:
            return None
        if not query.is_response(message):
            return None
        record = DnsResponse(
            t_ms=t_ms,
            delay_ms=round(max(0.0, t_ms - sent_ms), 3),
            source=_source_text(source),
            ip_ttl=_ip_ttl(ancillary),
            rcode=dns.rcode.to_text(message.rcode()),
            answers=answers_of(message),
        )
        return message, record

    def _finish_early(self, failure: str, task_status: trio.TaskStatus[DnsQuery]) -> None:
        """Record a failure before any response and report it as the first result."""
        t0_ms = self._t0_ms if self._t0_ms is not None else self.clock.ms()
        self._first = self._record(t0_ms=t0_ms, t_ms=self.clock.ms(), failure=failure)
        task_status.started(self._first)

    def _record(
        self,
        *,
        t0_ms: float,
        t_ms: float,
        rcode: str | None = None,
        answers: Sequence[DnsAnswer] = (),
        failure: str | None = None,
    ) -> DnsQuery:
        """Return a DnsQuery for this lookup with the responses captured so far."""
        return DnsQuery(
            id=self.txid,
            depth=self.depth,
            resolver_kind=ResolverKind.UDP,
            resolver_address=endpoint_text(*self.server),
            hostname=hostname_for_record(self.hostname),
            query_type=self.query_type,
            t0_ms=t0_ms,
            t_ms=t_ms,
            rcode=rcode,
            answers=list(answers),
            responses=list(self._responses),
            failure=failure,
        )


async def resolve_udp(
    hostname: str,
    query_type: str,
    server: tuple[str, int],
    *,
    clock: StepClock,
    txid: int,
    depth: int = 0,
    capture_window_s: float = 0.5,
    task_status: trio.TaskStatus[DnsQuery] = trio.TASK_STATUS_IGNORED,
) -> DnsQuery:
    """Return the record of one UDP query, with every response seen in the capture window.

    `task_status.started` receives the record as of the first valid response. To use that first
    answer while the capture goes on, run a `UdpLookup` in a nursery instead (a task started with
    `nursery.start` cannot hand back its return value).

    Raises:
        ValueError: `query_type` is not a DNS record type, or the server is not an IP address.
    """
    lookup = UdpLookup(
        hostname,
        query_type,
        server,
        clock=clock,
        txid=txid,
        depth=depth,
        capture_window_s=capture_window_s,
    )
    await lookup.run(task_status=task_status)
    return lookup.result()


async def resolve_tcp(
    hostname: str,
    query_type: str,
    server: tuple[str, int],
    *,
    clock: StepClock,
    txid: int,
    depth: int = 0,
) -> DnsQuery:
    """Return the record of one DNS query over TCP (one response; the connection is closed).

    Raises:
        ValueError: `query_type` is not a DNS record type, or the server is not an IP address.
    """
    rdtype = parse_query_type(query_type)
    address_family_is_ipv6(server[0])  # validates the address before any traffic
    t0_ms = clock.ms()
    record = partial(
        DnsQuery,
        id=txid,
        depth=depth,
        resolver_kind=ResolverKind.TCP,
        resolver_address=endpoint_text(*server),
        hostname=hostname_for_record(hostname),
        query_type=query_type,
        t0_ms=t0_ms,
    )
    try:
        query = dns.message.make_query(encode_hostname(hostname), rdtype)
        sent_ms = clock.ms()
        message = await dns.asyncquery.tcp(query, server[0], port=server[1])
    except NETWORK_ERRORS as exc:
        return record(t_ms=clock.ms(), failure=classify(exc))
    t_ms = clock.ms()
    response = DnsResponse(
        t_ms=t_ms,
        delay_ms=round(max(0.0, t_ms - sent_ms), 3),
        source=endpoint_text(*server),
        rcode=dns.rcode.to_text(message.rcode()),
        answers=answers_of(message),
    )
    return record(
        t_ms=t_ms,
        rcode=response.rcode,
        answers=response.answers,
        responses=[response],
        failure=rcode_failure(message, query),
    )


def _local_port(sock: trio.socket.SocketType) -> int | None:
    """Return the socket's local port, or None if it has none."""
    try:
        return int(sock.getsockname()[1]) or None
    except (OSError, IndexError, TypeError, ValueError):
        return None


def _source_text(source: object) -> str:
    """Return `ip:port` for a socket address as recvmsg reports it."""
    if isinstance(source, tuple) and len(source) >= 2:
        return endpoint_text(str(source[0]), int(source[1]))
    return str(source)


def _enable_ttl_reporting(sock: trio.socket.SocketType, *, is_ipv6: bool) -> None:
    """Ask the kernel to attach each packet's IP TTL (hop limit) as ancillary data, if it can."""
    try:
        if is_ipv6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
        elif sys.platform == "linux":
            sock.setsockopt(socket.IPPROTO_IP, _IP_RECVTTL, 1)
    except OSError as exc:  # not supported here: responses then carry ip_ttl None
        logger.debug("cannot enable TTL reporting: %s", exc)


def _ip_ttl(ancillary: Sequence[tuple[int, int, bytes]]) -> int | None:
    """Return the IP TTL or IPv6 hop limit from a packet's ancillary data, if present."""
    for level, kind, data in ancillary:
        is_ttl = (level == socket.IPPROTO_IP and kind == socket.IP_TTL) or (
            level == socket.IPPROTO_IPV6 and kind == socket.IPV6_HOPLIMIT
        )
        if is_ttl and len(data) >= 4:
            return int.from_bytes(data[:4], sys.byteorder)
    return None
