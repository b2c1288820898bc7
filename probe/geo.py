"""The probe's network (country, AS) from MaxMind-format databases; its address goes nowhere.

Reads GeoLite2 / DB-IP Lite style Country, City and ASN databases with `maxminddb`. The address
looked up is one of the probe's own public interface addresses (when it has one) and its
resolver's; behind NAT the probe learns its network from the collector instead.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import maxminddb

from probe.errors import ConfigError
from probe.model import ProbeNetwork, is_globally_reachable

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AddressInfo:
    """What the databases say about one address."""

    cc: str | None = None
    asn: int | None = None
    as_org: str | None = None
    region: str | None = None


class GeoDatabases:
    """One or more open MaxMind-format readers, queried together. A context manager."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self._readers: list[maxminddb.Reader] = []
        try:
            for path in paths:
                self._readers.append(maxminddb.open_database(str(path)))
        except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
            self.close()
            raise ConfigError(f"cannot read GeoIP database: {exc}") from exc

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close every reader."""
        for reader in self._readers:
            reader.close()
        self._readers.clear()

    def lookup(self, address: str) -> AddressInfo:
        """Return what the databases know of `address` (all None when nothing)."""
        cc = org = region = None
        asn = None
        for reader in self._readers:
            try:
                record: Any = reader.get(address)
            except ValueError:
                return AddressInfo()
            if not isinstance(record, dict):
                continue
            country = record.get("country") or record.get("registered_country") or {}
            cc = cc or (country.get("iso_code") if isinstance(country, dict) else None)
            subdivisions = record.get("subdivisions") or []
            if region is None and subdivisions and isinstance(subdivisions[0], dict):
                region = subdivisions[0].get("iso_code")
            asn = asn or record.get("autonomous_system_number")
            org = org or record.get("autonomous_system_organization")
        return AddressInfo(cc=cc, asn=asn, as_org=org, region=region)


def _public(addresses: Iterable[str]) -> list[str]:
    out = []
    for address in addresses:
        if is_globally_reachable(address):
            out.append(address)
    return out


def probe_network(
    databases: GeoDatabases | None,
    own_addresses: Iterable[str],
    resolver_address: str | None,
) -> ProbeNetwork:
    """Return the probe's network from its own public addresses and its resolver's address."""
    if databases is None:
        return ProbeNetwork()
    mine = AddressInfo()
    for address in _public(sorted(own_addresses)):
        info = databases.lookup(address)
        if info.cc or info.asn:
            mine = info
            break
    resolver = databases.lookup(resolver_address) if resolver_address else AddressInfo()
    return ProbeNetwork(
        cc=mine.cc or "ZZ",
        asn=f"AS{mine.asn or 0}",
        network_name=mine.as_org or "",
        resolver_asn=f"AS{resolver.asn or 0}",
        resolver_network_name=resolver.as_org or "",
        region=mine.region,
    )
