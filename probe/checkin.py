"""Ask the collector what to measure (check-in) and where this probe is (geolookup).

A check-in also announces the collector's fingerprint set (`probe.fingerprint_updates` fetches
it when it is newer).

The probe never sends its address anywhere: the collector reads it from the connection and
answers it back so the probe can scrub it from its measurements. Failures to reach the
collector raise `CollectorUnreachable`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import httpx
import msgspec
import trio

from probe.errors import CollectorUnreachable
from probe.model import ProbeNetwork
from probe.testlists import ListEntry
from probe.upload import collector_endpoint

CHECKIN_PATH = "/api/v1/check-in"
GEOLOOKUP_PATH = "/api/v1/geolookup"
REQUEST_TIMEOUT_S = 30.0
MAX_REPLY_BYTES = 8 << 20


class _GeoReply(msgspec.Struct):
    cc: str = "ZZ"
    asn: str = "AS0"
    network_name: str = ""
    address: str = ""


class _CheckInUrl(msgspec.Struct):
    url: str
    category_code: str | None = None


class FingerprintOffer(msgspec.Struct, frozen=True):
    """The collector's fingerprint set as announced at check-in: version, digest, size, where."""

    version: str
    digest: str
    size_bytes: int
    url: str
    """A path on the collector, e.g. /api/v1/fingerprints."""


class _CheckInReply(msgspec.Struct):
    control_url: str
    probe_cc: str = "ZZ"
    probe_asn: str = "AS0"
    urls: list[_CheckInUrl] = []
    fingerprints: FingerprintOffer | None = None


@dataclass(frozen=True)
class NetworkInfo:
    """This probe's network and public address as the collector sees them."""

    network: ProbeNetwork
    address: str | None


@dataclass(frozen=True)
class CheckIn:
    """What the collector asked this probe to measure, and with which control."""

    entries: list[ListEntry]
    control_url: str
    fingerprints: FingerprintOffer | None = None


async def _get(
    client: httpx.AsyncClient, collector_url: str, path: str, params: dict[str, str]
) -> bytes:
    url = collector_endpoint(collector_url, path)
    try:
        with trio.fail_after(REQUEST_TIMEOUT_S):
            response = await client.get(url, params=params)
    except (httpx.HTTPError, trio.TooSlowError, OSError) as exc:
        reason = str(exc) or type(exc).__name__
        raise CollectorUnreachable(
            f"the collector at {collector_url} is unreachable: {reason}"
        ) from exc
    if response.status_code != 200 or len(response.content) > MAX_REPLY_BYTES:
        raise CollectorUnreachable(
            f"the collector at {collector_url} answered HTTP {response.status_code} to {path}"
        )
    return response.content


async def geolookup(client: httpx.AsyncClient, collector_url: str) -> NetworkInfo:
    """Return this probe's network and address as the collector sees them.

    Raises:
        CollectorUnreachable: no usable answer.
    """
    data = await _get(client, collector_url, GEOLOOKUP_PATH, {})
    try:
        reply = msgspec.json.decode(data, type=_GeoReply)
        network = msgspec.convert(
            {"cc": reply.cc, "asn": reply.asn, "network_name": reply.network_name}, ProbeNetwork
        )
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise CollectorUnreachable(f"the collector's geolookup answer is unusable: {exc}") from exc
    return NetworkInfo(network=network, address=reply.address or None)


async def check_in(
    client: httpx.AsyncClient,
    collector_url: str,
    *,
    network: ProbeNetwork,
    categories: Sequence[str] = (),
    limit: int = 100,
) -> CheckIn:
    """Return the URLs to measure and the control to use.

    Raises:
        CollectorUnreachable: no usable answer.
    """
    params = {"cc": network.cc, "asn": network.asn, "limit": str(limit)}
    if categories:
        params["categories"] = ",".join(categories)
    data = await _get(client, collector_url, CHECKIN_PATH, params)
    try:
        reply = msgspec.json.decode(data, type=_CheckInReply)
    except msgspec.DecodeError as exc:
        raise CollectorUnreachable(f"the collector's check-in answer is unusable: {exc}") from exc
    entries = [ListEntry(url=u.url, category_code=u.category_code) for u in reply.urls]
    return CheckIn(entries=entries, control_url=reply.control_url, fingerprints=reply.fingerprints)
