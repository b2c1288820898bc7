"""Write the world's own MaxMind-format GeoIP database: each client network's country and AS.

The collector (and the probe, when given it) look addresses up in it exactly as they would in a
GeoLite2 / DB-IP Lite file, so the lab exercises the real geolocation code.
"""

from __future__ import annotations

from pathlib import Path

from mmdb_writer import MMDBWriter
from netaddr import IPSet

from lab.plan import WorldPlan


def write_world_geodb(plan: WorldPlan, path: Path) -> Path:
    """Write `path` mapping each client subnet to its country, AS number and AS name."""
    writer = MMDBWriter(
        ip_version=6,
        database_type="Crenel-Lab-Country-ASN",
        ipv4_compatible=True,
        description="Crenel lab world",
    )
    for client in plan.clients:
        record: dict[str, object] = {
            "country": {"iso_code": client.cc},
            "autonomous_system_number": client.asn,
            "autonomous_system_organization": client.network_name,
        }
        if client.region:
            record["subdivisions"] = [{"iso_code": client.region}]
        writer.insert_network(IPSet([client.subnet]), record)
    writer.to_db_file(str(path))
    return path
