"""Read one OONI Web Connectivity measurement (data format 0.2.0) as a Crenel measurement.

Pure: a document in (decoded JSON, or a line of JSON read into the Structs of `shape` by
`read_ooni_line`), a `Measurement` out. The OONI observations (queries,
tcp_connect, tls_handshakes, requests, control) become Crenel's DNS / TCP / TLS / HTTP records;
OONI's own verdict (`blocking`, `accessible`) is kept as the measurement's analysis, so the
collector's re-analysis stands beside it. The Crenel uid is derived from OONI's ids, so the same
OONI measurement always becomes the same Crenel measurement (imports are idempotent).
"""

from __future__ import annotations

import binascii
import hashlib
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from itertools import count
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import msgspec

from probe.errors import BadInputError
from probe.model import (
    Analysis,
    Blocking,
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
    Origin,
    ProbeNetwork,
    ResolverKind,
    TcpConnect,
    TlsHandshake,
    Verdict,
    is_failure_string,
    unknown_failure,
)
from probe.ooni.shape import (
    OoniAnswer,
    OoniBody,
    OoniDocument,
    OoniResponse,
    OoniTestKeys,
)

SUPPORTED_DATA_FORMATS = frozenset({"0.2.0"})
WEB_CONNECTIVITY = "web_connectivity"
OONI_RULES_VERSION = "ooni"
"""`rules_version` of the analysis that carries OONI's own verdict."""
_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ")
_PLAIN_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
"""OONI's usual `measurement_start_time`, read without `strptime` (the same time, 6 times
cheaper)."""
_NORMALISED_URLS = 4096
"""Input URLs whose normalised form is remembered (OONI measures the same test lists over)."""
_REMEMBERED_URL_CHARS = 1024
"""Longer input URLs are normalised every time, so that the remembered ones stay small."""
_ENGINES = {
    "getaddrinfo": ResolverKind.SYSTEM,
    "udp": ResolverKind.UDP,
    "tcp": ResolverKind.TCP,
    "doh": ResolverKind.DOH,
}
_OLD_FAILURES = {
    "dns_name_error": "dns_nxdomain_error",
    "connection_refused_error": "connection_refused",
    "android_dns_cache_no_data": "dns_no_answer",
    "unknown_failure: stopped after too many redirects": "http_too_many_redirects",
}
_ASN = re.compile(r"^AS[0-9]{1,10}$")
_CC = re.compile(r"^[A-Z]{2}$")
_TITLE = re.compile(rb"(?i)<title>([^<]{1,512})</title>")
_BLOCKING = {b.value: b for b in Blocking}
_DOCUMENT = msgspec.json.Decoder(OoniDocument)


class OoniDocumentError(BadInputError):
    """The OONI document cannot be read as a Crenel measurement."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason
        """A short stable code for counting: no_test_keys, unknown_data_format, ..."""


class OtherOoniTest(OoniDocumentError):
    """The document is an OONI test other than Web Connectivity."""

    def __init__(self, test_name: str) -> None:
        super().__init__(f"not web_connectivity: {test_name}", reason="other_test")
        self.test_name = test_name


def ooni_failure(text: object) -> str | None:
    """Return Crenel's failure string for an OONI failure (None for success)."""
    if text is None:
        return None
    value = _OLD_FAILURES.get(str(text), str(text))
    return value if is_failure_string(value) else unknown_failure(value)


