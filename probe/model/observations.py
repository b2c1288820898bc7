"""DNS, TCP, TLS and HTTP records: what the probe saw, never what it means.

Pure: no I/O. Times are milliseconds since the measurement started (`t0_ms` when a step began,
`t_ms` when it ended); only `probe.analysis` interprets these facts.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import msgspec

from probe.model.base import FailureText, Ms, Port, Record, Sha256Hex

Doc = msgspec.Meta


class ResolverKind(StrEnum):
    """How a DNS lookup was made."""

    SYSTEM = "system"
    UDP = "udp"
    TCP = "tcp"
    DOH = "doh"


class DnsAnswer(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One resource record of a DNS answer section."""

    answer_type: Annotated[str, Doc(description="Record type: A, AAAA or CNAME.")]
    address: Annotated[str | None, Doc(description="The IPv4 or IPv6 address (A/AAAA).")] = None
    hostname: Annotated[str | None, Doc(description="The target name (CNAME).")] = None
    ttl: Annotated[int | None, Doc(description="The record's DNS TTL in seconds.")] = None
    asn: Annotated[
        int | None, Doc(description="Autonomous system of the address, from the probe's GeoIP DB.")
    ] = None
    as_org: Annotated[str | None, Doc(description="Name of that autonomous system.")] = None


