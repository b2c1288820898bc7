"""Turn a scenario into a concrete world: namespaces, links, addresses, routes, zones, censors.

Pure: no I/O. The world builder and the server host process both call `plan_world` with the same
scenario and prefix, so they agree on every address without passing them around.

Address plan (documentation ranges only; nothing routes anywhere else):
- 203.0.113.0/24: services on the lab internet (on the `inet` namespace's loopback).
- 198.51.100.0/24: /30 transit links between routers, censors and `inet`.
- 192.0.2.0/24: client networks, one /28 each (gateway .1 on the first hop, probe .2).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from lab.censor.rules import (
    CensorPlan,
    CensorRule,
    DnsDrop,
    DnsInject,
    ForgedTraits,
    HttpBlock,
    HttpInject,
    IpBlock,
    Throttle,
    TlsBlock,
    TlsIntercept,
)
from lab.errors import ScenarioError
from lab.scenario import (
    CensorSpec,
    CountrySpec,
    DnsDropSpec,
    DnsInjectSpec,
    DropSpec,
    HostSpec,
    HttpCloseSpec,
    HttpDropSpec,
    HttpInjectSpec,
    HttpResetSpec,
    Page,
    RejectSpec,
    ResolverValue,
    Scenario,
    SiteSpec,
    ThrottleSpec,
    TlsCloseSpec,
    TlsDropSpec,
    TlsInterceptSpec,
    TlsResetSpec,
    UnreachableSpec,
)
from lab.servers.names import normalise_name
from lab.servers.sites import ClientRoute, Route, Site, html_page
from lab.servers.zone import DnsRecord, NameBehaviour, Zone

SERVICE_NETWORK = ipaddress.ip_network("203.0.113.0/24")
TRANSIT_NETWORK = ipaddress.ip_network("198.51.100.0/24")
CLIENT_NETWORK = ipaddress.ip_network("192.0.2.0/24")
LAB_NETWORKS = (str(CLIENT_NETWORK), str(TRANSIT_NETWORK), str(SERVICE_NETWORK))

CONTROL_ADDRESS = "203.0.113.2"
COLLECTOR_ADDRESS = "203.0.113.3"
PUBLIC_RESOLVER_ADDRESS = "203.0.113.53"
PUBLIC_RESOLVER_NAME = "dns.public.test"
DNS_BAIT_ADDRESS = "203.0.113.254"
"""Routed through every censor to inet, where nothing answers it: the probes' DNS bait."""
FIRST_ISP_RESOLVER = 40
FIRST_SITE = 100
CONTROL_PORT = 443
COLLECTOR_PORT = 80
DEFAULT_PAGE_BYTES = 3000


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


def _transit_pairs() -> Iterator[tuple[str, str]]:
    for net in TRANSIT_NETWORK.subnets(new_prefix=30):
        a, b = (str(h) for h in net.hosts())
        yield f"{a}/30", f"{b}/30"


def _client_subnets() -> Iterator[ipaddress.IPv4Network]:
    for net in CLIENT_NETWORK.subnets(new_prefix=28):
        assert isinstance(net, ipaddress.IPv4Network)
        yield net


def _page_route(page: Page, default_latency: float) -> Route:
    headers = tuple(page.headers.items())
    latency = page.latency_ms if page.latency_ms is not None else default_latency
    if page.reset:
        return Route(reset=True, latency_ms=latency)
    if page.redirect is not None:
        return Route(
            status=page.status if page.status in (301, 302, 303, 307, 308) else 302,
            redirect_to=page.redirect,
            headers=headers,
            latency_ms=latency,
        )
    if page.body is not None:
        body = page.body.encode()
    elif page.title is not None or page.text is not None or page.body_size is None:
        body = html_page(page.title or "", page.text or "", page.size)
    else:
        body = b""
    if page.body_size is not None:
        return Route(
            status=page.status,
            headers=headers or (("content-type", "text/plain"),),
            body=b"",
            body_size=page.body_size,
            latency_ms=latency,
        )
    content_type = (("content-type", "text/html; charset=utf-8"),)
    return Route(status=page.status, headers=headers or content_type, body=body, latency_ms=latency)


def _default_page(host: str) -> Page:
    title = f"{host} - news and information"
    text = f"Welcome to {host}. Independent reporting, updated daily. " * 20
    return Page(title=title, text=text, size=DEFAULT_PAGE_BYTES)


def _site(spec: SiteSpec, client_subnets: list[str], default_latency: float) -> Site:
    latency = spec.latency_ms if spec.latency_ms is not None else default_latency
    pages = dict(spec.pages) or {"/": _default_page(spec.host)}
    routes = {path: _page_route(page, latency) for path, page in pages.items()}
    client_routes = tuple(
        ClientRoute(network=subnet, path=page.path, route=_page_route(page, latency))
        for page in spec.client_pages
        for subnet in client_subnets
    )
    return Site(
        host=spec.host, routes=routes, client_routes=client_routes, certificate=spec.certificate
    )


