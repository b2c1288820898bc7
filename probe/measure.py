"""Measure one URL: DNS, control, TCP, TLS and HTTP steps under per-step budgets -> Measurement.

The steps themselves live in `probe.net`; this module decides what to run, in which order, with
which budget, and assembles the records. Everything runs concurrently where it can: resolvers in
parallel, then the control, per-address TCP/TLS checks and the HTTP fetch side by side, while UDP
sockets keep listening for late (injected) answers in the background.
"""

from __future__ import annotations

import ipaddress
import itertools
import logging
import platform
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

import httpx
import msgspec
import trio

from probe.analysis import ReferenceData, analyse
from probe.config import ProbeConfig
from probe.control import ask_control, control_timed_out
from probe.identity import SOFTWARE_NAME, SOFTWARE_VERSION, new_uid
from probe.model import (
    Analysis,
    ControlExchange,
    ControlRequest,
    DnsQuery,
    Failure,
    HttpTransaction,
    Measurement,
    MeasurementOptions,
    PacketEvidence,
    ProbeNetwork,
    ResolverKind,
    TcpConnect,
    TlsHandshake,
    Verdict,
)
from probe.net import (
    HttpProgress,
    StepClock,
    UdpLookup,
    WebTarget,
    connect_tcp,
    dns_timed_out,
    fetch_http,
    handshake_tls,
    make_http_client,
    make_ssl_context,
    parse_web_url,
    redirect_target,
    resolve_doh,
    resolve_system,
    tcp_timed_out,
    tls_timed_out,
)
from probe.packet import CaptureError, FailedFlow, PacketSession
from probe.privacy import scrub_measurement

logger = logging.getLogger(__name__)

MAX_FETCH_ATTEMPTS = 4
"""Addresses tried for one hop when connecting fails (a browser would try the next one too)."""
TLS_CHECK_PORT = 443
BAIT_CONTROL_NAME = "example.com"
"""The harmless name also asked of the DNS bait: if it is answered, the bait is no bait."""
PENDING = Analysis(
    verdict=Verdict.INCONCLUSIVE, confidence=0.0, rules_version="pending", reference_digest=""
)


@dataclass
class _Records:
    """Everything one measurement observed so far, in the order it happened."""

    dns: list[DnsQuery] = field(default_factory=list)
    udp: list[UdpLookup] = field(default_factory=list)
    tcp: list[TcpConnect] = field(default_factory=list)
    tls: list[TlsHandshake] = field(default_factory=list)
    http: list[HttpTransaction] = field(default_factory=list)
    bait: list[UdpLookup] = field(default_factory=list)
    control: ControlExchange | None = None
    tested: set[tuple[str, int]] = field(default_factory=set)

    def all_dns(self, packets: PacketSession | None = None) -> list[DnsQuery]:
        merged = self.dns + [_lookup_result(lookup, packets) for lookup in self.udp]
        return sorted(merged, key=lambda q: (q.depth, q.id))

    def failed_flows(self) -> list[FailedFlow]:
        """Return the failed TCP, TLS and HTTP attempts that have a local port to match."""
        found: list[FailedFlow] = []
        attempts: list[TcpConnect | TlsHandshake | HttpTransaction] = [
            *self.tcp,
            *self.tls,
            *self.http,
        ]
        for record in attempts:
            if record.failure is not None and record.local_port is not None:
                found.append(
                    FailedFlow(
                        record.id, record.address, record.port, record.local_port, record.t_ms
                    )
                )
        return found


@dataclass
class _Run:
    """The state of one `measure_url` call shared by its tasks."""

    target: WebTarget
    clock: StepClock
    ids: itertools.count[int]
    records: _Records
    background: trio.Nursery
    control_done: trio.Event = field(default_factory=trio.Event)
    watched: list[str] = field(default_factory=list)

    def next_id(self) -> int:
        return next(self.ids)


