"""DNS lookups over plain UDP that keep listening after the first answer, returning a `DnsQuery`
record with every response seen (and its IP TTL) in the capture window.

Failures are recorded, never raised. A lookup has no timeout of its own: the caller's deadline
ends it, and the caller then records `UdpLookup.result()`.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Sequence

import dns.message
import dns.rcode
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
from probe.net.udp_sockets import (
    ANCILLARY_BYTES,
    RECV_BUFFER_BYTES,
    enable_ttl_reporting,
    ip_ttl_of,
    local_port_of,
    source_text,
)

logger = logging.getLogger(__name__)

MAX_RESPONSES = 32
"""Responses recorded per UDP query; later ones are not read."""
MAX_IGNORED_PACKETS = 64
"""Unparsable or unrelated packets tolerated per UDP query before the lookup gives up."""


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
            enable_ttl_reporting(sock, is_ipv6=self._is_ipv6)
            try:
                await sock.sendto(wire, self.server)
            except NETWORK_ERRORS as exc:
                self._finish_early(classify(exc), task_status)
                return
            sent_ms = self.clock.ms()
            self._local_port = local_port_of(sock)
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
        data, ancillary, _flags, source = await sock.recvmsg(RECV_BUFFER_BYTES, ANCILLARY_BYTES)
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
            source=source_text(source),
            ip_ttl=ip_ttl_of(ancillary),
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
