"""Build what measuring needs from the settings: reference data, network identity, the session.

Shared by `measure` and `run`; reads fingerprint and GeoIP files once per invocation.
"""

from __future__ import annotations

import logging

from probe.config import ConfigFile, ProbeConfig
from probe.geo import GeoDatabases, probe_network
from probe.identity import new_probe_id
from probe.measure import MeasureSession
from probe.privacy import own_addresses
from probe.references import load_reference

logger = logging.getLogger(__name__)


def probe_id(settings: ConfigFile) -> str:
    """Return the probe's pseudonymous id, creating and saving it on first use."""
    table = settings.read()
    current = table.get("probe_id")
    if isinstance(current, str) and current:
        return current
    table["probe_id"] = new_probe_id()
    settings.write(table)
    return str(table["probe_id"])


def open_session(config: ProbeConfig) -> MeasureSession:
    """Return a measuring session for these settings (an async context manager).

    Raises:
        ConfigError: a fingerprint or GeoIP file cannot be read.
    """
    reference = load_reference(
        config.fingerprint_paths, config.public_networks, config.throttle_kbps
    )
    mine = own_addresses()
    resolver = config.udp_resolver[0] if config.udp_resolver else None
    if config.geoip_paths:
        with GeoDatabases(config.geoip_paths) as databases:
            network = probe_network(databases, mine, resolver)
    else:
        network = probe_network(None, mine, resolver)
    return MeasureSession(
        config,
        reference,
        network=network,
        probe_id=probe_id(ConfigFile(config.config_path)),
        own_addresses=mine,
    )
