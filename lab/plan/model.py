"""The world plan's data types: links, routes, clients, countries, servers and `WorldPlan`.

Pure: frozen records and no I/O; `lab.plan.world` fills them in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lab.censor.rules import CensorPlan
from lab.plan.addresses import COLLECTOR_ADDRESS, CONTROL_ADDRESS, PUBLIC_RESOLVER_ADDRESS
from lab.servers.sites import Site
from lab.servers.zone import Zone


@dataclass(frozen=True)
class Link:
    """A veth pair: one end in each namespace, each end with its address (CIDR)."""

    ns_a: str
    if_a: str
    cidr_a: str
    ns_b: str
    if_b: str
    cidr_b: str


@dataclass(frozen=True)
class RoutePlan:
    """A static route inside one namespace."""

    namespace: str
    destination: str
    via: str


@dataclass(frozen=True)
class ClientPlan:
    """One probe's namespace and what it needs to know."""

    namespace: str
    cc: str
    network_name: str
    asn: int
    address: str
    subnet: str
    gateway: str
    resolver: str
    region: str | None = None


@dataclass(frozen=True)
class CountryPlan:
    """One censored country: its censor namespace, routers, ISP resolver and clients."""

    cc: str
    censor_namespace: str
    censor: CensorPlan
    resolver_address: str
    clients: tuple[ClientPlan, ...]
    routers: tuple[str, ...]
    zone: Zone


@dataclass(frozen=True)
class WebServerPlan:
    """One address serving sites over HTTP (80) and/or HTTPS (443)."""

    address: str
    sites: tuple[Site, ...]
    http: bool = True
    https: bool = True
    doh_zone: Zone | None = None
    handshake_latency_ms: float = 0.0


@dataclass(frozen=True)
class ProxyPlan:
    """An ISP transparent proxy: Host -> real address."""

    address: str
    routes: Mapping[str, str]


@dataclass(frozen=True)
class WorldPlan:
    """Everything needed to build, serve and measure one scenario's world."""

    prefix: str
    inet_namespace: str
    namespaces: tuple[str, ...]
    bridges: tuple[tuple[str, str], ...]
    links: tuple[Link, ...]
    bridge_ports: tuple[tuple[str, str, str], ...]
    addresses: tuple[tuple[str, str, str], ...]
    routes: tuple[RoutePlan, ...]
    forwarding: tuple[str, ...]
    countries: tuple[CountryPlan, ...]
    public_zone: Zone
    dns_servers: tuple[tuple[str, Zone], ...]
    web_servers: tuple[WebServerPlan, ...]
    proxies: tuple[ProxyPlan, ...]
    host_addresses: Mapping[str, str] = field(default_factory=dict)

    @property
    def clients(self) -> tuple[ClientPlan, ...]:
        """Return every client of every country."""
        return tuple(c for country in self.countries for c in country.clients)

    def service_addresses(self) -> list[str]:
        """Return every address the inet namespace must own."""
        found = [CONTROL_ADDRESS, COLLECTOR_ADDRESS, PUBLIC_RESOLVER_ADDRESS]
        found += [c.resolver_address for c in self.countries]
        found += [w.address for w in self.web_servers] + [p.address for p in self.proxies]
        unique: list[str] = []
        for address in found:
            if address not in unique:
                unique.append(address)
        return unique
