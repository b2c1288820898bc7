"""The measurement format v1: the vocabulary every part of Crenel shares.

Modules:
- `failures`: the closed set of failure strings.
- `addresses`: the special-purpose address registry and `AddressPolicy`, every address decision
  (public, dialled, scrubbed) of the probe, the control, the collector and the analysis.
- `base`: the record base class and shared field types.
- `observations`: DNS / TCP / TLS / HTTP records (facts, never verdicts).
- `packets`: packet-level evidence: TCP flows, DNS bait queries, censor localisation (1.1).
- `control`: the control (test helper) request and reply.
- `verdict`: Verdict, Method, Blocking and the Analysis record.
- `measurement`: the envelope and FORMAT_VERSION.
- `schema`: JSON Schema and field reference generated from the models.
Pure: validation only, no I/O.
"""

from probe.model.addresses import (
    REGISTRY_VERSION,
    AddressPolicy,
    AddressScope,
    address_scope,
    embedded_ipv4,
    identifies_host,
    is_globally_reachable,
    parse_address,
    scope_of,
)
from probe.model.control import (
    ControlAddressInfo,
    ControlDns,
    ControlExchange,
    ControlHttp,
    ControlReply,
    ControlRequest,
    ControlTcp,
    ControlTls,
)
from probe.model.failures import UNKNOWN_PREFIX, Failure, is_failure_string, unknown_failure
from probe.model.measurement import (
    FORMAT_VERSION,
    Measurement,
    MeasurementOptions,
    Origin,
    ProbeNetwork,
)
from probe.model.observations import (
    ByteSample,
    Certificate,
    DnsAnswer,
    DnsQuery,
    DnsResponse,
    HttpResponse,
    HttpTransaction,
    ResolverKind,
    TcpConnect,
    TlsHandshake,
)
from probe.model.packets import (
    MAX_FLOW_PACKETS,
    CensorPath,
    HopVotes,
    Localisation,
    PacketEvidence,
    ProbeOutcome,
    TcpFlow,
    TcpPacket,
    TriggerKind,
    TtlProbe,
)
from probe.model.verdict import (
    Analysis,
    Blocking,
    DnsConsistency,
    FingerprintMatch,
    FingerprintSetRef,
    HttpComparison,
    Method,
    RuleHit,
    Verdict,
)

__all__ = [
    "FORMAT_VERSION",
    "MAX_FLOW_PACKETS",
    "REGISTRY_VERSION",
    "UNKNOWN_PREFIX",
    "AddressPolicy",
    "AddressScope",
    "Analysis",
    "Blocking",
    "ByteSample",
    "CensorPath",
    "Certificate",
    "ControlAddressInfo",
    "ControlDns",
    "ControlExchange",
    "ControlHttp",
    "ControlReply",
    "ControlRequest",
    "ControlTcp",
    "ControlTls",
    "DnsAnswer",
    "DnsConsistency",
    "DnsQuery",
    "DnsResponse",
    "Failure",
    "FingerprintMatch",
    "FingerprintSetRef",
    "HopVotes",
    "HttpComparison",
    "HttpResponse",
    "HttpTransaction",
    "Localisation",
    "Measurement",
    "MeasurementOptions",
    "Method",
    "Origin",
    "PacketEvidence",
    "ProbeNetwork",
    "ProbeOutcome",
    "ResolverKind",
    "RuleHit",
    "TcpConnect",
    "TcpFlow",
    "TcpPacket",
    "TlsHandshake",
    "TriggerKind",
    "TtlProbe",
    "Verdict",
    "address_scope",
    "embedded_ipv4",
    "identifies_host",
    "is_failure_string",
    "is_globally_reachable",
    "parse_address",
    "scope_of",
    "unknown_failure",
]