class DnsResponse(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One DNS response packet received for a query, in arrival order."""

    t_ms: Annotated[Ms, Doc(description="Arrival time, ms since the measurement started.")]
    delay_ms: Annotated[float, Doc(ge=0, description="Arrival time, ms after the query was sent.")]
    source: Annotated[str, Doc(description="Address and port the packet came from.")]
    ip_ttl: Annotated[
        int | None, Doc(description="IP TTL (hop limit) of the packet, where the OS reports it.")
    ] = None
    ip_id: (
        Annotated[
            int,
            Doc(ge=0, le=65535, description="IP identification field, from packet capture (1.1)."),
        ]
        | None
    ) = None
    udp_checksum: Annotated[
        bool | None,
        Doc(description="The UDP checksum was set (non-zero), from packet capture (1.1)."),
    ] = None
    rcode: Annotated[str, Doc(description="DNS response code, e.g. NOERROR or NXDOMAIN.")]
    answers: list[DnsAnswer] = []


class DnsQuery(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One DNS lookup of one name and type through one resolver."""

    id: Annotated[int, Doc(ge=1, description="Transaction id, unique within the measurement.")]
    depth: Annotated[int, Doc(ge=0, description="Redirect depth: 0 for the input URL.")] = 0
    resolver_kind: ResolverKind
    resolver_address: Annotated[
        str, Doc(description="ip:port for udp/tcp, the URL for doh, `getaddrinfo` for system.")
    ]
    hostname: Annotated[str, Doc(description="The queried name (IDNA-encoded).")]
    query_type: Annotated[str, Doc(description="A, AAAA, or ANY for getaddrinfo.")]
    t0_ms: Ms
    t_ms: Annotated[Ms, Doc(description="When the lookup produced its result (or failed).")]
    rcode: Annotated[str | None, Doc(description="Response code of the first response.")] = None
    answers: Annotated[
        list[DnsAnswer], Doc(description="The answers the probe used: those of the first response.")
    ] = []
    responses: Annotated[
        list[DnsResponse],
        Doc(
            description="Every response received within the capture window, in arrival order. "
            "More than one distinct answer set to one query is injection evidence."
        ),
    ] = []
    failure: FailureText | None = None


class TcpConnect(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One TCP connect attempt to an address and port."""

    id: Annotated[int, Doc(ge=1, description="Transaction id, unique within the measurement.")]
    depth: Annotated[int, Doc(description="Redirect depth: 0 for the input URL.")] = 0
    address: Annotated[str, Doc(description="IPv4 or IPv6 address connected to.")]
    port: Annotated[Port, Doc(description="Port connected to.")]
    local_port: Annotated[
        Port | None,
        Doc(description="Local TCP port (never the local address), to match captured packets."),
    ] = None
    t0_ms: Ms
    t_ms: Ms
    failure: FailureText | None = None


class Certificate(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One X.509 certificate of a peer's chain, summarised."""

    sha256: Annotated[Sha256Hex, Doc(description="SHA-256 of the DER encoding, lower-case hex.")]
    subject: Annotated[str, Doc(description="Subject as an RFC 4514 string.")]
    issuer: Annotated[str, Doc(description="Issuer as an RFC 4514 string.")]
    not_before: Annotated[str, Doc(description="Start of validity, RFC 3339 UTC.")]
    not_after: Annotated[str, Doc(description="End of validity, RFC 3339 UTC.")]
    dns_names: Annotated[list[str], Doc(description="DNS names in subjectAltName.")] = []


class TlsHandshake(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One TLS handshake with a chosen SNI over a fresh TCP connection."""

    id: Annotated[int, Doc(ge=1, description="Transaction id, unique within the measurement.")]
    depth: Annotated[int, Doc(description="Redirect depth: 0 for the input URL.")] = 0
    address: Annotated[str, Doc(description="IPv4 or IPv6 address connected to.")]
    port: Annotated[Port, Doc(description="Port connected to.")]
    server_name: Annotated[str, Doc(description="The SNI sent in the ClientHello.")]
    local_port: Annotated[
        Port | None,
        Doc(description="Local TCP port (never the local address), to match captured packets."),
    ] = None
    t0_ms: Annotated[Ms, Doc(description="Start of the TCP connect that carried the handshake.")]
    t_ms: Ms
    tls_version: Annotated[str | None, Doc(description="e.g. TLSv1.3.")] = None
    cipher_suite: Annotated[
        str | None, Doc(description="Negotiated cipher suite, e.g. TLS_AES_256_GCM_SHA384.")
    ] = None
    negotiated_protocol: Annotated[str | None, Doc(description="ALPN result.")] = None
    peer_certificates: Annotated[
        list[Certificate], Doc(description="The chain the peer presented, leaf first.")
    ] = []
    is_verified: Annotated[
        bool, Doc(description="Chain and name verified against the probe's trust store.")
    ] = False
    certificates_from_retry: Annotated[
        bool,
        Doc(
            description="The chain was read from a second handshake with verification off, "
            "because verification failed in the first."
        ),
    ] = False
    failure: FailureText | None = None


class ByteSample(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Cumulative bytes of a response body received by a given time."""

    t_ms: Ms
    bytes: Annotated[int, Doc(ge=0, description="Body bytes received up to t_ms.")]


class HttpResponse(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What came back for an HTTP request."""

    status_code: Annotated[int, Doc(ge=100, le=999, description="HTTP status code.")]
    http_version: Annotated[str, Doc(description="e.g. HTTP/1.1.")]
    headers: Annotated[
        list[tuple[str, str]], Doc(description="Header names and values in received order.")
    ]
    body_prefix: Annotated[
        str | None, Doc(description="The body prefix as text, when it is valid UTF-8.")
    ] = None
    body_prefix_base64: Annotated[
        str | None, Doc(description="The body prefix in base64, when it is not valid UTF-8.")
    ] = None
    body_length: Annotated[int, Doc(ge=0, description="Body bytes received in total.")]
    body_is_complete: Annotated[
        bool, Doc(description="The body was read to its end (else cut by a limit or a failure).")
    ]
    body_sha256: Annotated[
        Sha256Hex,
        Doc(
            description="SHA-256 of all body bytes received; of the stored prefix instead when "
            "body_is_scrubbed."
        ),
    ]
    title: Annotated[str | None, Doc(description="Text of the page's <title>, if any.")] = None
    body_is_scrubbed: Annotated[
        bool,
        Doc(
            description="The probe's address was replaced in the body prefix, and body_sha256 "
            "is the digest of the scrubbed prefix (1.2)."
        ),
    ] = False
    body_prefix_is_trimmed: Annotated[
        bool,
        Doc(
            description="The body prefix was shortened or left out to keep the measurement "
            "within its size budget; body_length and body_sha256 still describe the body (1.2)."
        ),
    ] = False


class HttpTransaction(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One HTTP request on its own connection to one address, and its response."""

    id: Annotated[int, Doc(ge=1, description="Transaction id, unique within the measurement.")]
    depth: Annotated[int, Doc(ge=0, description="Redirect hop: 0 for the input URL.")] = 0
    url: Annotated[str, Doc(description="The URL requested (IDNA-encoded host).")]
    method: Annotated[str, Doc(description="HTTP method.")] = "GET"
    address: Annotated[str, Doc(description="Address the request was sent to.")]
    port: Annotated[Port, Doc(description="Port the request was sent to.")]
    local_port: Annotated[
        Port | None,
        Doc(description="Local TCP port (never the local address), to match captured packets."),
    ] = None
    request_headers: Annotated[
        list[tuple[str, str]], Doc(description="Headers sent, names and values in order.")
    ] = []
    t0_ms: Ms
    t_ms: Ms
    connect_ms: Annotated[Ms | None, Doc(description="When the TCP connect completed.")] = None
    tls_ms: Annotated[Ms | None, Doc(description="When the TLS handshake completed.")] = None
    request_sent_ms: Ms | None = None
    headers_ms: Annotated[Ms | None, Doc(description="When response headers arrived.")] = None
    tls_version: Annotated[
        str | None, Doc(description="TLS version of the connection (https only).")
    ] = None
    negotiated_protocol: Annotated[
        str | None, Doc(description="ALPN result of the connection.")
    ] = None
    response: Annotated[
        HttpResponse | None, Doc(description="The response, if its head arrived.")
    ] = None
    received: Annotated[
        list[ByteSample],
        Doc(description="Body bytes received over time (at most 64 samples), for throttling."),
    ] = []
    failure: FailureText | None = None
