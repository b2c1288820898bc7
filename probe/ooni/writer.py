"""Write a Crenel measurement as an OONI Web Connectivity measurement (data format 0.2.0).

Pure: a `Measurement` in, a JSON-ready dict out, in the shape of OONI's df-000 base keys and
ts-017 test keys (queries, tcp_connect, tls_handshakes, requests, control, and the analysis
keys blocking, accessible, dns_consistency and the *_match keys), so OONI's tools can read
Crenel's data. `probe.ooni.reader` reads it back to the same observations.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

import msgspec

from probe.model import (
    Blocking,
    ControlExchange,
    DnsAnswer,
    DnsQuery,
    HttpTransaction,
    Measurement,
    ResolverKind,
    TcpConnect,
    TlsHandshake,
)

TEST_VERSION = "0.4.3"
"""The Web Connectivity version whose keys this writes (the classic, non-LTE layout)."""
_ENGINES = {
    ResolverKind.SYSTEM: "getaddrinfo",
    ResolverKind.UDP: "udp",
    ResolverKind.TCP: "tcp",
    ResolverKind.DOH: "doh",
}


def ooni_from_measurement(measurement: Measurement, *, report_id: str = "") -> dict[str, Any]:
    """Return the measurement as an OONI `web_connectivity` document."""
    m = measurement
    start = m.start_time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    origin = m.origin
    doc: dict[str, Any] = {
        "annotations": {**m.annotations, "crenel_uid": m.uid},
        "data_format_version": "0.2.0",
        "input": m.input,
        "measurement_start_time": start,
        "probe_asn": m.probe.asn,
        "probe_cc": m.probe.cc,
        "probe_ip": "127.0.0.1",
        "probe_network_name": m.probe.network_name,
        "report_id": (origin.report_id if origin and origin.report_id else report_id),
        "resolver_asn": m.probe.resolver_asn,
        "resolver_ip": "127.0.0.2",
        "resolver_network_name": m.probe.resolver_network_name,
        "software_name": m.software_name,
        "software_version": m.software_version,
        "test_helpers": {"backend": {"address": m.control.endpoint, "type": "https"}}
        if m.control
        else {},
        "test_keys": _test_keys(m),
        "test_name": "web_connectivity",
        "test_runtime": m.runtime_ms / 1000.0,
        "test_start_time": start,
        "test_version": origin.test_version if origin and origin.test_version else TEST_VERSION,
    }
    if origin and origin.measurement_uid:
        doc["measurement_uid"] = origin.measurement_uid
    return doc


def ooni_json_line(measurement_json: bytes) -> bytes:
    """Return one stored Crenel measurement (its JSON) as one line of OONI JSON, without newline."""
    measurement = msgspec.json.decode(measurement_json, type=Measurement)
    return msgspec.json.encode(ooni_from_measurement(measurement))


def _seconds(ms: float | None) -> float:
    return (ms or 0.0) / 1000.0


def _tags(depth: int) -> list[str]:
    return [f"depth={depth}"]


def _answer(answer: DnsAnswer) -> dict[str, Any]:
    out: dict[str, Any] = {"answer_type": answer.answer_type, "asn": answer.asn or 0}
    out["as_org_name"] = answer.as_org or ""
    if answer.answer_type == "A":
        out["ipv4"] = answer.address
    elif answer.answer_type == "AAAA":
        out["ipv6"] = answer.address
    else:
        out["hostname"] = answer.hostname
    out["ttl"] = answer.ttl
    return out


def _query(q: DnsQuery) -> dict[str, Any]:
    return {
        # df-002: `answers` is a list of Answer objects, empty when there are none.
        "answers": [_answer(a) for a in q.answers],
        "engine": _ENGINES[q.resolver_kind],
        "failure": q.failure,
        "hostname": q.hostname,
        "query_type": q.query_type,
        "resolver_address": "" if q.resolver_kind is ResolverKind.SYSTEM else q.resolver_address,
        "t0": _seconds(q.t0_ms),
        "t": _seconds(q.t_ms),
        "tags": _tags(q.depth),
        "transaction_id": q.id,
    }


def _duplicates(queries: list[DnsQuery]) -> list[dict[str, Any]]:
    """Return the UDP responses after the first of each query (OONI's late duplicates)."""
    return [
        {
            "answers": [_answer(a) for a in response.answers],
            "engine": "udp",
            "failure": None,
            "hostname": q.hostname,
            "query_type": q.query_type,
            "resolver_address": q.resolver_address,
            "t0": _seconds(q.t0_ms),
            "t": _seconds(response.t_ms),
            "tags": _tags(q.depth),
            "transaction_id": q.id,
        }
        for q in queries
        if q.resolver_kind is ResolverKind.UDP
        for response in q.responses[1:]
    ]


def _endpoint(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _connect(c: TcpConnect) -> dict[str, Any]:
    return {
        "ip": c.address,
        "port": c.port,
        "status": {
            "blocked": c.failure is not None,
            "failure": c.failure,
            "success": not c.failure,
        },
        "t0": _seconds(c.t0_ms),
        "t": _seconds(c.t_ms),
        "tags": _tags(c.depth),
        "transaction_id": c.id,
    }


def _handshake(h: TlsHandshake) -> dict[str, Any]:
    return {
        "network": "tcp",
        "address": _endpoint(h.address, h.port),
        "cipher_suite": h.cipher_suite or "",
        "failure": h.failure,
        "negotiated_protocol": h.negotiated_protocol or "",
        "no_tls_verify": False,
        "peer_certificates": [],
        "server_name": h.server_name,
        "t0": _seconds(h.t0_ms),
        "t": _seconds(h.t_ms),
        "tags": _tags(h.depth),
        "tls_version": h.tls_version or "",
        "transaction_id": h.id,
    }


def _request(t: HttpTransaction) -> dict[str, Any]:
    # df-001: a body is a string or BinaryData, never null; code 0 says there was no response.
    response: dict[str, Any] = {
        "body": "",
        "body_is_truncated": False,
        "code": 0,
        "headers_list": [],
        "headers": {},
    }
    if t.response is not None:
        r = t.response
        body: Any = r.body_prefix or ""
        if r.body_prefix_base64 is not None:
            body = {"format": "base64", "data": r.body_prefix_base64}
        response = {
            "body": body,
            "body_is_truncated": not r.body_is_complete,
            "code": r.status_code,
            "headers_list": [[k, v] for k, v in r.headers],
            "headers": dict(r.headers),
        }
    return {
        "network": "tcp",
        "address": _endpoint(t.address, t.port),
        "alpn": t.negotiated_protocol or "",
        "failure": t.failure,
        "request": {
            "body": "",
            "body_is_truncated": False,
            "headers_list": [[k, v] for k, v in t.request_headers],
            "headers": dict(t.request_headers),
            "method": t.method,
            "tor": {"exit_ip": None, "exit_name": None, "is_tor": False},
            "x_transport": "tcp",
            "url": t.url,
        },
        "response": response,
        "t0": _seconds(t.t0_ms),
        "t": _seconds(t.t_ms),
        "tags": _tags(t.depth),
        "transaction_id": t.id,
    }


def _control(exchange: ControlExchange | None) -> tuple[dict[str, Any], str | None]:
    if exchange is None:
        return {}, None
    if exchange.reply is None:
        return {}, exchange.failure or "unknown_failure: no reply"
    reply = exchange.reply
    return {
        "tcp_connect": {
            _endpoint(c.address, c.port): {"status": c.failure is None, "failure": c.failure}
            for c in reply.tcp
        },
        "tls_handshake": {
            _endpoint(t.address, t.port): {
                "server_name": t.server_name,
                "status": t.failure is None,
                "failure": t.failure,
            }
            for t in reply.tls
        },
        "http_request": {
            "body_length": reply.http.body_length if reply.http.body_length is not None else -1,
            "failure": reply.http.failure,
            "title": reply.http.title or "",
            "headers": dict(reply.http.headers),
            "status_code": reply.http.status_code if reply.http.status_code is not None else -1,
            # Not in OONI's helper reply; Crenel's analysis compares redirect chains with them.
            "x_final_url": reply.http.final_url,
            "x_redirects": list(reply.http.redirects),
        },
        "dns": {"failure": reply.dns.failure, "addrs": list(reply.dns.addresses)},
        "ip_info": {
            a.address: {
                "asn": a.asn or 0,
                "flags": (4 if a.is_bogon else 0) | (8 if a.is_tls_valid else 0),
            }
            for a in reply.addresses
        },
    }, None


def _test_keys(m: Measurement) -> dict[str, Any]:
    control, control_failure = _control(m.control)
    analysis = m.analysis
    blocking = analysis.blocking
    comparison = analysis.http
    first_dns_failure = next((q.failure for q in m.dns if q.depth == 0 and q.failure), None)
    final = m.http[-1] if m.http else None
    return {
        "agent": "redirect",
        "client_resolver": "127.0.0.2",
        "retries": None,
        "socksproxy": None,
        "queries": [_query(q) for q in m.dns],
        "x_dns_duplicate_responses": _duplicates(m.dns),
        "tcp_connect": [_connect(c) for c in m.tcp],
        "tls_handshakes": [_handshake(h) for h in m.tls],
        # OONI lists requests newest first.
        "requests": [_request(t) for t in reversed(m.http)],
        "control": control,
        "control_failure": control_failure,
        "dns_experiment_failure": first_dns_failure,
        "http_experiment_failure": final.failure if final else None,
        "dns_consistency": analysis.dns_consistency.value if analysis.dns_consistency else None,
        "body_length_match": comparison.body_length_match if comparison else None,
        "body_proportion": comparison.body_proportion if comparison else None,
        "headers_match": comparison.headers_match if comparison else None,
        "status_code_match": comparison.status_code_match if comparison else None,
        "title_match": comparison.title_match if comparison else None,
        "blocking": blocking.value if isinstance(blocking, Blocking) else blocking,
        "accessible": analysis.accessible,
        "x_crenel_verdict": analysis.verdict.value,
        "x_crenel_methods": [method.value for method in analysis.methods],
        "x_crenel_confidence": analysis.confidence,
    }
