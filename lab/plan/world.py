"""`plan_world`: assemble a scenario's whole world plan from addresses, topology, DNS zones,
censor rules and web servers. Pure: no I/O.
"""

from __future__ import annotations

from lab.censor.rules import CensorPlan
from lab.errors import ScenarioError
from lab.plan.addresses import (
    PUBLIC_RESOLVER_ADDRESS,
    assign_host_addresses,
    isp_resolver_address,
    transit_pairs,
)
from lab.plan.censor_rules import censor_rule
from lab.plan.model import CountryPlan, WorldPlan
from lab.plan.topology import (
    LAN_INTERFACE,
    WAN_INTERFACE,
    CountryNetwork,
    client_slots,
    country_network,
    unique_routes,
)
from lab.plan.web_servers import proxy_plans, web_server_plans
from lab.plan.zones import isp_zone, public_records
from lab.scenario import Scenario
from lab.servers.zone import Zone

MAX_COUNTRIES = 9


def plan_world(scenario: Scenario, prefix: str) -> WorldPlan:
    """Return the concrete world for `scenario`, with namespace names starting with `prefix`.

    Raises:
        ScenarioError: a reference (@host) or address in the scenario does not work out.
    """
    addresses = assign_host_addresses(scenario)
    inet = f"{prefix}-inet"
    transit = transit_pairs()
    countries = scenario.country_specs()
    if len(countries) > MAX_COUNTRIES:
        raise ScenarioError(f"{scenario.id}: at most {MAX_COUNTRIES} countries")
    country_clients = client_slots(prefix, countries)
    client_subnets = [str(subnet) for clients in country_clients for _, subnet in clients]

    public = public_records(addresses)
    public_zone = Zone(records=tuple(public))

    networks: list[CountryNetwork] = []
    country_plans: list[CountryPlan] = []
    for k, (country, clients) in enumerate(zip(countries, country_clients, strict=True), start=1):
        resolver_address = isp_resolver_address(k)
        network = country_network(
            prefix,
            k,
            country,
            clients,
            inet=inet,
            resolver_address=resolver_address,
            transit=transit,
        )
        networks.append(network)
        where = f"{scenario.id} country {country.cc}"
        rules = tuple(censor_rule(spec, addresses, where) for spec in country.censor)
        country_plans.append(
            CountryPlan(
                cc=country.cc,
                censor_namespace=network.censor_namespace,
                censor=CensorPlan(
                    rules=rules,
                    lan_interface=LAN_INTERFACE,
                    wan_interface=WAN_INTERFACE,
                    client_networks=tuple(str(s) for _, s in clients),
                ),
                resolver_address=resolver_address,
                clients=network.clients,
                routers=network.routers,
                zone=isp_zone(country, public, addresses, where),
            )
        )
    dns_servers = [(PUBLIC_RESOLVER_ADDRESS, public_zone)]
    dns_servers += [(c.resolver_address, c.zone) for c in country_plans]
    return WorldPlan(
        prefix=prefix,
        inet_namespace=inet,
        namespaces=(inet, *(ns for n in networks for ns in n.namespaces)),
        bridges=tuple(b for n in networks for b in n.bridges),
        links=tuple(link for n in networks for link in n.links),
        bridge_ports=tuple(p for n in networks for p in n.bridge_ports),
        addresses=tuple(a for n in networks for a in n.addresses),
        routes=unique_routes(r for n in networks for r in n.routes),
        forwarding=tuple(ns for n in networks for ns in n.forwarding),
        countries=tuple(country_plans),
        public_zone=public_zone,
        dns_servers=tuple(dns_servers),
        web_servers=web_server_plans(scenario, addresses, client_subnets, public_zone),
        proxies=proxy_plans(scenario, addresses),
        host_addresses=addresses,
    )
