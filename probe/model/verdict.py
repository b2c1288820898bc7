"""Verdicts, blocking methods and the analysis record.

Pure: no I/O. `Method` spells each blocking technique once for code, database, JSON, reports
and docs.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import msgspec

from probe.model.base import Record

Doc = msgspec.Meta


class Verdict(StrEnum):
    """What the probe concludes about a URL."""

    OK = "ok"
    BLOCKED = "blocked"
    DOWN = "down"
    INCONCLUSIVE = "inconclusive"


class Method(StrEnum):
    """How a URL is blocked."""

    DNS_NXDOMAIN = "dns.nxdomain"
    DNS_NO_ANSWER = "dns.no_answer"
    DNS_TIMEOUT = "dns.timeout"
    DNS_FAILURE = "dns.failure"
    DNS_FORGED = "dns.forged"
    DNS_BOGON = "dns.bogon"
    DNS_INJECTED = "dns.injected"
    TCP_TIMEOUT = "tcp.timeout"
    TCP_REFUSED = "tcp.refused"
    TCP_RESET = "tcp.reset"
    TCP_UNREACHABLE = "tcp.unreachable"
    TCP_FAILURE = "tcp.failure"
    TCP_RST_INJECTED = "tcp.rst_injected"
    TCP_FIN_INJECTED = "tcp.fin_injected"
    TLS_RESET = "tls.reset"
    TLS_EOF = "tls.eof"
    TLS_TIMEOUT = "tls.timeout"
    TLS_MITM = "tls.mitm"
    TLS_FAILURE = "tls.failure"
    HTTP_RESET = "http.reset"
    HTTP_EOF = "http.eof"
    HTTP_TIMEOUT = "http.timeout"
    HTTP_FAILURE = "http.failure"
    HTTP_BLOCKPAGE = "http.blockpage"
    HTTP_DIFF = "http.diff"
    THROTTLED = "throttled"


class Blocking(StrEnum):
    """OONI's `blocking` reasons, kept for compatibility with OONI data."""

    DNS = "dns"
    TCP_IP = "tcp_ip"
    HTTP_FAILURE = "http-failure"
    HTTP_DIFF = "http-diff"


class DnsConsistency(StrEnum):
    """Whether the probe's DNS answers agree with the control's (OONI's `dns_consistency`)."""

    CONSISTENT = "consistent"
    INCONSISTENT = "inconsistent"


class RuleHit(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One analysis rule that fired, and why."""

    rule: Annotated[str, Doc(description="Rule id; see docs/methodology.md.")]
    method: Annotated[
        Method | None, Doc(description="The blocking method the rule indicates, if any.")
    ] = None
    weight: Annotated[float, Doc(ge=0, le=1, description="How strongly the rule indicates it.")]
    detail: Annotated[str, Doc(description="The evidence, in one line.")]


class FingerprintMatch(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A blockpage or false-positive signature that matched a response or a DNS answer."""

    name: Annotated[str, Doc(description="The signature's id.")]
    source: Annotated[str, Doc(description="Where the signature comes from (file or set name).")]
    location: Annotated[str, Doc(description="dns, body, or header.<name>.")]
    scope: Annotated[
        str | None, Doc(description="OONI scope: nat, isp, prod, inst, vbw or fp.")
    ] = None
    is_false_positive: Annotated[
        bool, Doc(description="A known non-censorship page (CDN challenge, parking page...).")
    ] = False
    depth: Annotated[int, Doc(description="Redirect hop of the matching response.")] = 0


class FingerprintSetRef(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Which versioned fingerprint set an analysis matched responses against."""

    version: Annotated[
        str,
        Doc(
            pattern=r"^[0-9]{1,9}(\.[0-9]{1,9}){0,3}$",
            description="The set's version, dot-separated numbers (newer is larger).",
        ),
    ]
    digest: Annotated[
        str,
        Doc(
            pattern="^[0-9a-f]{64}$",
            description="SHA-256 of the set's canonical bytes (as a collector serves them).",
        ),
    ]


class HttpComparison(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The final HTTP response compared with the control's (OONI's *_match keys)."""

    status_code_match: Annotated[
        bool | None, Doc(description="Same status; null when the control's was not 2xx.")
    ] = None
    body_proportion: Annotated[
        float | None, Doc(description="min(a/b, b/a) of the body lengths.")
    ] = None
    body_length_match: Annotated[
        bool | None, Doc(description="body_proportion above 0.7; null when not comparable.")
    ] = None
    headers_match: Annotated[
        bool | None, Doc(description="Same header names, or a shared uncommon one.")
    ] = None
    title_match: Annotated[
        bool | None,
        Doc(description="Every title word of 5+ characters shared; null without a title."),
    ] = None


class Analysis(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The verdict on one measurement, with the rules and evidence behind it."""

    verdict: Verdict
    methods: Annotated[list[Method], Doc(description="Blocking methods, strongest first.")] = []
    confidence: Annotated[
        float, Doc(ge=0, le=1, description="How sure the analysis is of the verdict.")
    ]
    blocking: Annotated[
        bool | Blocking | None, Doc(description="OONI-compatible: false, a reason, or null.")
    ] = None
    accessible: Annotated[bool | None, Doc(description="OONI-compatible accessibility.")] = None
    dns_consistency: Annotated[
        DnsConsistency | None,
        Doc(description="OONI-compatible: do the probe's DNS answers agree with the control's."),
    ] = None
    http: Annotated[
        HttpComparison | None,
        Doc(description="The final page compared with the control's, when comparable."),
    ] = None
    fingerprints: list[FingerprintMatch] = []
    rules: Annotated[list[RuleHit], Doc(description="Every rule that fired, in order.")] = []
    notes: Annotated[
        list[str], Doc(description="Observations that did not change the verdict.")
    ] = []
    rules_version: Annotated[str, Doc(description="Version of the rule set that produced this.")]
    reference_digest: Annotated[
        str, Doc(description="SHA-256 over the reference data used (fingerprints, bogon ranges).")
    ]
    fingerprint_set: Annotated[
        FingerprintSetRef | None,
        Doc(
            description="The versioned fingerprint set used (1.3); extra local fingerprint "
            "files count in reference_digest only. Null when none was used."
        ),
    ] = None