def _resolve_reference(value: str, addresses: Mapping[str, str], where: str) -> list[str]:
    if value.startswith("@"):
        name = value[1:]
        key = _name_key(name)
        if key in addresses:
            return [addresses[key]]
        special = {
            "control": CONTROL_ADDRESS,
            "collector": COLLECTOR_ADDRESS,
            "public-resolver": PUBLIC_RESOLVER_ADDRESS,
        }
        if name in special:
            return [special[name]]
        raise ScenarioError(f"{where}: unknown lab host {value!r}")
    try:
        return [str(ipaddress.ip_address(value))]
    except ValueError as exc:
        raise ScenarioError(f"{where}: {value!r} is neither an address nor @host") from exc


def _addresses_of(value: ResolverValue, addresses: Mapping[str, str], where: str) -> list[str]:
    values = [value] if isinstance(value, str) else list(value)
    out: list[str] = []
    for item in values:
        out += _resolve_reference(item, addresses, where)
    return out


def _name_key(name: str) -> str:
    try:
        return normalise_name(name)
    except ValueError as exc:
        raise ScenarioError(f"not a valid host name: {name!r}") from exc


def _records(name: str, addresses: list[str]) -> list[DnsRecord]:
    return [DnsRecord(name, "AAAA" if ":" in a else "A", a, ttl=300) for a in addresses]


_RESOLVER_ACTIONS = {
    "nxdomain": NameBehaviour(rcode="NXDOMAIN"),
    "servfail": NameBehaviour(rcode="SERVFAIL"),
    "refused": NameBehaviour(rcode="REFUSED"),
    "no_answer": NameBehaviour(empty=True),
    "drop": NameBehaviour(drop=True),
}


def _isp_zone(
    country: CountrySpec, public: list[DnsRecord], addresses: Mapping[str, str], where: str
) -> Zone:
    overridden = {_name_key(n) for n in country.resolver}
    records = [r for r in public if r.name not in overridden]
    behaviours: dict[str, NameBehaviour] = {}
    for name, value in country.resolver.items():
        if isinstance(value, str) and value.lower() in _RESOLVER_ACTIONS:
            behaviours[name] = _RESOLVER_ACTIONS[value.lower()]
            records += [r for r in public if r.name == _name_key(name)]
        else:
            records += _records(name, _addresses_of(value, addresses, f"{where} resolver"))
    for name, delay in country.resolver_delay_ms.items():
        previous = behaviours.get(name, NameBehaviour())
        behaviours[name] = NameBehaviour(
            delay_ms=delay, rcode=previous.rcode, drop=previous.drop, empty=previous.empty
        )
    return Zone(records=tuple(records), behaviours=behaviours)


def _forged(spec: TlsResetSpec | HttpResetSpec) -> ForgedTraits | None:
    """Return the injector's traits for a reset it forges, or None for the filter's REJECT."""
    if not spec.injector:
        return None
    return ForgedTraits(
        ip_ttl=spec.ip_ttl, ttl_mode=spec.ttl_mode, ip_id=spec.ip_id, in_path=spec.in_path
    )


def _censor_rule(spec: CensorSpec, addresses: Mapping[str, str], where: str) -> CensorRule:
    if isinstance(spec, DnsInjectSpec):
        answers = tuple(_addresses_of(spec.answer, addresses, where)) if spec.answer else ()
        return DnsInject(
            name=_name_key(spec.name),
            answers=answers,
            rcode=spec.rcode,
            ip_ttl=spec.ip_ttl,
            ttl_mode=spec.ttl_mode,
            copies=spec.copies,
            ip_id=spec.ip_id,
            udp_checksum=spec.udp_checksum,
        )
    if isinstance(spec, DnsDropSpec):
        return DnsDrop(name=_name_key(spec.name))
    if isinstance(spec, DropSpec | RejectSpec | UnreachableSpec):
        [address] = _resolve_reference(spec.address, addresses, where)[:1]
        action = {DropSpec: "drop", RejectSpec: "reject", UnreachableSpec: "unreachable"}[
            type(spec)
        ]
        return IpBlock(address=address, action=action, port=spec.port)  # type: ignore[arg-type]
    if isinstance(spec, TlsInterceptSpec):
        return TlsIntercept(sni=_name_key(spec.sni))
    if isinstance(spec, TlsResetSpec):
        return TlsBlock(sni=_name_key(spec.sni), action="reset", forged=_forged(spec))
    if isinstance(spec, HttpResetSpec):
        return HttpBlock(
            action="reset",
            host=_name_key(spec.host) if spec.host else None,
            path_keyword=spec.path_keyword,
            forged=_forged(spec),
        )
    if isinstance(spec, TlsDropSpec | TlsCloseSpec):
        action = {TlsDropSpec: "drop", TlsCloseSpec: "close"}[type(spec)]
        return TlsBlock(sni=_name_key(spec.sni), action=action)  # type: ignore[arg-type]
    if isinstance(spec, HttpInjectSpec):
        headers: tuple[tuple[str, str], ...] = (("Content-Type", "text/html"),)
        body = html_page(spec.title, spec.text)
        if spec.location is not None:
            headers = (("Location", spec.location), ("Content-Type", "text/html"))
        return HttpInject(
            status=spec.status,
            body=body,
            headers=headers,
            host=_name_key(spec.host) if spec.host else None,
            path_keyword=spec.path_keyword,
            end=spec.end,
        )
    if isinstance(spec, HttpDropSpec | HttpCloseSpec):
        action = {HttpDropSpec: "drop", HttpCloseSpec: "close"}[type(spec)]
        return HttpBlock(
            action=action,  # type: ignore[arg-type]
            host=_name_key(spec.host) if spec.host else None,
            path_keyword=spec.path_keyword,
        )
    assert isinstance(spec, ThrottleSpec)
    [address] = _resolve_reference(spec.address, addresses, where)[:1]
    return Throttle(address=address, rate_kbit=spec.rate_kbit)


