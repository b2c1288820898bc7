"""What the lab internet's web servers serve: each site's pages as routes, block pages, the public
DoH resolver, and the ISP transparent proxies. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping

from lab.plan.addresses import PUBLIC_RESOLVER_ADDRESS, PUBLIC_RESOLVER_NAME, name_key
from lab.plan.model import ProxyPlan, WebServerPlan
from lab.scenario import Page, Scenario, SiteSpec
from lab.servers.sites import ClientRoute, Route, Site, html_page
from lab.servers.zone import Zone

DEFAULT_PAGE_BYTES = 3000


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


def web_server_plans(
    scenario: Scenario,
    addresses: Mapping[str, str],
    client_subnets: list[str],
    public_zone: Zone,
) -> tuple[WebServerPlan, ...]:
    """Return one web server per site or block-page address, then the public DoH resolver.

    `addresses` comes from `assign_host_addresses`; `client_subnets` are every client network,
    for the sites' per-client pages.
    """
    default_latency = scenario.options.latency_ms
    sites = {name_key(s.host): _site(s, client_subnets, default_latency) for s in scenario.sites}
    web: list[WebServerPlan] = []
    by_address: dict[str, list[Site]] = {}
    flags: dict[str, tuple[bool, bool]] = {}
    for spec in scenario.sites:
        address = addresses[name_key(spec.host)]
        by_address.setdefault(address, []).append(sites[name_key(spec.host)])
        http, https = flags.get(address, (False, False))
        flags[address] = (http or spec.http, https or spec.https)
    for host in scenario.hosts:
        if host.kind == "blockpage":
            address = addresses[name_key(host.name)]
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
    return tuple(web)


def proxy_plans(scenario: Scenario, addresses: Mapping[str, str]) -> tuple[ProxyPlan, ...]:
    """Return the scenario's transparent proxies, each routing every site's name to its address."""
    site_names = {name_key(s.host) for s in scenario.sites}
    site_routes = {name: address for name, address in addresses.items() if name in site_names}
    return tuple(
        ProxyPlan(address=addresses[name_key(h.name)], routes=site_routes)
        for h in scenario.hosts
        if h.kind == "proxy"
    )