def crenel_uid(ooni_id: str, start: datetime) -> str:
    """Return a UUIDv7-shaped uid that is the same for the same OONI id and start time."""
    millis = int(start.timestamp() * 1000) & ((1 << 48) - 1)
    digest = int.from_bytes(hashlib.sha256(ooni_id.encode()).digest()[:10], "big")
    rand_a = digest & 0xFFF
    rand_b = (digest >> 12) & ((1 << 62) - 1)
    value = (millis << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def read_ooni_line(text: bytes) -> OoniDocument | None:
    """Return one line of OONI JSON read into the Structs of `probe.ooni.shape` when it is a
    named Web Connectivity measurement (a `measurement_uid`, a supported data format, test
    keys of the expected shape); None for anything else, which the caller decodes as JSON and
    hands to `measurement_from_ooni` to be converted or told why not (other tests, API
    answers, unnamed measurements, bad JSON, unexpected shapes)."""
    try:
        doc = _DOCUMENT.decode(text)
    except msgspec.DecodeError:
        return None
    if (
        doc.test_keys is None
        or not doc.measurement_uid
        or doc.test_name != WEB_CONNECTIVITY
        or not _is_supported(doc.data_format_version)
    ):
        return None
    return doc


def measurement_from_ooni(doc: Mapping[str, Any] | OoniDocument) -> Measurement:
    """Return the Crenel measurement of one OONI Web Connectivity measurement (a decoded JSON
    document, or a line read by `read_ooni_line`).

    Raises:
        OtherOoniTest: another OONI test (the caller counts these per test name).
        OoniDocumentError: an unknown data format, no test_keys, or a field of the wrong shape.
    """
    if isinstance(doc, OoniDocument):
        if doc.test_keys is None or not doc.measurement_uid:
            raise OoniDocumentError("not read by read_ooni_line", reason="unexpected_shape")
        return _converted(doc, doc.test_keys, str(doc.measurement_uid))
    if not isinstance(doc, Mapping):
        raise OoniDocumentError("not a JSON object", reason="not_an_object")
    test_name = str(doc.get("test_name") or "")
    if test_name != WEB_CONNECTIVITY:
        raise OtherOoniTest(test_name or "(no test_name)")
    version = doc.get("data_format_version")
    if not _is_supported(version):
        raise OoniDocumentError(
            f"unknown data_format_version {version!r}", reason="unknown_data_format"
        )
    keys = doc.get("test_keys")
    if not isinstance(keys, Mapping):
        raise OoniDocumentError("no test_keys", reason="no_test_keys")
    try:
        typed = msgspec.convert(doc, OoniDocument)
    except msgspec.ValidationError as exc:
        raise OoniDocumentError(
            f"unexpected shape: ValidationError: {exc}", reason="unexpected_shape"
        ) from exc
    ooni_uid = doc.get("measurement_uid")
    identity = str(ooni_uid) if ooni_uid else _content_identity(doc, keys)
    assert typed.test_keys is not None  # checked above as a mapping
    return _converted(typed, typed.test_keys, identity)


def _is_supported(version: object) -> bool:
    return isinstance(version, str) and version in SUPPORTED_DATA_FORMATS


def _converted(doc: OoniDocument, keys: OoniTestKeys, identity: str) -> Measurement:
    try:
        return _measurement(doc, keys, identity)
    except (KeyError, TypeError, ValueError, AttributeError, binascii.Error) as exc:
        raise OoniDocumentError(
            f"unexpected shape: {type(exc).__name__}: {exc}", reason="unexpected_shape"
        ) from exc


def _measurement(doc: OoniDocument, keys: OoniTestKeys, identity: str) -> Measurement:
    raw_input = doc.input
    if not isinstance(raw_input, str) or not raw_input:
        raise OoniDocumentError("no input URL", reason="bad_input")
    start = _time(doc.measurement_start_time)
    ooni_uid = doc.measurement_uid
    report_id = doc.report_id
    ids = count(1)
    dns = _queries(keys, ids)
    tcp = _connects(keys, ids)
    tls = _handshakes(keys, ids)
    http = _requests(keys, ids, dns=dns, tcp=tcp, tls=tls, raw_input=raw_input)
    return Measurement(
        uid=crenel_uid(identity, start),
        software_name=str(doc.software_name or "ooniprobe"),
        software_version=str(doc.software_version or ""),
        input=raw_input,
        url=_normalised(raw_input),
        start_time=start,
        runtime_ms=max(0.0, float(doc.test_runtime or 0.0) * 1000.0),
        probe=ProbeNetwork(
            cc=_pattern(doc.probe_cc, _CC, "ZZ"),
            asn=_pattern(doc.probe_asn, _ASN, "AS0"),
            network_name=str(doc.probe_network_name or ""),
            resolver_asn=_pattern(doc.resolver_asn, _ASN, "AS0"),
            resolver_network_name=str(doc.resolver_network_name or ""),
        ),
        # OONI probes publish no stable id; a report is one run of one probe, the closest
        # equivalent of Crenel's pseudonym for the per-probe weighing of reports.
        probe_id=f"ooni-report:{report_id}" if report_id else None,
        options=MeasurementOptions(),
        dns=dns,
        tcp=tcp,
        tls=tls,
        http=http,
        control=_control(keys.control_failure, keys.control),
        analysis=_ooni_verdict(keys.blocking, keys.accessible),
        origin=Origin(
            platform="ooni",
            measurement_uid=str(ooni_uid) if ooni_uid else None,
            report_id=str(report_id) if report_id else None,
            test_name=WEB_CONNECTIVITY,
            test_version=str(doc.test_version or ""),
        ),
    )


def _content_identity(doc: Mapping[str, Any], keys: Mapping[str, Any]) -> str:
    """Return an id for a measurement OONI's API has not named: its report, input, time and
    test keys (the same document always gets the same id; two measurements never share one)."""
    content = msgspec.json.encode(
        [doc.get("report_id"), doc.get("input"), doc.get("measurement_start_time"), keys],
        order="sorted",
    )
    return "sha256:" + hashlib.sha256(content).hexdigest()


def _time(value: object) -> datetime:
    if isinstance(value, str):
        if _PLAIN_TIME.fullmatch(value):
            try:
                return datetime(
                    int(value[:4]),
                    int(value[5:7]),
                    int(value[8:10]),
                    int(value[11:13]),
                    int(value[14:16]),
                    int(value[17:19]),
                    tzinfo=UTC,
                )
            except ValueError:
                pass  # out of range: strptime below says so the same way
        for fmt in _TIME_FORMATS:
            try:
                return datetime.strptime(value, fmt).replace(tzinfo=UTC)
            except ValueError:
                continue
    raise OoniDocumentError(
        f"measurement_start_time is not a time: {value!r}", reason="bad_start_time"
    )


def _pattern(value: object, pattern: re.Pattern[str], default: str) -> str:
    text = str(value or "")
    return text if pattern.match(text) else default


def _normalised(url: str) -> str:
    if len(url) > _REMEMBERED_URL_CHARS:
        return _normalised_now(url)
    return _normalised_remembered(url)


def _normalised_now(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OoniDocumentError(f"input is not an http(s) URL: {url[:200]!r}", reason="bad_input")
    host = parts.hostname.encode("idna").decode().lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


_normalised_remembered = lru_cache(maxsize=_NORMALISED_URLS)(_normalised_now)


def _depth(tags: object) -> int:
    if isinstance(tags, list):
        for tag in tags:
            if isinstance(tag, str) and tag.startswith("depth="):
                return int(tag[6:])
    return 0


def _endpoint(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def _answers(raw: list[OoniAnswer] | None) -> list[DnsAnswer]:
    out = []
    for answer in raw or []:
        kind = answer.answer_type
        if kind in ("A", "AAAA"):
            out.append(
                DnsAnswer(
                    answer_type=kind,
                    address=answer.ipv4 or answer.ipv6,
                    asn=answer.asn or None,
                )
            )
        elif kind == "CNAME":
            out.append(DnsAnswer(answer_type=kind, hostname=answer.hostname))
    return out


def _queries(keys: OoniTestKeys, ids: Iterator[int]) -> list[DnsQuery]:
    duplicates = keys.x_dns_duplicate_responses or []
    queries = []
    for q in keys.queries or []:
        kind = _ENGINES.get(q.engine or "")
        if kind is None:
            continue
        answers = _answers(q.answers)
        responses = []
        if kind is ResolverKind.UDP and not q.failure:
            # A null resolver_address was kept as null before, which no reader of the stored
            # measurement accepts (`source` is a string): it is "" now, as a missing one was.
            source = q.resolver_address or ""
            responses.append(
                DnsResponse(t_ms=0, delay_ms=0, source=source, rcode="NOERROR", answers=answers)
            )
            responses.extend(
                DnsResponse(
                    t_ms=0,
                    delay_ms=0,
                    source="",
                    rcode="NOERROR",
                    answers=_answers(dup.answers),
                )
                for dup in duplicates
                if dup.hostname == q.hostname and dup.query_type == q.query_type
            )
        queries.append(
            DnsQuery(
                id=next(ids),
                depth=_depth(q.tags),
                resolver_kind=kind,
                resolver_address=q.resolver_address or "getaddrinfo",
                hostname=q.hostname,
                query_type=q.query_type or "ANY",
                t0_ms=_ms(q.t0),
                t_ms=_ms(q.t),
                answers=answers,
                responses=responses,
                failure=ooni_failure(q.failure),
            )
        )
    return queries


def _ms(seconds: object) -> float:
    if not isinstance(seconds, (int, float)):
        return 0.0
    ms = float(seconds) * 1000.0
    return ms if ms > 0.0 else 0.0  # as max(0.0, ms), NaN included, without the call


def _connects(keys: OoniTestKeys, ids: Iterator[int]) -> list[TcpConnect]:
    return [
        TcpConnect(
            id=next(ids),
            depth=_depth(c.tags),
            address=c.ip,
            port=c.port,
            t0_ms=_ms(c.t0),
            t_ms=_ms(c.t),
            failure=ooni_failure(c.status.failure if c.status else None),
        )
        for c in keys.tcp_connect or []
    ]


def _handshakes(keys: OoniTestKeys, ids: Iterator[int]) -> list[TlsHandshake]:
    handshakes = []
    for h in keys.tls_handshakes or []:
        address, port = _endpoint(h.address)
        handshakes.append(
            TlsHandshake(
                id=next(ids),
                depth=_depth(h.tags),
                address=address,
                port=port,
                server_name=h.server_name or "",
                t0_ms=_ms(h.t0),
                t_ms=_ms(h.t),
                tls_version=h.tls_version or None,
                failure=ooni_failure(h.failure),
                is_verified=h.failure is None and not h.no_tls_verify,
            )
        )
    return handshakes


def _body(raw: str | OoniBody | None) -> tuple[bytes, str]:
    """Return a body's bytes and its text (undecodable bytes replaced)."""
    if isinstance(raw, OoniBody):
        return raw.data, raw.data.decode("utf-8", "replace")
    text = raw or ""
    return text.encode(), text


def _response(raw: OoniResponse | None) -> HttpResponse | None:
    if raw is None or not raw.code:
        return None
    body, text = _body(raw.body)
    title = _TITLE.search(body)
    return HttpResponse(
        status_code=raw.code,
        http_version="HTTP/1.1",
        headers=raw.headers_list or [],
        body_prefix=text,
        body_length=len(body),
        body_is_complete=not raw.body_is_truncated,
        body_sha256=hashlib.sha256(body).hexdigest(),
        title=title.group(1).decode("utf-8", "replace") if title else None,
    )


def _requests(
    keys: OoniTestKeys,
    ids: Iterator[int],
    *,
    dns: list[DnsQuery],
    tcp: list[TcpConnect],
    tls: list[TlsHandshake],
    raw_input: str,
) -> list[HttpTransaction]:
    http: list[HttpTransaction] = []
    fetched_depths: set[int] = set()
    failed_connects = {(c.address, c.port, c.depth, c.failure) for c in tcp if c.failure}
    failed_handshakes = {(h.address, h.port, h.depth, h.failure) for h in tls if h.failure}
    # OONI lists requests newest first; Crenel lists hops in order.
    for r in reversed(keys.requests or []):
        address, port = _endpoint(r.address or "0.0.0.0:0")
        depth = _depth(r.tags)
        fetched_depths.add(depth)
        response = _response(r.response)
        url = r.request.url
        https = url.startswith("https://")
        failure = ooni_failure(r.failure)
        # Where a failed request stopped: OONI says it by the failed connect or handshake to
        # the same endpoint at the same depth.
        connected = not (failure and (address, port, depth, failure) in failed_connects)
        secured = connected and not (
            https and failure and (address, port, depth, failure) in failed_handshakes
        )
        http.append(
            HttpTransaction(
                id=next(ids),
                depth=depth,
                url=url,
                address=address,
                port=port,
                t0_ms=_ms(r.t0),
                t_ms=_ms(r.t),
                connect_ms=0 if connected else None,
                tls_ms=0 if https and secured else None,
                request_sent_ms=0 if secured else None,
                headers_ms=0 if response is not None else None,
                tls_version="TLSv1.3" if https and secured else None,
                response=response,
                failure=failure,
            )
        )
    # OONI records no request when the fetch's own connect or handshake failed; Crenel records
    # the failed hop, so the analysis sees where the fetch stopped.
    fetching = {
        (c.address, c.port, c.depth)
        for raw, c in zip(keys.tcp_connect or [], tcp, strict=True)
        if "fetch_body=true" in (raw.tags or [])
    }
    for h in tls:
        if h.failure and h.depth not in fetched_depths and (h.address, h.port, h.depth) in fetching:
            fetched_depths.add(h.depth)
            http.append(
                HttpTransaction(
                    id=next(ids),
                    depth=h.depth,
                    url=f"https://{h.server_name}/",
                    address=h.address,
                    port=h.port,
                    t0_ms=0,
                    t_ms=0,
                    connect_ms=0,
                    failure=h.failure,
                )
            )
    for c in tcp:
        if c.failure and c.depth not in fetched_depths and (c.address, c.port, c.depth) in fetching:
            fetched_depths.add(c.depth)
            host = next((q.hostname for q in dns if q.depth == c.depth), None)
            host = host or (urlsplit(raw_input).hostname or "")
            http.append(
                HttpTransaction(
                    id=next(ids),
                    depth=c.depth,
                    url=("https" if c.port == 443 else "http") + f"://{host}/",
                    address=c.address,
                    port=c.port,
                    t0_ms=0,
                    t_ms=0,
                    failure=c.failure,
                )
            )
    return http


def _control(control_failure: object, control: Any) -> ControlExchange | None:
    if control_failure:
        return ControlExchange(
            endpoint="th", t0_ms=0, t_ms=0, failure=ooni_failure(control_failure)
        )
    if not control:
        return None
    request = control.get("http_request") or {}
    status = request.get("status_code")
    length = request.get("body_length")
    http = ControlHttp(
        status_code=status if isinstance(status, int) and status > 0 else None,
        body_length=length if isinstance(length, int) and length >= 0 else None,
        title=request.get("title") or None,
        headers=[(str(k), str(v)) for k, v in (request.get("headers") or {}).items()],
        final_url=request.get("x_final_url") or None,
        redirects=[str(u) for u in request.get("x_redirects") or []],
        failure=ooni_failure(request.get("failure")),
    )
    tcp = []
    for endpoint, state in (control.get("tcp_connect") or {}).items():
        address, port = _endpoint(endpoint)
        tcp.append(
            ControlTcp(address=address, port=port, failure=ooni_failure(state.get("failure")))
        )
    tls = []
    for endpoint, state in (control.get("tls_handshake") or {}).items():
        address, port = _endpoint(endpoint)
        tls.append(
            ControlTls(
                address=address,
                port=port,
                server_name=state.get("server_name", ""),
                failure=ooni_failure(state.get("failure")),
            )
        )
    infos = [
        ControlAddressInfo(
            address=address,
            asn=info.get("asn") or None,
            is_bogon=bool(info.get("flags", 0) & 4),
            is_tls_valid=bool(info.get("flags", 0) & 8),
        )
        for address, info in (control.get("ip_info") or {}).items()
    ]
    dns = control.get("dns") or {}
    return ControlExchange(
        endpoint="th",
        t0_ms=0,
        t_ms=0,
        reply=ControlReply(
            software_name="oohelperd",
            software_version="",
            dns=ControlDns(
                addresses=dns.get("addrs") or [], failure=ooni_failure(dns.get("failure"))
            ),
            tcp=tcp,
            tls=tls,
            http=http,
            addresses=infos,
        ),
    )


def _ooni_verdict(blocking: object, accessible: object) -> Analysis:
    """Return OONI's own verdict as an analysis (confidence 0: OONI states none)."""
    reason: bool | Blocking | None
    if blocking is False:
        verdict = Verdict.OK if accessible else Verdict.DOWN
        reason = False
    elif isinstance(blocking, str) and blocking in _BLOCKING:
        verdict, reason = Verdict.BLOCKED, _BLOCKING[blocking]
    else:
        verdict, reason = Verdict.INCONCLUSIVE, None
    return Analysis(
        verdict=verdict,
        confidence=0.0,
        blocking=reason,
        accessible=accessible if isinstance(accessible, bool) else None,
        notes=["OONI's own verdict (blocking, accessible), kept as published"],
        rules_version=OONI_RULES_VERSION,
        reference_digest="",
    )
