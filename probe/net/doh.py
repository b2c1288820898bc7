"""DNS over HTTPS (RFC 8484, POST application/dns-message), returning a `DnsQuery` record.

Failures are recorded, never raised; the caller's deadline bounds the lookup.
"""

from __future__ import annotations

import contextlib
from functools import partial

import dns.message
import dns.rcode
import dns.rdatatype
import httpx
import trio

from probe.model.failures import Failure
from probe.model.observations import DnsQuery, DnsResponse, ResolverKind
from probe.net.classify import NETWORK_ERRORS, classify
from probe.net.dns_answers import answers_of, parse_query_type, rcode_failure
from probe.net.http import abandon_body
from probe.net.names import DEFAULT_PORTS, encode_hostname, endpoint_text, hostname_for_record
from probe.net.timing import StepClock

DNS_MESSAGE_TYPE = "application/dns-message"
MAX_DNS_MESSAGE_BYTES = 65535


async def resolve_doh(
    hostname: str,
    query_type: str,
    url: str,
    *,
    client: httpx.AsyncClient,
    clock: StepClock,
    txid: int,
    depth: int = 0,
) -> DnsQuery:
    """Return the record of one DoH query to `url` (one response, `ip_ttl` None).

    A non-200 status is `dns_server_failure`; a body that is not a DNS response to the query is
    `dns_server_misbehaving`. The response is closed before returning.

    Raises:
        ValueError: `query_type` is not a DNS record type.
    """
    rdtype = parse_query_type(query_type)
    t0_ms = clock.ms()
    record = partial(
        DnsQuery,
        id=txid,
        depth=depth,
        resolver_kind=ResolverKind.DOH,
        resolver_address=url,
        hostname=hostname_for_record(hostname),
        query_type=query_type,
        t0_ms=t0_ms,
    )
    try:
        query = dns.message.make_query(encode_hostname(hostname), rdtype)
        query.id = 0  # RFC 8484 section 4.1: cache-friendly
        source = _source_of(url)
        status, body = await _post(client, url, query.to_wire())
    except NETWORK_ERRORS as exc:
        return record(t_ms=clock.ms(), failure=classify(exc))
    t_ms = clock.ms()
    if status != 200:
        return record(t_ms=t_ms, failure=Failure.DNS_SERVER_FAILURE.value)
    try:
        message = dns.message.from_wire(body) if body is not None else None
    except NETWORK_ERRORS:
        message = None
    if message is None or not query.is_response(message):
        return record(t_ms=t_ms, failure=Failure.DNS_BAD_RESPONSE.value)
    response = DnsResponse(
        t_ms=t_ms,
        delay_ms=round(max(0.0, t_ms - t0_ms), 3),
        source=source,
        rcode=dns.rcode.to_text(message.rcode()),
        answers=answers_of(message),
    )
    return record(
        t_ms=t_ms,
        rcode=response.rcode,
        answers=response.answers,
        responses=[response],
        failure=rcode_failure(message, query),
    )


async def _post(client: httpx.AsyncClient, url: str, wire: bytes) -> tuple[int, bytes | None]:
    """Return the status and body of the DoH POST; the body is None when too long or not DNS."""
    headers = {"content-type": DNS_MESSAGE_TYPE, "accept": DNS_MESSAGE_TYPE}
    response = await client.send(
        client.build_request("POST", url, content=wire, headers=headers), stream=True
    )
    try:
        if response.status_code != 200:
            return response.status_code, None
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != DNS_MESSAGE_TYPE:
            return response.status_code, None
        body = bytearray()
        chunks = response.aiter_bytes()
        async for chunk in chunks:
            body += chunk
            if len(body) > MAX_DNS_MESSAGE_BYTES:
                await abandon_body(response, chunks)
                return response.status_code, None
        return response.status_code, bytes(body)
    finally:
        # The answer, if any, is already read: a failing close changes nothing.
        with trio.move_on_after(1, shield=True), contextlib.suppress(*NETWORK_ERRORS):
            await response.aclose()


def _source_of(url: str) -> str:
    """Return the DoH server's `host:port` from its URL (default port by scheme)."""
    parsed = httpx.URL(url)
    port = parsed.port if parsed.port is not None else DEFAULT_PORTS.get(parsed.scheme, 443)
    return endpoint_text(parsed.raw_host.decode("ascii"), port)
