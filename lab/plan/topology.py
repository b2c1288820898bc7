"""Lay out each country's namespaces: client networks, the router and censor chain to `inet`, and
the links, bridge ports, addresses and routes that join them. Pure: no I/O.

Per country k: clients `{prefix}-c{k}a`.. share a bridge on the chain's first hop; the chain is
routers `r{k}b1`.., the censor `x{k}`, routers `r{k}a1`..; `chain[i].wan <-> chain[i+1].lan`, and
the last node's wan <-> `inet.c{k}`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from lab.plan.addresses import SERVICE_NETWORK, TRANSIT_NETWORK, client_subnets
from lab.plan.model import ClientPlan, Link, RoutePlan
from lab.scenario import CountrySpec

LAN_INTERFACE = "lan"
"""The first hop's client bridge, and every other hop's downstream veth end."""
WAN_INTERFACE = "wan"

ClientSlot = tuple[str, ipaddress.IPv4Network]
"""A client namespace and its /28."""


@dataclass(frozen=True)
class CountryNetwork:
    """One country's share of the world's topology, each part in build order."""

    censor_namespace: str
    routers: tuple[str, ...]
    clients: tuple[ClientPlan, ...]
    namespaces: tuple[str, ...]
    forwarding: tuple[str, ...]
    bridges: tuple[tuple[str, str], ...]
    links: tuple[Link, ...]
    bridge_ports: tuple[tuple[str, str, str], ...]
    addresses: tuple[tuple[str, str, str], ...]
    routes: tuple[RoutePlan, ...]


def client_slots(prefix: str, countries: Sequence[CountrySpec]) -> list[list[ClientSlot]]:
    """Return each country's client namespaces with their /28s, one per network, in order."""
    subnets = client_subnets()
    country_clients: list[list[ClientSlot]] = []
    for k, country in enumerate(countries, start=1):
        clients = []
        for j, _network in enumerate(country.networks):
            subnet = next(subnets)
            clients.append((f"{prefix}-c{k}{chr(ord('a') + j)}", subnet))
        country_clients.append(clients)
    return country_clients


def country_network(
    prefix: str,
    number: int,
    country: CountrySpec,
    clients: list[ClientSlot],
    *,
    inet: str,
    resolver_address: str,
    transit: Iterator[tuple[str, str]],
) -> CountryNetwork:
    """Return the topology of the country numbered `number` (from 1), taking /30s from `transit`."""
    k = number
    censor_ns = f"{prefix}-x{k}"
    before = [f"{prefix}-r{k}b{i}" for i in range(1, country.hops_before + 1)]
    after = [f"{prefix}-r{k}a{i}" for i in range(1, country.hops_after + 1)]
    chain = [*before, censor_ns, *after]
    namespaces = list(chain)
    first = chain[0]
    links: list[Link] = []
    bridge_ports: list[tuple[str, str, str]] = []
    addresses: list[tuple[str, str, str]] = []
    routes: list[RoutePlan] = []
    client_plans: list[ClientPlan] = []
    for (client_ns, subnet), network in zip(clients, country.networks, strict=True):
        namespaces.append(client_ns)
        gateway, client_address = (str(h) for h in list(subnet.hosts())[:2])
        port = f"p{client_ns.rsplit('-', 1)[1]}"
        links.append(
            Link(client_ns, "eth0", f"{client_address}/{subnet.prefixlen}", first, port, "")
        )
        bridge_ports.append((first, port, LAN_INTERFACE))
        addresses.append((first, LAN_INTERFACE, f"{gateway}/{subnet.prefixlen}"))
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
    upstream = [*chain[1:], inet]
    country_subnets = [str(subnet) for _, subnet in clients]
    for here, there in zip(chain, upstream, strict=True):
        near, far = next(transit)
        there_if = f"c{k}" if there == inet else LAN_INTERFACE
        links.append(Link(here, WAN_INTERFACE, near, there, there_if, far))
        routes.append(RoutePlan(here, str(SERVICE_NETWORK), far.split("/")[0]))
        routes += [RoutePlan(there, s, near.split("/")[0]) for s in country_subnets]
    return CountryNetwork(
        censor_namespace=censor_ns,
        routers=tuple(before + after),
        clients=tuple(client_plans),
        namespaces=tuple(namespaces),
        forwarding=tuple(chain),
        bridges=((first, LAN_INTERFACE),),
        links=tuple(links),
        bridge_ports=tuple(bridge_ports),
        addresses=tuple(addresses),
        routes=tuple(routes),
    )


def unique_routes(routes: Iterable[RoutePlan]) -> tuple[RoutePlan, ...]:
    """Return `routes` without repeats, each kept where it first appears."""
    unique: list[RoutePlan] = []
    for route in routes:
        if route not in unique:
            unique.append(route)
    return tuple(unique)