def _assign_addresses(scenario: Scenario) -> dict[str, str]:
    taken = {CONTROL_ADDRESS, COLLECTOR_ADDRESS, PUBLIC_RESOLVER_ADDRESS}
    addresses: dict[str, str] = {}
    specs: list[SiteSpec | HostSpec] = [*scenario.sites, *scenario.hosts]
    for spec in specs:
        explicit = spec.address
        if explicit is not None:
            if ipaddress.ip_address(explicit) not in SERVICE_NETWORK:
                raise ScenarioError(f"{scenario.id}: {explicit} is outside {SERVICE_NETWORK}")
            taken.add(explicit)
    pool = (str(SERVICE_NETWORK.network_address + i) for i in range(FIRST_SITE, 250))
    for spec in specs:
        name = spec.host if isinstance(spec, SiteSpec) else spec.name
        address = spec.address
        if address is None:
            address = next(a for a in pool if a not in taken)
            taken.add(address)
        addresses[_name_key(name)] = address
        if isinstance(spec, SiteSpec):
            for alias in spec.aliases:
                addresses[_name_key(alias)] = address
    return addresses


def plan_world(scenario: Scenario, prefix: str) -> WorldPlan:
    """Return the concrete world for `scenario`, with namespace names starting with `prefix`.

    Raises:
        ScenarioError: a reference (@host) or address in the scenario does not work out.
    """
    addresses = _assign_addresses(scenario)
    inet = f"{prefix}-inet"
    namespaces: list[str] = [inet]
    links: list[Link] = []
    bridges: list[tuple[str, str]] = []
    bridge_ports: list[tuple[str, str, str]] = []
    extra_addresses: list[tuple[str, str, str]] = []
    routes: list[RoutePlan] = []
    forwarding: list[str] = []
    transit = _transit_pairs()
    subnets = _client_subnets()
    countries = scenario.country_specs()
    if len(countries) > 9:
        raise ScenarioError(f"{scenario.id}: at most 9 countries")
    client_subnets: list[str] = []
    country_clients: list[list[tuple[str, ipaddress.IPv4Network]]] = []
    for k, country in enumerate(countries, start=1):
        clients = []
        for j, _network in enumerate(country.networks):
            subnet = next(subnets)
            clients.append((f"{prefix}-c{k}{chr(ord('a') + j)}", subnet))
            client_subnets.append(str(subnet))
        country_clients.append(clients)

    public_records: list[DnsRecord] = [
        DnsRecord(PUBLIC_RESOLVER_NAME, "A", PUBLIC_RESOLVER_ADDRESS)
    ]
    for name, address in addresses.items():
        public_records += _records(name, [address])
    public_zone = Zone(records=tuple(public_records))

    country_plans: list[CountryPlan] = []
    for k, (country, clients) in enumerate(zip(countries, country_clients, strict=True), start=1):
        censor_ns = f"{prefix}-x{k}"
        before = [f"{prefix}-r{k}b{i}" for i in range(1, country.hops_before + 1)]
        after = [f"{prefix}-r{k}a{i}" for i in range(1, country.hops_after + 1)]
        chain = [*before, censor_ns, *after]
        namespaces += chain
        forwarding += chain
        first = chain[0]
        bridges.append((first, "lan"))
        client_plans: list[ClientPlan] = []
        resolver_address = str(SERVICE_NETWORK.network_address + FIRST_ISP_RESOLVER + k)
        for (client_ns, subnet), network in zip(clients, country.networks, strict=True):
            namespaces.append(client_ns)
            gateway, client_address = (str(h) for h in list(subnet.hosts())[:2])
            port = f"p{client_ns.rsplit('-', 1)[1]}"
            links.append(
                Link(client_ns, "eth0", f"{client_address}/{subnet.prefixlen}", first, port, "")
            )
            bridge_ports.append((first, port, "lan"))
            extra_addresses.append((first, "lan", f"{gateway}/{subnet.prefixlen}"))
            routes += [
                RoutePlan(client_ns, str(SERVICE_NETWORK), gateway),
                RoutePlan(client_ns, str(TRANSIT_NETWORK), gateway),
            ]
            client_plans.append(
                ClientPlan(
                    namespace=client_ns,
                    cc=country.cc,
                    network_name=network.name,
                    asn=network.asn,
                    address=client_address,
                    subnet=str(subnet),
                    gateway=gateway,
                    resolver=resolver_address,
                    region=network.region,
                )
            )
        # Chain: chain[i].wan <-> chain[i+1].lan, and the last node's wan <-> inet.c{k}.
        upstream = [*chain[1:], inet]
        country_subnets = [str(subnet) for _, subnet in clients]
        for here, there in zip(chain, upstream, strict=True):
            near, far = next(transit)
            there_if = f"c{k}" if there == inet else "lan"
            links.append(Link(here, "wan", near, there, there_if, far))
            routes.append(RoutePlan(here, str(SERVICE_NETWORK), far.split("/")[0]))
            routes += [RoutePlan(there, s, near.split("/")[0]) for s in country_subnets]
        where = f"{scenario.id} country {country.cc}"
        rules = tuple(_censor_rule(spec, addresses, where) for spec in country.censor)
        censor_lan = "lan"
        country_plans.append(
            CountryPlan(
                cc=country.cc,
                censor_namespace=censor_ns,
                censor=CensorPlan(
                    rules=rules,
                    lan_interface=censor_lan,
                    wan_interface="wan",
                    client_networks=tuple(str(s) for _, s in clients),
                ),
                resolver_address=resolver_address,
                clients=tuple(client_plans),
                routers=tuple(before + after),
                zone=_isp_zone(country, public_records, addresses, where),
            )
        )
    default_latency = scenario.options.latency_ms
    sites = {_name_key(s.host): _site(s, client_subnets, default_latency) for s in scenario.sites}
    web: list[WebServerPlan] = []
    by_address: dict[str, list[Site]] = {}
    flags: dict[str, tuple[bool, bool]] = {}
    for spec in scenario.sites:
        address = addresses[_name_key(spec.host)]
        by_address.setdefault(address, []).append(sites[_name_key(spec.host)])
        http, https = flags.get(address, (False, False))
        flags[address] = (http or spec.http, https or spec.https)
    for host in scenario.hosts:
        if host.kind == "blockpage":
            address = addresses[_name_key(host.name)]
            page = Route(
                body=html_page(host.title, host.text),
                headers=(("content-type", "text/html; charset=utf-8"),),
            )
            by_address.setdefault(address, []).append(Site(host="*.test", routes={"/": page}))
            flags[address] = (True, False)
    for address, site_list in by_address.items():
        http, https = flags[address]
        web.append(
            WebServerPlan(
                address=address,
                sites=tuple(site_list),
                http=http,
                https=https,
                handshake_latency_ms=scenario.options.tls_latency_ms,
            )
        )
    web.append(
        WebServerPlan(
            address=PUBLIC_RESOLVER_ADDRESS,
            sites=(Site(host=PUBLIC_RESOLVER_ADDRESS), Site(host=PUBLIC_RESOLVER_NAME)),
            http=False,
            https=True,
            doh_zone=public_zone,
        )
    )
    site_routes = {name: address for name, address in addresses.items() if name in sites}
    proxies = tuple(
        ProxyPlan(address=addresses[_name_key(h.name)], routes=site_routes)
        for h in scenario.hosts
        if h.kind == "proxy"
    )
    dns_servers = [(PUBLIC_RESOLVER_ADDRESS, public_zone)]
    dns_servers += [(c.resolver_address, c.zone) for c in country_plans]
    unique_routes: list[RoutePlan] = []
    for route in routes:
        if route not in unique_routes:
            unique_routes.append(route)
    return WorldPlan(
        prefix=prefix,
        inet_namespace=inet,
        namespaces=tuple(namespaces),
        bridges=tuple(bridges),
        links=tuple(links),
        bridge_ports=tuple(bridge_ports),
        addresses=tuple(extra_addresses),
        routes=tuple(unique_routes),
        forwarding=tuple(forwarding),
        countries=tuple(country_plans),
        public_zone=public_zone,
        dns_servers=tuple(dns_servers),
        web_servers=tuple(web),
        proxies=proxies,
        host_addresses=addresses,
    )
