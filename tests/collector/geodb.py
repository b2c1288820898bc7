"""Write tiny MaxMind-format databases for tests (country and ASN in one file)."""

from __future__ import annotations

from pathlib import Path

from mmdb_writer import MMDBWriter
from netaddr import IPSet


def write_geodb(path: Path, networks: dict[str, tuple[str, int, str]]) -> Path:
    """Write `path` mapping each CIDR to (country, AS number, AS name); return the path."""
    writer = MMDBWriter(ip_version=6, database_type="Crenel-Test", ipv4_compatible=True)
    for cidr, (cc, asn, name) in networks.items():
        writer.insert_network(
            IPSet([cidr]),
            {
                "country": {"iso_code": cc},
                "autonomous_system_number": asn,
                "autonomous_system_organization": name,
            },
        )
    writer.to_db_file(str(path))
    return path
