"""The measurement format v1: the vocabulary every part of Crenel shares.

Modules:
- `failures`: the closed set of failure strings.
- `base`: the record base class and shared field types.
- `observations`: DNS / TCP / TLS / HTTP records (facts, never verdicts).
- `control`: the control (test helper) request and reply.
- `verdict`: Verdict, Method, Blocking and the Analysis record.
- `measurement`: the envelope and FORMAT_VERSION.
- `schema`: JSON Schema and field reference generated from the models.
Pure: validation only, no I/O.
"""

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
from probe.model.verdict import (
    Analysis,
    Blocking,
    DnsConsistency,
    FingerprintMatch,
    HttpComparison,
    Method,
    RuleHit,
    Verdict,
)

__all__ = [
    "FORMAT_VERSION",
    "UNKNOWN_PREFIX",
    "Analysis",
    "Blocking",
    "ByteSample",
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
    "HttpComparison",
    "HttpResponse",
    "HttpTransaction",
    "Measurement",
    "MeasurementOptions",
    "Method",
    "ProbeNetwork",
    "ResolverKind",
    "RuleHit",
    "TcpConnect",
    "TlsHandshake",
    "Verdict",
    "is_failure_string",
    "unknown_failure",
]
