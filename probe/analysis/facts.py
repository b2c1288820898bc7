"""Indexes over one measurement's observations that the rules share.

Pure: no I/O. Built once per `analyse` call; answers questions such as "which resolvers gave this
address", "did the control connect here", "which HTTP transaction ended the redirect chain".
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from probe.analysis.addresses import is_ip_literal
from probe.model import (
    ControlReply,
    ControlTls,
    DnsQuery,
    HttpTransaction,
    Measurement,
    ResolverKind,
    TcpConnect,
    TlsHandshake,
)

Endpoint = tuple[str, int]
LOCAL_KINDS = frozenset({ResolverKind.SYSTEM, ResolverKind.UDP, ResolverKind.TCP})


def url_parts(url: str) -> tuple[str, str, int]:
    """Return (scheme, host, port) of a URL, with the scheme's default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, host, port


def is_ipv6(address: str) -> bool:
    """Return whether the address is IPv6."""
    if ":" not in address:
        return False  # every IPv6 address has a colon: no parse for IPv4 and names
    try:
        return ipaddress.ip_address(address).version == 6
    except ValueError:
        return False


def _addresses(query: DnsQuery) -> list[str]:
    return [a.address for a in query.answers if a.address is not None]


@dataclass
class Facts:
    """Lookups, addresses, endpoints and the HTTP chain of one measurement, indexed."""

    scheme: str
    host: str
    port: int
    is_ip_host: bool
    local_lookups: list[DnsQuery]
    doh_lookups: list[DnsQuery]
    control: ControlReply | None
    control_failure: str | None
    local_addresses: dict[str, set[str]] = field(default_factory=dict)
    doh_addresses: set[str] = field(default_factory=set)
    control_addresses: set[str] = field(default_factory=set)
    asn: dict[str, int] = field(default_factory=dict)
    tls_valid: set[str] = field(default_factory=set)
    tcp: dict[Endpoint, TcpConnect] = field(default_factory=dict)
    tls: dict[Endpoint, TlsHandshake] = field(default_factory=dict)
    control_tcp: dict[Endpoint, str | None] = field(default_factory=dict)
    control_tls: dict[Endpoint, ControlTls] = field(default_factory=dict)
    chain: list[HttpTransaction] = field(default_factory=list)
    later_dns: list[DnsQuery] = field(default_factory=list)
    has_ipv6_success: bool = False

    @property
    def has_control(self) -> bool:
        """Return whether a usable control reply exists."""
        return self.control is not None

    @property
    def control_http_ok(self) -> bool:
        """Return whether the control fetched the URL (following redirects) successfully."""
        return (
            self.control is not None
            and self.control.http.failure is None
            and self.control.http.status_code is not None
        )

    def trusted_addresses(self) -> set[str]:
        """Return addresses vouched for by the control, DoH, or a verified TLS handshake."""
        return self.control_addresses | self.doh_addresses | self.tls_valid

    def final(self) -> HttpTransaction | None:
        """Return the transaction that ended the redirect chain (last of the deepest hop)."""
        return self.chain[-1] if self.chain else None


def build_facts(m: Measurement) -> Facts:
    """Return the indexed facts of a measurement."""
    scheme, host, port = url_parts(m.url)
    control = m.control.reply if m.control is not None else None
    control_failure = None
    if m.control is not None and m.control.reply is None:
        control_failure = m.control.failure or "unknown_failure: no reply"
    depth0 = [q for q in m.dns if q.depth == 0 and q.hostname.rstrip(".").lower() == host]
    facts = Facts(
        scheme=scheme,
        host=host,
        port=port,
        is_ip_host=is_ip_literal(host),
        local_lookups=[q for q in depth0 if q.resolver_kind in LOCAL_KINDS],
        doh_lookups=[q for q in depth0 if q.resolver_kind == ResolverKind.DOH],
        control=control,
        control_failure=control_failure,
    )
    for query in facts.local_lookups:
        for address in _addresses(query):
            facts.local_addresses.setdefault(address, set()).add(query.resolver_kind.value)
    for query in facts.doh_lookups:
        facts.doh_addresses.update(_addresses(query))
    for query in m.dns:
        for answer in query.answers:
            if answer.address is not None and answer.asn:
                facts.asn.setdefault(answer.address, answer.asn)
    if control is not None:
        facts.control_addresses.update(control.dns.addresses)
        for info in control.addresses:
            if info.asn:
                facts.asn.setdefault(info.address, info.asn)
            if info.is_tls_valid:
                facts.tls_valid.add(info.address)
        for tcp in control.tcp:
            facts.control_tcp[(tcp.address, tcp.port)] = tcp.failure
        for ctls in control.tls:
            facts.control_tls[(ctls.address, ctls.port)] = ctls
            if ctls.failure is None and ctls.server_name.lower() == host:
                facts.tls_valid.add(ctls.address)
    for conn in m.tcp:
        if conn.depth == 0:
            facts.tcp[(conn.address, conn.port)] = conn
            if conn.failure is None and is_ipv6(conn.address):
                facts.has_ipv6_success = True
    for hs in m.tls:
        if hs.depth == 0:
            facts.tls[(hs.address, hs.port)] = hs
            if hs.failure is None and hs.is_verified and hs.server_name.lower() == host:
                facts.tls_valid.add(hs.address)
    facts.chain = sorted(m.http, key=lambda t: (t.depth, t.id))
    for tx in facts.chain:
        if tx.connect_ms is not None and is_ipv6(tx.address):
            facts.has_ipv6_success = True
    facts.later_dns = [q for q in m.dns if q.depth > 0]
    return facts
