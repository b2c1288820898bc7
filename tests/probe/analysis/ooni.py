"""Convert an OONI Web Connectivity measurement (data format 0.2.0) into a Crenel measurement.

Test support only: it lets the analysis be checked against OONI's own verdicts on OONI's corpus.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from typing import Any

from probe.model import (
    Analysis,
    ControlAddressInfo,
    ControlDns,
    ControlExchange,
    ControlHttp,
    ControlReply,
    ControlTcp,
    ControlTls,
    DnsAnswer,
    DnsQuery,
    DnsResponse,
    HttpResponse,
    HttpTransaction,
    Measurement,
    MeasurementOptions,
    ProbeNetwork,
    ResolverKind,
    TcpConnect,
    TlsHandshake,
    Verdict,
    is_failure_string,
    unknown_failure,
)

_ENGINES = {"getaddrinfo": ResolverKind.SYSTEM, "udp": ResolverKind.UDP, "doh": ResolverKind.DOH}
_LEGACY = {
    "dns_name_error": "dns_nxdomain_error",
    "connection_refused_error": "connection_refused",
    "android_dns_cache_no_data": "dns_no_answer",
    "unknown_failure: stopped after too many redirects": "http_too_many_redirects",
}


def failure(text: str | None) -> str | None:
    if text is None:
        return None
    text = _LEGACY.get(text, text)
    return text if is_failure_string(text) else unknown_failure(text)


def _depth(tags: list[str] | None) -> int:
    for tag in tags or []:
        if tag.startswith("depth="):
            return int(tag.split("=", 1)[1])
    return 0


def _split(endpoint: str) -> tuple[str, int]:
    host, _, port = endpoint.rpartition(":")
    return host.strip("[]"), int(port)


def _answers(raw: list[dict[str, Any]] | None) -> list[DnsAnswer]:
    out = []
    for a in raw or []:
        kind = a.get("answer_type", "")
        if kind in ("A", "AAAA"):
            out.append(
                DnsAnswer(
                    answer_type=kind,
                    address=a.get("ipv4") or a.get("ipv6"),
                    asn=a.get("asn") or None,
                )
            )
        elif kind == "CNAME":
            out.append(DnsAnswer(answer_type=kind, hostname=a.get("hostname")))
    return out


def _body(raw: Any) -> bytes:
    if isinstance(raw, dict):
        return base64.b64decode(raw.get("data", ""))
    return (raw or "").encode()


def convert(doc: dict[str, Any]) -> Measurement:
    tk = doc["test_keys"]
    next_id = iter(range(1, 100_000))
    dns: list[DnsQuery] = []
    for q in tk.get("queries") or []:
        kind = _ENGINES.get(q.get("engine", ""))
        if kind is None:
            continue
        answers = _answers(q.get("answers"))
        responses = []
        if kind is ResolverKind.UDP and not q.get("failure"):
            responses.append(
                DnsResponse(
                    t_ms=0,
                    delay_ms=0,
                    source=q.get("resolver_address", ""),
                    rcode="NOERROR",
                    answers=answers,
                )
            )
            for dup in tk.get("x_dns_duplicate_responses") or []:
                if dup.get("hostname") == q.get("hostname") and dup.get("query_type") == q.get(
                    "query_type"
                ):
                    responses.append(
                        DnsResponse(
                            t_ms=0,
                            delay_ms=0,
                            source="",
                            rcode="NOERROR",
                            answers=_answers(dup.get("answers")),
                        )
                    )
        dns.append(
            DnsQuery(
                id=next(next_id),
                depth=_depth(q.get("tags")),
                resolver_kind=kind,
                resolver_address=q.get("resolver_address") or "getaddrinfo",
                hostname=q["hostname"],
                query_type=q.get("query_type") or "ANY",
                t0_ms=0,
                t_ms=0,
                answers=answers,
                responses=responses,
                failure=failure(q.get("failure")),
            )
        )
    tcp = [
        TcpConnect(
            id=next(next_id),
            depth=_depth(c.get("tags")),
            address=c["ip"],
            port=c["port"],
            t0_ms=0,
            t_ms=0,
            failure=failure(c["status"].get("failure")),
        )
        for c in tk.get("tcp_connect") or []
    ]
    tls = []
    for h in tk.get("tls_handshakes") or []:
        address, port = _split(h["address"])
        tls.append(
            TlsHandshake(
                id=next(next_id),
                depth=_depth(h.get("tags")),
                address=address,
                port=port,
                server_name=h.get("server_name") or "",
                t0_ms=0,
                t_ms=0,
                tls_version=h.get("tls_version") or None,
                failure=failure(h.get("failure")),
                is_verified=h.get("failure") is None and not h.get("no_tls_verify"),
            )
        )
    http: list[HttpTransaction] = []
    depths_with_requests: set[int] = set()
    for r in reversed(tk.get("requests") or []):
        address, port = _split(r.get("address") or "0.0.0.0:0")
        depth = _depth(r.get("tags"))
        depths_with_requests.add(depth)
        response = None
        raw = r.get("response") or {}
        if raw.get("code"):
            body = _body(raw.get("body"))
            response = HttpResponse(
                status_code=raw["code"],
                http_version="HTTP/1.1",
                headers=[(k, v) for k, v in raw.get("headers_list") or []],
                body_prefix=body.decode("utf-8", "replace"),
                body_length=len(body),
                body_is_complete=not raw.get("body_is_truncated"),
                body_sha256=hashlib.sha256(body).hexdigest(),
                title=_title(body),
            )
        https = r["request"]["url"].startswith("https://")
        http.append(
            HttpTransaction(
                id=next(next_id),
                depth=depth,
                url=r["request"]["url"],
                address=address,
                port=port,
                t0_ms=0,
                t_ms=0,
                connect_ms=0,
                tls_ms=0 if https else None,
                request_sent_ms=0,
                headers_ms=0 if response is not None else None,
                tls_version="TLSv1.3" if https else None,
                response=response,
                failure=failure(r.get("failure")),
            )
        )
    fetching = {
        (c["ip"], c["port"], _depth(c.get("tags")))
        for c in tk.get("tcp_connect") or []
        if "fetch_body=true" in (c.get("tags") or [])
    }
    for h in tls:
        if (
            h.failure
            and h.depth not in depths_with_requests
            and (h.address, h.port, h.depth) in fetching
        ):
            depths_with_requests.add(h.depth)
            scheme = "https"
            http.append(
                HttpTransaction(
                    id=next(next_id),
                    depth=h.depth,
                    url=f"{scheme}://{h.server_name}/",
                    address=h.address,
                    port=h.port,
                    t0_ms=0,
                    t_ms=0,
                    connect_ms=0,
                    failure=h.failure,
                )
            )
    for c in tcp:
        if (
            c.failure
            and c.depth not in depths_with_requests
            and (c.address, c.port, c.depth) in fetching
        ):
            depths_with_requests.add(c.depth)
            http.append(
                HttpTransaction(
                    id=next(next_id),
                    depth=c.depth,
                    url=("https" if c.port == 443 else "http")
                    + f"://{_host_at(dns, c.depth, doc)}/",
                    address=c.address,
                    port=c.port,
                    t0_ms=0,
                    t_ms=0,
                    failure=c.failure,
                )
            )
    return Measurement(
        uid="0190a5a4-3c1e-7abc-8def-0123456789ab",
        software_name="ooni",
        software_version="x",
        input=doc["input"],
        url=_normalise(doc["input"]),
        start_time=datetime(2023, 1, 1, tzinfo=UTC),
        runtime_ms=0,
        probe=ProbeNetwork(),
        options=MeasurementOptions(),
        dns=dns,
        tcp=tcp,
        tls=tls,
        http=http,
        control=_control(tk, next_id),
        analysis=Analysis(
            verdict=Verdict.INCONCLUSIVE, confidence=0, rules_version="", reference_digest=""
        ),
    )


def _host_at(dns: list[DnsQuery], depth: int, doc: dict[str, Any]) -> str:
    for q in dns:
        if q.depth == depth:
            return q.hostname
    return doc["input"].split("/")[2]


def _normalise(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    host = (parts.hostname or "").encode("idna").decode().lower() if parts.hostname else ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


def _title(body: bytes) -> str | None:
    import re

    found = re.search(rb"(?i)<title>([^<]{1,512})</title>", body)
    return found.group(1).decode("utf-8", "replace") if found else None


def _control(tk: dict[str, Any], next_id: Any) -> ControlExchange | None:
    if tk.get("control_failure"):
        return ControlExchange(
            endpoint="th", t0_ms=0, t_ms=0, failure=failure(tk["control_failure"])
        )
    c = tk.get("control")
    if not c:
        return None
    hr = c.get("http_request") or {}
    http = ControlHttp(
        status_code=hr.get("status_code") if (hr.get("status_code") or -1) > 0 else None,
        body_length=hr.get("body_length") if (hr.get("body_length") or -1) >= 0 else None,
        title=hr.get("title") or None,
        headers=[(k, v) for k, v in (hr.get("headers") or {}).items()],
        failure=failure(hr.get("failure")),
    )
    tcp = []
    for endpoint, status in (c.get("tcp_connect") or {}).items():
        address, port = _split(endpoint)
        tcp.append(ControlTcp(address=address, port=port, failure=failure(status.get("failure"))))
    tls = []
    for endpoint, status in (c.get("tls_handshake") or {}).items():
        address, port = _split(endpoint)
        tls.append(
            ControlTls(
                address=address,
                port=port,
                server_name=status.get("server_name", ""),
                failure=failure(status.get("failure")),
            )
        )
    infos = [
        ControlAddressInfo(
            address=a,
            asn=info.get("asn") or None,
            is_bogon=bool(info.get("flags", 0) & 4),
            is_tls_valid=bool(info.get("flags", 0) & 8),
        )
        for a, info in (c.get("ip_info") or {}).items()
    ]
    dns = c.get("dns") or {}
    return ControlExchange(
        endpoint="th",
        t0_ms=0,
        t_ms=0,
        reply=ControlReply(
            software_name="oohelperd",
            software_version="x",
            dns=ControlDns(addresses=dns.get("addrs") or [], failure=failure(dns.get("failure"))),
            tcp=tcp,
            tls=tls,
            http=http,
            addresses=infos,
        ),
    )
