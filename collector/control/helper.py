"""The control's measurement: repeat the probe's DNS, TCP, TLS and HTTP steps from here.

Reuses `probe.net`, and fetches by the probe's own rules (`FetchRules`: headers, ports, the
redirect loop). Resolves through the helper's own trusted resolver, tests the union of the
probe's addresses and its own (only those the guard allows), and fetches the URL following
redirects with a bounded body. Returns a compact `ControlReply`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx
import trio

from collector.control.guard import AddressGuard
from collector.core.errors import InvalidField, TargetRefused
from probe.config import DEFAULT_USER_AGENT
from probe.model import (
    ControlAddressInfo,
    ControlDns,
    ControlHttp,
    ControlReply,
    ControlRequest,
    ControlTcp,
    ControlTls,
    DnsQuery,
    Failure,
    ResolverKind,
    unknown_failure,
)
from probe.net import (
    Fetcher,
    FetchRules,
    HopAddresses,
    StepClock,
    UdpLookup,
    WebTarget,
    connect_tcp,
    dns_timed_out,
    endpoint_ports,
    follow_redirects,
    handshake_tls,
    make_http_client,
    make_ssl_context,
    needs_tls,
    parse_web_url,
    resolve_doh,
)

SOFTWARE_NAME = "crenel-helper"
MAX_ADDRESSES = 16
MAX_PORTS = 3
MAX_REDIRECTS = 10
BODY_PREFIX_BYTES = 64 * 1024
MAX_BODY_BYTES = 64 << 20


@dataclass(frozen=True)
class HelperConfig:
    """How the helper measures."""

    udp_resolver: tuple[str, int] | None = None
    doh_url: str | None = "https://dns.google/dns-query"
    allowed_networks: tuple[str, ...] = ()
    ca_bundle: Path | None = None
    dns_s: float = 4.0
    tcp_s: float = 10.0
    tls_s: float = 10.0
    http_s: float = 15.0
    software_version: str = "0"


@dataclass
class _Work:
    clock: StepClock
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


def validate_request(request: ControlRequest) -> WebTarget:
    """Return the request's target.

    Raises:
        InvalidField: the URL, an address or a port is not acceptable.
    """
    try:
        target = parse_web_url(request.url)
    except ValueError as exc:
        raise InvalidField(f"url: {exc}", field="url") from exc
    if len(request.addresses) > MAX_ADDRESSES:
        raise InvalidField(f"addresses: at most {MAX_ADDRESSES}", field="addresses")
    if len(request.ports) > MAX_PORTS:
        raise InvalidField(f"ports: at most {MAX_PORTS}", field="ports")
    return target


class ControlHelper:
    """Measures URLs for probes. An async context manager owning its HTTP clients."""

    def __init__(self, config: HelperConfig) -> None:
        self.config = config
        self.guard = AddressGuard(config.allowed_networks)
        self.tls_context = make_ssl_context(config.ca_bundle)
        self.fetch_client = make_http_client(make_ssl_context(config.ca_bundle))
        self.doh_client = httpx.AsyncClient(
            verify=make_ssl_context(config.ca_bundle), trust_env=False, timeout=None
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with trio.move_on_after(5, shield=True):
            await self.fetch_client.aclose()
            await self.doh_client.aclose()

    async def measure(self, request: ControlRequest) -> ControlReply:
        """Return the control's view of the URL.

        Raises:
            InvalidField: the request is not acceptable.
            TargetRefused: the URL names an address the guard does not allow.
        """
        target = validate_request(request)
        if target.is_host_ip and not self.guard.allows(target.host):
            raise TargetRefused(f"will not connect to {target.host}")
        work = _Work(clock=StepClock.starting_now())
        dns = ControlDns()
        if target.is_host_ip:
            own = [target.host]
        else:
            resolved, dns = await self._resolve(work, target.host)
            own = self.guard.filter(resolved)
            if resolved and not own:
                dns = ControlDns(failure=Failure.REFUSED_ADDRESS.value)
            else:
                dns = ControlDns(addresses=own, failure=dns.failure)
        addresses = self.guard.filter(own + list(request.addresses))
        ports = list(request.ports) or endpoint_ports(target)
        tcp: list[ControlTcp] = []
        tls: list[ControlTls] = []
        http = ControlHttp(failure=dns.failure or Failure.DNS_NO_ANSWER.value)
        http_box: list[ControlHttp] = []
        async with trio.open_nursery() as nursery:
            for address in addresses:
                nursery.start_soon(
                    partial(
                        self._check, work, target, address=address, ports=ports, tcp=tcp, tls=tls
                    )
                )
            if own:
                nursery.start_soon(self._fetch, work, target, own, request, http_box)
        if own:
            http = http_box[0] if http_box else ControlHttp(failure=Failure.GENERIC_TIMEOUT.value)
        valid = {t.address for t in tls if t.failure is None}
        infos = [ControlAddressInfo(address=a, is_tls_valid=a in valid) for a in addresses]
        return ControlReply(
            software_name=SOFTWARE_NAME,
            software_version=self.config.software_version,
            dns=dns,
            tcp=sorted(tcp, key=lambda t: (t.address, t.port)),
            tls=sorted(tls, key=lambda t: (t.address, t.port)),
            http=http,
            addresses=infos,
            runtime_ms=work.clock.ms(),
        )

    async def _resolve(self, work: _Work, host: str) -> tuple[list[str], ControlDns]:
        results: list[DnsQuery] = []
        async with trio.open_nursery() as nursery:
            for qtype in ("A", "AAAA"):
                nursery.start_soon(self._lookup, work, host, qtype, results)
        addresses: list[str] = []
        failures: list[str] = []
        for query in sorted(results, key=lambda q: q.query_type):
            for answer in query.answers:
                if answer.address is not None and answer.address not in addresses:
                    addresses.append(answer.address)
            if query.failure is not None and query.query_type == "A":
                failures.append(query.failure)
        failure = None if addresses else (failures[0] if failures else Failure.DNS_NO_ANSWER.value)
        return addresses, ControlDns(addresses=addresses, failure=failure)

    async def _lookup(self, work: _Work, host: str, qtype: str, out: list[DnsQuery]) -> None:
        txid = next(work.ids)
        kind = ResolverKind.UDP if self.config.udp_resolver else ResolverKind.DOH
        record = dns_timed_out(
            host, qtype, kind, "control", clock=work.clock, txid=txid, budget_s=self.config.dns_s
        )
        with trio.move_on_after(self.config.dns_s):
            if self.config.udp_resolver is not None:
                lookup = UdpLookup(
                    host,
                    qtype,
                    self.config.udp_resolver,
                    clock=work.clock,
                    txid=txid,
                    capture_window_s=0.0,
                )
                await lookup.run()
                record = lookup.result()
            elif self.config.doh_url is not None:
                record = await resolve_doh(
                    host,
                    qtype,
                    self.config.doh_url,
                    client=self.doh_client,
                    clock=work.clock,
                    txid=txid,
                )
        out.append(record)

    async def _check(
        self,
        work: _Work,
        target: WebTarget,
        *,
        address: str,
        ports: list[int],
        tcp: list[ControlTcp],
        tls: list[ControlTls],
    ) -> None:
        for port in ports:
            failure: str | None = Failure.GENERIC_TIMEOUT.value
            with trio.move_on_after(self.config.tcp_s):
                failure = (
                    await connect_tcp(address, port, clock=work.clock, txid=next(work.ids))
                ).failure
            tcp.append(ControlTcp(address=address, port=port, failure=failure))
            if failure is not None or not needs_tls(target, port):
                continue
            result = ControlTls(
                address=address,
                port=port,
                server_name=target.host,
                failure=Failure.GENERIC_TIMEOUT.value,
            )
            with trio.move_on_after(self.config.tls_s):
                hs = await handshake_tls(
                    address,
                    port,
                    target.host,
                    context=self.tls_context,
                    clock=work.clock,
                    txid=next(work.ids),
                )
                leaf = hs.peer_certificates[0] if hs.peer_certificates else None
                result = ControlTls(
                    address=address,
                    port=port,
                    server_name=target.host,
                    tls_version=hs.tls_version,
                    leaf_sha256=leaf.sha256 if leaf else None,
                    leaf_issuer=leaf.issuer if leaf else None,
                    failure=hs.failure,
                )
            tls.append(result)

    async def _fetch(
        self,
        work: _Work,
        target: WebTarget,
        addresses: list[str],
        request: ControlRequest,
        out: list[ControlHttp],
    ) -> None:
        """Fetch the URL by the probe's own rules (`probe.net.follow_redirects`)."""

        async def resolve(hop: WebTarget, depth: int) -> HopAddresses:
            if hop.is_host_ip:
                return HopAddresses(self.guard.filter([hop.host]), Failure.REFUSED_ADDRESS.value)
            found, hop_dns = await self._resolve(work, hop.host)
            why = Failure.REFUSED_ADDRESS.value if found else hop_dns.failure
            return HopAddresses(self.guard.filter(found), why)

        rules = FetchRules(
            user_agent=request.user_agent or DEFAULT_USER_AGENT, max_redirects=MAX_REDIRECTS
        )
        fetcher = Fetcher(
            client=self.fetch_client,
            clock=work.clock,
            next_id=partial(next, work.ids),
            body_cap_bytes=BODY_PREFIX_BYTES,
            max_body_bytes=MAX_BODY_BYTES,
            budget_s=self.config.http_s,
        )
        chain = await follow_redirects(
            target.url,
            HopAddresses(addresses, Failure.REFUSED_ADDRESS.value),
            rules=rules,
            fetcher=fetcher,
            resolve=resolve,
        )
        response = chain.final.response if chain.final is not None else None
        if response is None:
            out.append(
                ControlHttp(
                    redirects=chain.redirects,
                    final_url=chain.final_url,
                    failure=chain.failure or unknown_failure("no response"),
                )
            )
            return
        out.append(
            ControlHttp(
                status_code=response.status_code,
                body_length=response.body_length,
                body_is_complete=response.body_is_complete,
                title=response.title,
                headers=response.headers,
                final_url=chain.final_url,
                redirects=chain.redirects,
            )
        )
