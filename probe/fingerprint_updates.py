"""Take a newer fingerprint set from the collector: fetch it (size-bounded), check its digest
against the check-in's announcement, and keep it in the probe's data directory.

Anything wrong raises `FingerprintSetRefused` with one line; the set in use stays as it was.
"""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import trio

from probe.analysis import (
    MAX_SET_BYTES,
    FingerprintError,
    VersionedSet,
    is_newer,
    read_versioned_set,
)
from probe.checkin import REQUEST_TIMEOUT_S, FingerprintOffer
from probe.errors import ConfigError, FingerprintSetRefused
from probe.net import abandon_body
from probe.references import store_set
from probe.upload import collector_endpoint

logger = logging.getLogger(__name__)


def wants(offer: FingerprintOffer, current: VersionedSet) -> bool:
    """Return whether the offered set is newer than the one in use.

    Raises:
        FingerprintSetRefused: the offered version is malformed.
    """
    if offer.digest == current.digest:
        return False
    try:
        return is_newer(offer.version, current.version)
    except FingerprintError as exc:
        raise FingerprintSetRefused(f"refused the collector's fingerprint set: {exc}") from exc


async def _fetch(client: httpx.AsyncClient, url: str, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    with trio.fail_after(REQUEST_TIMEOUT_S):
        async with client.stream("GET", url) as response:
            if response.status_code != 200:
                raise FingerprintSetRefused(
                    f"the collector answered HTTP {response.status_code} for its fingerprint set"
                )
            body = response.aiter_bytes()
            async for chunk in body:
                size += len(chunk)
                if size > limit:
                    await abandon_body(response, body)
                    raise FingerprintSetRefused(
                        f"refused the collector's fingerprint set: more than the {limit} "
                        "bytes it announced"
                    )
                chunks.append(chunk)
    return b"".join(chunks)


async def fetch_offered_set(
    client: httpx.AsyncClient, collector_url: str, offer: FingerprintOffer
) -> VersionedSet:
    """Return the offered set once its bytes match the announced digest and it parses.

    Raises:
        FingerprintSetRefused: too large, not on the collector, unreachable, not a set, or its
            digest or version differs from the announcement.
    """
    if not offer.url.startswith("/api/"):
        raise FingerprintSetRefused(
            f"refused the collector's fingerprint set: {offer.url!r} is not a path on the collector"
        )
    if not 0 < offer.size_bytes <= MAX_SET_BYTES:
        raise FingerprintSetRefused(
            f"refused the collector's fingerprint set: {offer.size_bytes} bytes is over the "
            f"{MAX_SET_BYTES}-byte limit"
        )
    url = collector_endpoint(collector_url, offer.url)
    try:
        data = await _fetch(client, url, offer.size_bytes)
    except (httpx.HTTPError, trio.TooSlowError, OSError) as exc:
        reason = str(exc) or type(exc).__name__
        raise FingerprintSetRefused(
            f"could not fetch the collector's fingerprint set: {reason}"
        ) from exc
    try:
        fetched = read_versioned_set(data, "the collector's fingerprint set")
    except FingerprintError as exc:
        raise FingerprintSetRefused(f"refused {exc}") from exc
    if fetched.digest != offer.digest or fetched.version != offer.version:
        raise FingerprintSetRefused(
            f"refused the collector's fingerprint set: it announced version {offer.version} "
            f"sha256 {offer.digest[:12]}, but sent version {fetched.version} "
            f"sha256 {fetched.digest[:12]}"
        )
    return fetched


async def update_fingerprint_set(
    client: httpx.AsyncClient,
    collector_url: str,
    offer: FingerprintOffer,
    current: VersionedSet,
    data_dir: Path,
) -> VersionedSet:
    """Return the set to use from now on: the offered one, fetched and stored, when it is newer
    than `current`; otherwise `current`.

    Raises:
        FingerprintSetRefused: the offered set could not be fetched, verified or stored.
    """
    if not wants(offer, current):
        return current
    fetched = await fetch_offered_set(client, collector_url, offer)
    try:
        path = await trio.to_thread.run_sync(store_set, data_dir, fetched)
    except ConfigError as exc:
        raise FingerprintSetRefused(exc.message) from exc
    logger.info("fingerprint set %s stored in %s", fetched.version, path)
    return fetched
