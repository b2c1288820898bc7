"""The lab's address plan: its three documentation ranges, fixed service addresses, and the
addresses given to each scenario host. Pure: no I/O.

- 203.0.113.0/24: services on the lab internet (on the `inet` namespace's loopback).
- 198.51.100.0/24: /30 transit links between routers, censors and `inet`.
- 192.0.2.0/24: client networks, one /28 each (gateway .1 on the first hop, probe .2).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping

from lab.errors import ScenarioError
from lab.scenario import HostSpec, ResolverValue, Scenario, SiteSpec
from lab.servers.names import normalise_name

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


def transit_pairs() -> Iterator[tuple[str, str]]:
    """Return the transit /30s in order, each as its two ends' addresses (CIDR)."""
    for net in TRANSIT_NETWORK.subnets(new_prefix=30):
        a, b = (str(h) for h in net.hosts())
        yield f"{a}/30", f"{b}/30"


def client_subnets() -> Iterator[ipaddress.IPv4Network]:
    """Return the client /28s in order."""
    for net in CLIENT_NETWORK.subnets(new_prefix=28):
        assert isinstance(net, ipaddress.IPv4Network)
        yield net


def isp_resolver_address(country_number: int) -> str:
    """Return the ISP resolver's address for the country numbered `country_number` (from 1)."""
    return str(SERVICE_NETWORK.network_address + FIRST_ISP_RESOLVER + country_number)


def name_key(name: str) -> str:
    """Return `name` normalised, the key of every host-name mapping in the plan.

    Raises:
        ScenarioError: `name` is not a valid host name.
    """
    try:
        return normalise_name(name)
    except ValueError as exc:
        raise ScenarioError(f"not a valid host name: {name!r}") from exc


def assign_host_addresses(scenario: Scenario) -> dict[str, str]:
    """Return each site's, alias's and host's address, keyed by `name_key`.

    Explicit addresses are kept; the others come from the service range, from `FIRST_SITE` up.

    Raises:
        ScenarioError: an explicit address is outside the service range, or a name is invalid.
    """
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
        addresses[name_key(name)] = address
        if isinstance(spec, SiteSpec):
            for alias in spec.aliases:
                addresses[name_key(alias)] = address
    return addresses


def resolve_reference(value: str, addresses: Mapping[str, str], where: str) -> list[str]:
    """Return the address `value` names: an IP literal, `@host` or `@control` and the like.

    Raises:
        ScenarioError: `value` names no lab host and is not an address.
    """
    if value.startswith("@"):
        name = value[1:]
        key = name_key(name)
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


def addresses_of(value: ResolverValue, addresses: Mapping[str, str], where: str) -> list[str]:
    """Return the addresses one reference or a list of references names, in order.

    Raises:
        ScenarioError: a reference names no lab host and is not an address.
    """
    values = [value] if isinstance(value, str) else list(value)
    out: list[str] = []
    for item in values:
        out += resolve_reference(item, addresses, where)
    return out
