"""Build what measuring needs from the settings: reference data, network identity, the
measuring session, the HTTP client for the collector, and where the collector says we are.

Shared by the `measure`, `run` and `upload` subcommands; reads fingerprint and GeoIP files once
per invocation (the fingerprint set is the shipped one, or a newer one the collector
handed over). Prints nothing: what the user should hear goes to the caller's `say`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import httpx

from probe.checkin import NetworkInfo, geolookup
from probe.config import ConfigFile, ProbeConfig
from probe.errors import CollectorUnreachable
from probe.geo import GeoDatabases, probe_network
from probe.identity import new_probe_id
from probe.measure import MeasureSession
from probe.model import ProbeNetwork
from probe.net import make_ssl_context
from probe.privacy import own_addresses
from probe.references import active_set, load_reference
from probe.volunteer.evidence import packet_recorder

COLLECTOR_TIMEOUT_S = 60.0

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


def local_network(config: ProbeConfig, mine: Iterable[str]) -> ProbeNetwork | None:
    """Return the probe's network from its local GeoIP databases, or None without any.

    Raises:
        ConfigError: a GeoIP file cannot be read.
    """
    if not config.geoip_paths:
        return None
    resolver = config.udp_resolver[0] if config.udp_resolver else None
    with GeoDatabases(config.geoip_paths) as databases:
        return probe_network(databases, mine, resolver)


def open_session(
    config: ProbeConfig,
    *,
    say: Callable[[str], None],
    network: ProbeNetwork | None = None,
    extra_addresses: Iterable[str] = (),
) -> MeasureSession:
    """Return a measuring session for these settings (an async context manager).

    The network comes from the local GeoIP databases when there are any, else from `network`
    (what the collector's geolookup said). `extra_addresses` (the public address the collector
    saw) are scrubbed from every measurement besides the interfaces' own.

    Packet evidence and localisation are on when the settings ask and the privileges allow
    (see `probe.volunteer.evidence`; `say` gets the line saying why one is off).

    Raises:
        ConfigError: a fingerprint or GeoIP file cannot be read.
        PrivilegeMissing: packet evidence is `required` but impossible here.
    """
    reference = load_reference(
        config.fingerprint_paths,
        config.public_networks,
        config.throttle_kbps,
        fingerprint_set=active_set(config.data_dir),
    )
    mine = own_addresses() | frozenset(extra_addresses)
    found = local_network(config, mine)
    return MeasureSession(
        config,
        reference,
        network=found or network or ProbeNetwork(),
        probe_id=probe_id(ConfigFile(config.config_path)),
        own_addresses=mine,
        packets=packet_recorder(config, say=say),
    )


def collector_client(config: ProbeConfig) -> httpx.AsyncClient:
    """Return an HTTP client for the collector (trusting --ca-bundle too); the caller closes it."""
    return httpx.AsyncClient(
        verify=make_ssl_context(config.ca_bundle),
        trust_env=False,
        timeout=COLLECTOR_TIMEOUT_S,
        follow_redirects=False,
    )


async def locate(
    client: httpx.AsyncClient | None,
    config: ProbeConfig,
    *,
    needed: bool,
    warn: Callable[[str], None],
) -> NetworkInfo | None:
    """Return the collector's view of this probe's network and public address.

    None without a collector, or when it does not answer and `needed` is false (then `warn`
    gets one line: only the interfaces' own addresses will be scrubbed).

    Raises:
        CollectorUnreachable: the collector does not answer and `needed` is true.
    """
    if client is None or config.collector_url is None:
        return None
    try:
        return await geolookup(client, config.collector_url)
    except CollectorUnreachable as exc:
        if needed:
            raise
        warn(f"{exc.message}; measuring anyway")
        return None
