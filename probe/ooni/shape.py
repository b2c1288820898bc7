"""The parts of an OONI Web Connectivity measurement (data format 0.2.0) the reader reads, as
msgspec Structs: decoding a line into them skips every other field, decodes base64 bodies to
bytes in C, and lets the reader use attributes instead of chains of `dict.get`.

Fields where the reader accepts several JSON types (it always did, and the records must stay
the same) are typed `Any`; the reader checks them as before. Fields of the records the reader
builds are typed as OONI's spec writes them, so a field of another type is an unexpected shape.
Defaults give what `dict.get` gave for a missing key.
"""

from __future__ import annotations

from typing import Any

import msgspec


class _Shape(msgspec.Struct, frozen=True, kw_only=True):
    """A part of an OONI document (unknown fields are skipped)."""


class OoniAnswer(_Shape, frozen=True, kw_only=True):
    """One DNS answer of a query."""

    answer_type: str | None = ""
    ipv4: str | None = None
    ipv6: str | None = None
    asn: int | None = None
    hostname: str | None = None


class OoniQuery(_Shape, frozen=True, kw_only=True):
    """One DNS lookup (`test_keys.queries`)."""

    engine: str | None = ""
    hostname: str
    query_type: str | None = None
    resolver_address: str | None = ""
    answers: list[OoniAnswer] | None = None
    failure: Any = None
    tags: Any = None
    t0: Any = None
    t: Any = None


class OoniDuplicateResponse(_Shape, frozen=True, kw_only=True):
    """A second answer to a UDP query (`test_keys.x_dns_duplicate_responses`)."""

    hostname: Any = None
    query_type: Any = None
    answers: list[OoniAnswer] | None = None


class OoniStatus(_Shape, frozen=True, kw_only=True):
    """The outcome of a TCP connect."""

    failure: Any = None


class OoniTcpConnect(_Shape, frozen=True, kw_only=True):
    """One TCP connect (`test_keys.tcp_connect`)."""

    ip: str
    port: int
    status: OoniStatus | None = None
    tags: Any = None
    t0: Any = None
    t: Any = None


class OoniTlsHandshake(_Shape, frozen=True, kw_only=True):
    """One TLS handshake (`test_keys.tls_handshakes`)."""

    address: str
    server_name: str | None = None
    tls_version: str | None = None
    no_tls_verify: Any = None
    failure: Any = None
    tags: Any = None
    t0: Any = None
    t: Any = None


class OoniBody(_Shape, frozen=True, kw_only=True):
    """A body that is not UTF-8, as OONI writes it: `{"format": "base64", "data": ...}`."""

    data: bytes = b""


class OoniResponse(_Shape, frozen=True, kw_only=True):
    """The response of one HTTP request."""

    code: int | None = None
    body: str | OoniBody | None = None
    body_is_truncated: Any = None
    headers_list: list[tuple[str, str]] | None = None


class OoniRequestLine(_Shape, frozen=True, kw_only=True):
    """What was asked in one HTTP request."""

    url: str


class OoniRequest(_Shape, frozen=True, kw_only=True):
    """One HTTP request and its response (`test_keys.requests`)."""

    request: OoniRequestLine
    response: OoniResponse | None = None
    address: str | None = None
    failure: Any = None
    tags: Any = None
    t0: Any = None
    t: Any = None


class OoniTestKeys(_Shape, frozen=True, kw_only=True):
    """A Web Connectivity measurement's `test_keys`: observations, control, OONI's verdict."""

    queries: list[OoniQuery] | None = None
    tcp_connect: list[OoniTcpConnect] | None = None
    tls_handshakes: list[OoniTlsHandshake] | None = None
    requests: list[OoniRequest] | None = None
    x_dns_duplicate_responses: list[OoniDuplicateResponse] | None = None
    control: Any = None
    control_failure: Any = None
    blocking: Any = None
    accessible: Any = None


class OoniDocument(_Shape, frozen=True, kw_only=True):
    """One OONI measurement: its envelope and, for Web Connectivity, its test keys."""

    test_name: Any = None
    data_format_version: Any = None
    test_keys: OoniTestKeys | None = None
    input: Any = None
    measurement_start_time: Any = None
    measurement_uid: Any = None
    report_id: Any = None
    software_name: Any = None
    software_version: Any = None
    test_version: Any = None
    test_runtime: Any = None
    probe_ip: Any = None
    probe_cc: Any = None
    probe_asn: Any = None
    probe_network_name: Any = None
    resolver_asn: Any = None
    resolver_network_name: Any = None