class MeasureSession:
    """What measuring needs across many URLs: clients, TLS contexts, reference data, identity.

    An async context manager: it owns its HTTP clients and closes them on exit, and the packet
    capture of `packets` (packet evidence, CAP_NET_RAW), which it starts and stops.
    """

    def __init__(
        self,
        config: ProbeConfig,
        reference: ReferenceData,
        *,
        network: ProbeNetwork | None = None,
        probe_id: str | None = None,
        own_addresses: Iterable[str] = (),
        packets: PacketSession | None = None,
    ) -> None:
        self.config = config
        self.packets = packets
        self.reference = reference
        self.network = network or ProbeNetwork()
        self.probe_id = probe_id
        self.own_addresses = frozenset(own_addresses)
        self._public = tuple(ipaddress.ip_network(n, strict=False) for n in config.public_networks)
        self.tls_context = make_ssl_context(config.ca_bundle)
        self.fetch_client = make_http_client(make_ssl_context(config.ca_bundle))
        self.service_client = httpx.AsyncClient(
            verify=make_ssl_context(config.ca_bundle),
            trust_env=False,
            timeout=None,
            follow_redirects=False,
        )
        self.options = MeasurementOptions(
            system_resolver=config.system_resolver,
            udp_resolver=None if config.udp_resolver is None else _endpoint(*config.udp_resolver),
            doh_url=config.doh_url,
            dns_capture_window_ms=config.capture_window_s * 1000.0,
            body_cap_bytes=config.body_cap_bytes,
            dns_timeout_s=config.budgets.dns_s,
            tcp_timeout_s=config.budgets.tcp_s,
            tls_timeout_s=config.budgets.tls_s,
            http_timeout_s=config.budgets.http_s,
            control_timeout_s=config.budgets.control_s,
            custom_ca=config.ca_bundle is not None,
            public_networks=list(config.public_networks),
            packet_evidence=packets is not None,
            locate_censor=packets is not None and packets.locate,
            dns_bait=config.dns_bait,
        )

    async def __aenter__(self) -> Self:
        if self.packets is not None:
            try:
                self.packets.start()
            except CaptureError as exc:  # the capability check passed, yet capture cannot start
                logger.warning("packet evidence is off: %s", exc)
                self.packets.close()
                self.packets = None
                self.options = msgspec.structs.replace(
                    self.options, packet_evidence=False, locate_censor=False
                )
                return self
            for address in self._fixed_addresses():
                self.packets.watch(address)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.packets is not None:
            self.packets.close()
        with trio.move_on_after(5, shield=True):
            await self.fetch_client.aclose()
            await self.service_client.aclose()

    def _fixed_addresses(self) -> list[str]:
        """Return the addresses every measurement talks to over UDP: resolver and DNS bait."""
        found = [self.config.udp_resolver[0]] if self.config.udp_resolver is not None else []
        return found + ([self.config.dns_bait] if self.config.dns_bait else [])

    def _watch(self, run: _Run, address: str) -> None:
        """Capture this measurement's traffic with `address` (with packet evidence on)."""
        if self.packets is not None and address not in run.watched:
            self.packets.watch(address)
            run.watched.append(address)

    def may_dial(self, address: str) -> bool:
        """Return whether the probe may connect to `address` (loopback only if declared public)."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        if not (ip.is_loopback or ip.is_unspecified or ip.is_multicast):
            return True
        return any(ip in net for net in self._public if net.version == ip.version)

    async def measure(self, url: str, *, category_code: str | None = None) -> Measurement:
        """Return the analysed, scrubbed measurement of one URL.

        Raises:
            ValueError: `url` is not an absolute http(s) URL with a valid host.
        """
        target = parse_web_url(url)
        started = datetime.now(UTC)
        clock = StepClock.starting_now()
        records = _Records()
        run: _Run | None = None
        try:
            async with trio.open_nursery() as background:
                run = _Run(target, clock, itertools.count(1), records, background)
                await self._measure(run)
            measurement = await self._assemble(run, url, category_code, started)
        finally:
            if self.packets is not None and run is not None:
                for address in run.watched:
                    self.packets.unwatch(address)
        return scrub_measurement(measurement, self.own_addresses)

    async def _assemble(
        self, run: _Run, url: str, category_code: str | None, started: datetime
    ) -> Measurement:
        """Return the analysed measurement, with packet evidence and localisation if on."""
        target, clock, records = run.target, run.clock, run.records
        packets = await self._packet_evidence(run)
        measurement = Measurement(
            uid=new_uid(),
            software_name=SOFTWARE_NAME,
            software_version=SOFTWARE_VERSION,
            input=url,
            url=target.url,
            category_code=category_code,
            start_time=started,
            runtime_ms=clock.ms(),
            probe=self.network,
            probe_id=self.probe_id,
            options=self.options,
            dns=records.all_dns(self.packets),
            tcp=records.tcp,
            tls=records.tls,
            http=records.http,
            control=records.control,
            packets=packets,
            analysis=PENDING,
            annotations={
                "platform": sys.platform,
                "python": platform.python_version(),
                "architecture": platform.machine(),
            },
        )
        measurement = msgspec.structs.replace(
            measurement, analysis=analyse(measurement, self.reference)
        )
        if self.packets is not None and self.packets.locate:
            localisation = await self.packets.localise(measurement, clock)
            if localisation is not None:
                evidence = measurement.packets or PacketEvidence(is_captured=True)
                measurement = msgspec.structs.replace(
                    measurement,
                    runtime_ms=clock.ms(),
                    packets=msgspec.structs.replace(evidence, localisation=localisation),
                )
                measurement = msgspec.structs.replace(
                    measurement, analysis=analyse(measurement, self.reference)
                )
        return measurement

    async def _packet_evidence(self, run: _Run) -> PacketEvidence | None:
        """Return the packet evidence of a measurement: its failed flows (after listening a
        little longer for packets that race a reset) and its DNS bait queries; None if none."""
        bait = [_lookup_result(lookup, self.packets) for lookup in run.records.bait]
        if self.packets is None:
            return PacketEvidence(bait=bait) if bait else None
        return await self.packets.evidence(run.records.failed_flows(), bait, run.clock)

    async def _measure(self, run: _Run) -> None:
        host = run.target.host
        if run.target.is_host_ip:
            addresses = [host]
        else:
            addresses = await self._resolve(run, host, depth=0)
        async with trio.open_nursery() as steps:
            if self.config.control_url is not None:
                steps.start_soon(self._ask_control, run, addresses, steps)
            else:
                run.control_done.set()
            for address in addresses:
                steps.start_soon(self._check_endpoints, run, address)
            steps.start_soon(self._fetch_chain, run, addresses)

    async def _resolve(self, run: _Run, host: str, *, depth: int) -> list[str]:
        """Return the host's addresses from every configured resolver, in preference order."""
        budget = self.config.budgets.dns_s
        system: list[DnsQuery] = []
        udp_first: list[DnsQuery] = []
        doh: list[DnsQuery] = []
        if depth == 0 and self.config.dns_bait is not None:
            self._ask_bait(run, host)
        async with trio.open_nursery() as lookups:
            if self.config.system_resolver:
                lookups.start_soon(self._system_lookup, run, host, depth, system)
            if self.config.udp_resolver is not None:
                for qtype in ("A", "AAAA"):
                    lookup = UdpLookup(
                        host,
                        qtype,
                        self.config.udp_resolver,
                        clock=run.clock,
                        txid=run.next_id(),
                        depth=depth,
                        capture_window_s=self.config.capture_window_s,
                    )
                    run.records.udp.append(lookup)
                    lookups.start_soon(self._udp_first, run, lookup, budget, udp_first)
            if self.config.doh_url is not None:
                for qtype in ("A", "AAAA"):
                    lookups.start_soon(self._doh_lookup, run, host, qtype, depth, doh)
        ordered: list[str] = []
        for group in (system, udp_first, doh):
            for query in sorted(group, key=lambda q: q.id):
                for answer in query.answers:
                    address = answer.address
                    if address is not None and address not in ordered and self.may_dial(address):
                        ordered.append(address)
        return ordered

    def _ask_bait(self, run: _Run, host: str) -> None:
        """Query the DNS bait (an address with no DNS server) for the host and a harmless name,
        in the background; whatever answers is on the path."""
        assert self.config.dns_bait is not None
        for name in (host, BAIT_CONTROL_NAME):
            lookup = UdpLookup(
                name,
                "A",
                (self.config.dns_bait, 53),
                clock=run.clock,
                txid=run.next_id(),
                capture_window_s=self.config.capture_window_s,
            )
            run.records.bait.append(lookup)
            run.background.start_soon(self._bait_lookup, lookup)

    async def _bait_lookup(self, lookup: UdpLookup) -> None:
        with trio.move_on_after(self.config.budgets.dns_s + self.config.capture_window_s):
            await lookup.run()

    async def _system_lookup(self, run: _Run, host: str, depth: int, out: list[DnsQuery]) -> None:
        txid = run.next_id()
        record = dns_timed_out(
            host,
            "ANY",
            ResolverKind.SYSTEM,
            "getaddrinfo",
            clock=run.clock,
            txid=txid,
            depth=depth,
            budget_s=self.config.budgets.dns_s,
        )
        with trio.move_on_after(self.config.budgets.dns_s):
            record = await resolve_system(host, clock=run.clock, txid=txid, depth=depth)
        run.records.dns.append(record)
        out.append(record)

    async def _udp_first(
        self, run: _Run, lookup: UdpLookup, budget_s: float, out: list[DnsQuery]
    ) -> None:
        with trio.move_on_after(budget_s):
            first: DnsQuery = await run.background.start(lookup.run)
            out.append(first)

    async def _doh_lookup(
        self, run: _Run, host: str, qtype: str, depth: int, out: list[DnsQuery]
    ) -> None:
        assert self.config.doh_url is not None
        txid = run.next_id()
        record = dns_timed_out(
            host,
            qtype,
            ResolverKind.DOH,
            self.config.doh_url,
            clock=run.clock,
            txid=txid,
            depth=depth,
            budget_s=self.config.budgets.dns_s,
        )
        with trio.move_on_after(self.config.budgets.dns_s):
            record = await resolve_doh(
                host,
                qtype,
                self.config.doh_url,
                client=self.service_client,
                clock=run.clock,
                txid=txid,
                depth=depth,
            )
        run.records.dns.append(record)
        out.append(record)

    async def _ask_control(self, run: _Run, addresses: list[str], steps: trio.Nursery) -> None:
        assert self.config.control_url is not None
        endpoint = self.config.control_url
        budget = self.config.budgets.control_s
        request = ControlRequest(
            url=run.target.url, addresses=addresses, user_agent=self.config.user_agent
        )
        exchange = control_timed_out(endpoint, clock=run.clock, budget_s=budget)
        try:
            with trio.move_on_after(budget):
                exchange = await ask_control(
                    endpoint, request, client=self.service_client, clock=run.clock
                )
        finally:
            run.records.control = exchange
            run.control_done.set()
        if exchange.reply is not None:
            known = set(addresses)
            for address in exchange.reply.dns.addresses:
                if address not in known and self.may_dial(address):
                    known.add(address)
                    steps.start_soon(self._check_endpoints, run, address)

    def _ports(self, target: WebTarget) -> list[int]:
        if target.scheme == "http" and target.port == 80:
            return [80, TLS_CHECK_PORT]
        return [target.port]

    async def _check_endpoints(self, run: _Run, address: str) -> None:
        """Connect to `address` on the URL's port (and 443 for http URLs), then try TLS."""
        target = run.target
        for port in self._ports(target):
            if (address, port) in run.records.tested:
                continue
            run.records.tested.add((address, port))
            self._watch(run, address)
            txid = run.next_id()
            tcp = tcp_timed_out(
                address, port, clock=run.clock, txid=txid, budget_s=self.config.budgets.tcp_s
            )
            with trio.move_on_after(self.config.budgets.tcp_s):
                tcp = await connect_tcp(address, port, clock=run.clock, txid=txid)
            run.records.tcp.append(tcp)
            needs_tls = target.scheme == "https" or port == TLS_CHECK_PORT
            if tcp.failure is not None or not needs_tls or target.is_host_ip:
                continue
            txid = run.next_id()
            tls = tls_timed_out(
                address,
                port,
                target.host,
                clock=run.clock,
                txid=txid,
                budget_s=self.config.budgets.tls_s,
            )
            with trio.move_on_after(self.config.budgets.tls_s):
                tls = await handshake_tls(
                    address,
                    port,
                    target.host,
                    context=self.tls_context,
                    clock=run.clock,
                    txid=txid,
                )
            run.records.tls.append(tls)

    async def _fetch_chain(self, run: _Run, addresses: list[str]) -> None:
        """Fetch the URL and follow redirects hop by hop, each hop with its own DNS."""
        url, depth = run.target.url, 0
        if not addresses and self.config.control_url is not None:
            await run.control_done.wait()
            reply = run.records.control.reply if run.records.control else None
            if reply is not None:
                addresses = [a for a in reply.dns.addresses if self.may_dial(a)]
        for _hop in range(self.config.max_redirects + 1):
            if not addresses:
                return
            tx = await self._fetch_hop(run, url, addresses, depth)
            if tx.failure is not None or tx.response is None:
                return
            target = redirect_target(tx)
            if target is None:
                return
            failure: str | None = None
            if target.failure is not None:
                failure = target.failure.value
            elif depth >= self.config.max_redirects:
                failure = Failure.HTTP_TOO_MANY_REDIRECTS.value
            if failure is not None:
                run.records.http[run.records.http.index(tx)] = msgspec.structs.replace(
                    tx, failure=failure
                )
                return
            assert target.url is not None
            url, depth = target.url, depth + 1
            hop = parse_web_url(url)
            addresses = (
                [hop.host] if hop.is_host_ip else await self._resolve(run, hop.host, depth=depth)
            )

    async def _fetch_hop(
        self, run: _Run, url: str, addresses: list[str], depth: int
    ) -> HttpTransaction:
        """Return the transaction of one hop, trying further addresses while connecting fails."""
        deadline = trio.current_time() + self.config.budgets.http_s
        tx: HttpTransaction | None = None
        for address in addresses[:MAX_FETCH_ATTEMPTS]:
            self._watch(run, address)
            progress = HttpProgress()
            attempt: HttpTransaction | None = None
            with trio.move_on_at(deadline):
                attempt = await fetch_http(
                    url,
                    address,
                    client=self.fetch_client,
                    clock=run.clock,
                    txid=run.next_id(),
                    depth=depth,
                    headers=self._request_headers(),
                    body_cap_bytes=self.config.body_cap_bytes,
                    max_body_bytes=self.config.max_body_bytes,
                    progress=progress,
                )
            tx = attempt if attempt is not None else progress.timed_out(run.clock)
            run.records.http.append(tx)
            if tx.connect_ms is not None or trio.current_time() >= deadline:
                break
        assert tx is not None
        return tx

    def _request_headers(self) -> list[tuple[str, str]]:
        return [
            ("User-Agent", self.config.user_agent),
            ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
            ("Accept-Language", "en-US,en;q=0.9"),
        ]


def _lookup_result(lookup: UdpLookup, packets: PacketSession | None) -> DnsQuery:
    """Return a UDP lookup's record, with its responses' IP traits when packets were captured."""
    result = lookup.result()
    if packets is None or lookup.local_port is None or not result.responses:
        return result
    return packets.dns_query(result, lookup.server, lookup.local_port)


def _endpoint(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
