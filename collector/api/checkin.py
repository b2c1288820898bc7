"""Probe services: `GET /check-in` (what to measure, which control, which fingerprint set),
`GET /fingerprints` (that set) and `GET /geolookup`.

The source address is looked up and answered back, never stored. A probe's own cc/asn win over
GeoIP unless unknown (ZZ / AS0): probes behind VPNs or Tor would otherwise be mislabelled.
"""

from __future__ import annotations

from datetime import timedelta

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from collector.api.ingest import source_address
from collector.api.params import parse_asn, parse_int
from collector.api.routes import CONTROL_PATH, FINGERPRINTS_PATH
from collector.api.schemas import CheckInReply, FingerprintOffer, GeoLookupReply
from collector.core.errors import InvalidField, NotFound
from collector.runtime import Runtime

DEFAULT_URLS = 100
RECENT = timedelta(days=7)


def control_url(collector: Runtime, request: Request) -> str:
    """Return the control a probe should use: the configured one, else this collector's own."""
    if collector.config.control_url:
        return collector.config.control_url
    return str(request.base_url).rstrip("/") + CONTROL_PATH


def fingerprint_offer(collector: Runtime) -> FingerprintOffer | None:
    """Return the announcement of the set this collector analyses with (None without one)."""
    served = collector.analyser.reference.fingerprint_set
    if served is None:
        return None
    return FingerprintOffer(
        version=served.version,
        digest=served.digest,
        size_bytes=len(served.data),
        url=FINGERPRINTS_PATH,
    )


async def fingerprint_set(collector: Runtime, request: Request) -> Response:
    """Return the collector's fingerprint set as its canonical bytes (404 without one)."""
    served = collector.analyser.reference.fingerprint_set
    if served is None:
        raise NotFound("this collector serves no fingerprint set")
    return Response(
        served.data,
        media_type="application/json",
        headers={"etag": f'"{served.digest}"', "x-crenel-fingerprint-set": served.version},
    )


async def check_in(collector: Runtime, request: Request) -> Response:
    """Return the URL list for the probe's network and the control URL."""
    params = request.query_params
    claimed_cc = (params.get("cc") or "").strip().upper()
    if claimed_cc and (len(claimed_cc) != 2 or not claimed_cc.isalpha()):
        raise InvalidField("cc must be an ISO 3166 alpha-2 country code", field="cc")
    claimed_asn = parse_asn(params["asn"]) if params.get("asn") else 0
    categories = tuple(
        c.strip().upper() for c in (params.get("categories") or "").split(",") if c.strip()
    )
    limit = parse_int(
        params.get("limit"),
        "limit",
        default=DEFAULT_URLS,
        minimum=1,
        maximum=collector.config.limits.checkin_max_urls,
    )
    located = collector.locator.locate(source_address(request))
    cc = claimed_cc if claimed_cc and claimed_cc != "ZZ" else ""
    asn = claimed_asn
    name = ""
    if located is not None:
        cc = cc or (located.cc or "")
        if asn == 0:
            asn = located.asn or 0
        if located.asn is not None and located.asn == asn:
            name = located.network_name or ""
    now = collector.config.clock()
    store = collector.storage.backend
    urls = await collector.storage.read(
        lambda: store.check_in_urls(
            cc=cc or "ZZ", asn=asn, categories=categories, limit=limit, since=now - RECENT
        )
    )
    reply = CheckInReply(
        probe_cc=cc or "ZZ",
        probe_asn=f"AS{asn}",
        probe_network_name=name,
        control_url=control_url(collector, request),
        utc_time=now,
        urls=urls,
        fingerprints=fingerprint_offer(collector),
    )
    return Response(msgspec.json.encode(reply), media_type="application/json")


async def geolookup(collector: Runtime, request: Request) -> Response:
    """Return the caller's network as seen from here, and its address."""
    address = source_address(request) or ""
    located = collector.locator.locate(address)
    reply = GeoLookupReply(
        cc=(located.cc if located and located.cc else "ZZ"),
        asn=f"AS{located.asn if located and located.asn else 0}",
        network_name=(located.network_name if located and located.network_name else ""),
        address=address,
    )
    return Response(msgspec.json.encode(reply), media_type="application/json")
