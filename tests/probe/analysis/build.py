"""A small builder of measurements for analysis tests: a healthy world, then one thing changed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from probe.model import (
    Analysis,
    ByteSample,
    Certificate,
    ControlAddressInfo,
    ControlDns,
    ControlExchange,
    ControlHttp,
    ControlReply,
    ControlTcp,
    ControlTls,
    DnsAnswer,
    DnsQuery,
    DnsResponse,
    HttpResponse,
    HttpTransaction,
    Measurement,
    MeasurementOptions,
    PacketEvidence,
    ProbeNetwork,
    ResolverKind,
    TcpConnect,
    TcpFlow,
    TcpPacket,
    TlsHandshake,
    Verdict,
)

SITE = "198.51.100.10"
PAGE = (
    b"<html><head><title>Example News Today</title></head><body>"
    + b"<p>All the news that is fit to print.</p>" * 60
    + b"</body></html>"
)
PAGE_HEADERS = (("Content-Type", "text/html"), ("X-Site-Build", "42"), ("Server", "lab"))
UID = "0190a5a4-3c1e-7abc-8def-0123456789ab"


def page_response(
    body: bytes = PAGE,
    *,
    status: int = 200,
    headers: tuple[tuple[str, str], ...] = PAGE_HEADERS,
    title: str | None = "Example News Today",
    complete: bool = True,
    length: int | None = None,
) -> HttpResponse:
    return HttpResponse(
        status_code=status,
        http_version="HTTP/1.1",
        headers=list(headers),
        body_prefix=body.decode(),
        body_length=len(body) if length is None else length,
        body_is_complete=complete,
        body_sha256=hashlib.sha256(body).hexdigest(),
        title=title,
    )


def control_page(**changes: object) -> ControlHttp:
    values: dict[str, object] = {
        "status_code": 200,
        "body_length": len(PAGE),
        "title": "Example News Today",
        "headers": list(PAGE_HEADERS),
        "final_url": None,
        "redirects": [],
    }
    values.update(changes)
    return ControlHttp(**values)  # type: ignore[arg-type]


def answers(*addresses: str) -> list[DnsAnswer]:
    return [DnsAnswer(answer_type="AAAA" if ":" in a else "A", address=a) for a in addresses]


@dataclass
class World:
    """A measurement under construction. Defaults describe a healthy site and a healthy control."""

    url: str = "http://news.example.test/"
    dns: list[DnsQuery] = field(default_factory=list)
    tcp: list[TcpConnect] = field(default_factory=list)
    tls: list[TlsHandshake] = field(default_factory=list)
    http: list[HttpTransaction] = field(default_factory=list)
    control: ControlExchange | None = None
    packets: PacketEvidence | None = None
    _next_id: int = 1

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (443 if parts.scheme == "https" else 80)

    def lookup(
        self,
        kind: ResolverKind = ResolverKind.SYSTEM,
        *addresses: str,
        failure: str | None = None,
        qtype: str | None = None,
        hostname: str | None = None,
        depth: int = 0,
        responses: list[list[str]] | None = None,
    ) -> World:
        qt = qtype or ("ANY" if kind is ResolverKind.SYSTEM else "A")
        recorded = [
            DnsResponse(
                t_ms=1.0 + i * 50,
                delay_ms=1.0 + i * 50,
                source="192.0.2.53:53",
                ip_ttl=64 - i,
                rcode="NOERROR",
                answers=answers(*addrs),
            )
            for i, addrs in enumerate(responses or [])
        ]
        self.dns.append(
            DnsQuery(
                id=self._id(),
                depth=depth,
                resolver_kind=kind,
                resolver_address="192.0.2.53:53"
                if kind is not ResolverKind.SYSTEM
                else "getaddrinfo",
                hostname=hostname or self.host,
                query_type=qt,
                t0_ms=0.0,
                t_ms=2.0,
                answers=answers(*addresses) if not responses else recorded[0].answers,
                responses=recorded,
                rcode=None if failure else "NOERROR",
                failure=failure,
            )
        )
        return self

    def connect(self, address: str, port: int | None = None, failure: str | None = None) -> World:
        self.tcp.append(
            TcpConnect(
                id=self._id(),
                address=address,
                port=port or self.port,
                t0_ms=3.0,
                t_ms=4.0,
                failure=failure,
            )
        )
        return self

    def handshake(
        self,
        address: str,
        failure: str | None = None,
        *,
        port: int = 443,
        issuer: str = "CN=Lab CA",
    ) -> World:
        cert = Certificate(
            sha256="a" * 64,
            subject=f"CN={self.host}",
            issuer=issuer,
            not_before="2026-01-01T00:00:00Z",
            not_after="2027-01-01T00:00:00Z",
            dns_names=[self.host],
        )
        self.tls.append(
            TlsHandshake(
                id=self._id(),
                address=address,
                port=port,
                server_name=self.host,
                t0_ms=3.0,
                t_ms=6.0,
                tls_version=None if failure else "TLSv1.3",
                peer_certificates=[cert],
                is_verified=failure is None,
                failure=failure,
            )
        )
        return self

    def fetch(
        self,
        address: str,
        response: HttpResponse | None = None,
        *,
        url: str | None = None,
        failure: str | None = None,
        stage: str = "ok",
        depth: int = 0,
        t_ms: float = 20.0,
        headers_ms: float | None = None,
        samples: list[ByteSample] | None = None,
    ) -> World:
        target = url or self.url
        https = urlsplit(target).scheme == "https"
        connected = stage not in ("tcp",)
        tls_done = https and stage not in ("tcp", "tls")
        got_headers = stage in ("ok", "body")
        self.http.append(
            HttpTransaction(
                id=self._id(),
                depth=depth,
                url=target,
                address=address,
                port=urlsplit(target).port or (443 if https else 80),
                t0_ms=5.0,
                t_ms=t_ms,
                connect_ms=6.0 if connected else None,
                tls_ms=8.0 if tls_done else None,
                request_sent_ms=9.0 if stage in ("http", "body", "ok") else None,
                headers_ms=(headers_ms or 10.0) if got_headers else None,
                tls_version="TLSv1.3" if tls_done else None,
                response=response if got_headers else None,
                received=samples or [],
                failure=failure,
            )
        )
        return self

    def with_control(
        self,
        *,
        addresses: tuple[str, ...] = (SITE,),
        dns_failure: str | None = None,
        tcp: dict[tuple[str, int], str | None] | None = None,
        tls: dict[tuple[str, int], str | None] | None = None,
        http: ControlHttp | None = None,
        asn: dict[str, int] | None = None,
    ) -> World:
        tcp = tcp if tcp is not None else {(a, self.port): None for a in addresses}
        if tls is None:
            tls = {(a, 443): None for a in addresses}
        reply = ControlReply(
            software_name="crenel-helper",
            software_version="test",
            dns=ControlDns(addresses=list(addresses), failure=dns_failure),
            tcp=[ControlTcp(address=a, port=p, failure=f) for (a, p), f in tcp.items()],
            tls=[
                ControlTls(
                    address=a,
                    port=p,
                    server_name=self.host,
                    failure=f,
                    tls_version=None if f else "TLSv1.3",
                    leaf_issuer="CN=Lab CA",
                )
                for (a, p), f in tls.items()
            ],
            http=http if http is not None else control_page(final_url=self.url),
            addresses=[ControlAddressInfo(address=a, asn=(asn or {}).get(a)) for a in addresses],
        )
        self.control = ControlExchange(
            endpoint="https://helper.test/", t0_ms=1.0, t_ms=30.0, reply=reply
        )
        return self

    def control_unreachable(self, failure: str = "connection_reset") -> World:
        self.control = ControlExchange(
            endpoint="https://helper.test/", t0_ms=1.0, t_ms=2.0, failure=failure
        )
        return self

    @property
    def last_id(self) -> int:
        """Return the id of the record added last."""
        return self._next_id

    def build(self) -> Measurement:
        return Measurement(
            uid=UID,
            software_name="crenel-probe",
            software_version="test",
            input=self.url,
            url=self.url,
            start_time=datetime(2026, 11, 26, tzinfo=UTC),
            runtime_ms=100.0,
            probe=ProbeNetwork(),
            options=MeasurementOptions(),
            dns=self.dns,
            tcp=self.tcp,
            tls=self.tls,
            http=self.http,
            control=self.control,
            packets=self.packets,
            analysis=Analysis(
                verdict=Verdict.INCONCLUSIVE,
                confidence=0.0,
                rules_version="pending",
                reference_digest="",
            ),
        )


def healthy(url: str = "http://news.example.test/", *, address: str = SITE) -> World:
    """Return a world where DNS, TCP, TLS and HTTP all work and agree with the control."""
    w = World(url=url)
    w.lookup(ResolverKind.SYSTEM, address).lookup(ResolverKind.UDP, address)
    w.lookup(ResolverKind.DOH, address)
    w.connect(address)
    if w.port != 443:
        w.connect(address, 443)
    w.handshake(address)
    w.fetch(address, page_response())
    return w.with_control()


def tcp_packet(
    t_ms: float,
    flags: str,
    *,
    inbound: bool = True,
    ttl: int = 59,
    ip_id: int = 0,
    seq: int = 1000,
    ack: int = 5000,
    payload: int = 0,
) -> TcpPacket:
    return TcpPacket(
        t_ms=t_ms,
        is_inbound=inbound,
        flags=flags,
        ip_ttl=ttl,
        ip_id=ip_id,
        seq=seq,
        ack=ack,
        window=64240,
        payload_bytes=payload,
    )


def flow(transaction: int, *packets: TcpPacket, address: str = SITE, port: int = 443) -> TcpFlow:
    return TcpFlow(
        transaction=transaction,
        address=address,
        port=port,
        local_port=40000,
        packets=list(packets),
        packets_seen=len(packets),
    )


def handshake_then(*after: TcpPacket, server_ttl: int = 59) -> list[TcpPacket]:
    """The probe's SYN, the server's SYN-ACK (IP ID 0, as Linux sends it), ACK and request."""
    return [
        tcp_packet(10.0, "S", inbound=False, ttl=64, ip_id=100, seq=4999, ack=0),
        tcp_packet(10.5, "SA", ttl=server_ttl, ip_id=0, seq=999, ack=5000),
        tcp_packet(10.6, "A", inbound=False, ttl=64, ip_id=101, seq=5000, ack=1000),
        tcp_packet(10.7, "PA", inbound=False, ttl=64, ip_id=102, seq=5000, ack=1000, payload=517),
        *after,
    ]
