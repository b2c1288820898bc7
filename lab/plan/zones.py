"""What the lab's DNS servers answer: the public zone and each country's ISP resolver zone.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping

from lab.plan.addresses import PUBLIC_RESOLVER_ADDRESS, PUBLIC_RESOLVER_NAME, addresses_of, name_key
from lab.scenario import CountrySpec
from lab.servers.zone import DnsRecord, NameBehaviour, Zone

RESOLVER_ACTIONS = {
    "nxdomain": NameBehaviour(rcode="NXDOMAIN"),
    "servfail": NameBehaviour(rcode="SERVFAIL"),
    "refused": NameBehaviour(rcode="REFUSED"),
    "no_answer": NameBehaviour(empty=True),
    "drop": NameBehaviour(drop=True),
}
"""The `[resolver]` values that set a behaviour instead of naming addresses."""


def dns_records(name: str, addresses: list[str]) -> list[DnsRecord]:
    """Return an A or AAAA record (TTL 300) for `name` per address."""
    return [DnsRecord(name, "AAAA" if ":" in a else "A", a, ttl=300) for a in addresses]


def public_records(addresses: Mapping[str, str]) -> list[DnsRecord]:
    """Return the public zone's records: the public resolver's own name, then every lab host."""
    records: list[DnsRecord] = [DnsRecord(PUBLIC_RESOLVER_NAME, "A", PUBLIC_RESOLVER_ADDRESS)]
    for name, address in addresses.items():
        records += dns_records(name, [address])
    return records


def isp_zone(
    country: CountrySpec, public: list[DnsRecord], addresses: Mapping[str, str], where: str
) -> Zone:
    """Return the country's ISP resolver zone: the public records with its overrides applied.

    Raises:
        ScenarioError: an override names no lab host and is not an address.
    """
    overridden = {name_key(n) for n in country.resolver}
    records = [r for r in public if r.name not in overridden]
    behaviours: dict[str, NameBehaviour] = {}
    for name, value in country.resolver.items():
        if isinstance(value, str) and value.lower() in RESOLVER_ACTIONS:
            behaviours[name] = RESOLVER_ACTIONS[value.lower()]
            records += [r for r in public if r.name == name_key(name)]
        else:
            records += dns_records(name, addresses_of(value, addresses, f"{where} resolver"))
    for name, delay in country.resolver_delay_ms.items():
        previous = behaviours.get(name, NameBehaviour())
        behaviours[name] = NameBehaviour(
            delay_ms=delay, rcode=previous.rcode, drop=previous.drop, empty=previous.empty
        )
    return Zone(records=tuple(records), behaviours=behaviours)
