"""The analysis entry point: a measurement plus reference data in, an Analysis out.

Pure: no I/O, no clock. Rules run layer by layer (DNS, TCP, TLS, HTTP chain, packet evidence); the
verdict follows from which rules fired, which failures the control shared, and what is left
unexplained.
"""

from __future__ import annotations

from probe.analysis.chain import ChainOutcome, analyse_chain
from probe.analysis.dns import DnsFindings, analyse_dns, decide_forgery
from probe.analysis.evidence import Evidence
from probe.analysis.facts import build_facts
from probe.analysis.packets import analyse_packets
from probe.analysis.reference import ReferenceData
from probe.analysis.rules import RULES_VERSION
from probe.analysis.transport import analyse_tcp, analyse_tls, check_forged_destinations
from probe.model import (
    Analysis,
    Blocking,
    DnsConsistency,
    Measurement,
    Method,
    RuleHit,
    Verdict,
)

_FAMILY_BLOCKING = {
    "dns": Blocking.DNS,
    "tcp": Blocking.TCP_IP,
    "tls": Blocking.HTTP_FAILURE,
    "throttled": Blocking.HTTP_FAILURE,
}
_DIFF_METHODS = frozenset({Method.HTTP_BLOCKPAGE, Method.HTTP_DIFF})
# Packet evidence says who sent a reset, not where the flow was stopped: OONI's `blocking` keeps
# following the stage that failed.
_PACKET_METHODS = frozenset({Method.TCP_RST_INJECTED, Method.TCP_FIN_INJECTED})


def _ooni_blocking(
    verdict: Verdict, hits: list[RuleHit], consistency: DnsConsistency | None
) -> tuple[bool | Blocking | None, bool | None]:
    if verdict is Verdict.OK:
        return False, True
    if verdict is Verdict.DOWN:
        return False, False
    candidates = [h for h in hits if h.method is not None and h.method not in _PACKET_METHODS]
    candidates = candidates or [h for h in hits if h.method is not None]
    strongest = max(candidates, key=lambda h: h.weight, default=None)
    if verdict is Verdict.INCONCLUSIVE or strongest is None or strongest.method is None:
        return None, None
    if consistency is DnsConsistency.INCONSISTENT:
        return Blocking.DNS, False
    method = strongest.method
    family = method.value.split(".", 1)[0]
    if strongest.rule == "redirect-failure":
        return (Blocking.DNS if family == "dns" else Blocking.HTTP_FAILURE), False
    if method in _DIFF_METHODS:
        return Blocking.HTTP_DIFF, False
    return _FAMILY_BLOCKING.get(family, Blocking.HTTP_FAILURE), False


def _consistency(is_ip_host: bool, dns: DnsFindings, ev: Evidence) -> DnsConsistency | None:
    if is_ip_host:
        return DnsConsistency.CONSISTENT
    dns_hit = any(h.method is not None and h.method.value.startswith("dns.") for h in ev.hits)
    if dns_hit or dns.inconsistent or (dns.bogon and dns.has_reference):
        return DnsConsistency.INCONSISTENT
    if dns.consistent or dns.failed_as_control:
        return DnsConsistency.CONSISTENT
    return None


def _verdict(
    ev: Evidence, chain: ChainOutcome, has_control: bool, dns: DnsFindings
) -> tuple[Verdict, float]:
    if ev.hits:
        return Verdict.BLOCKED, ev.blocking_confidence()
    if ev.server_side:
        return Verdict.INCONCLUSIVE, 0.0
    if chain.success:
        if chain.verified_tls:
            confidence = 0.9 if has_control else 0.75
            return Verdict.OK, confidence if chain.via_local_dns else confidence - 0.1
        if chain.comparison is not None and not ev.unexplained:
            return Verdict.OK, 0.8 if not dns.inconsistent else 0.7
        return Verdict.INCONCLUSIVE, 0.0
    if ev.down and not ev.unexplained:
        return Verdict.DOWN, 0.85 if has_control else 0.6
    if ev.down:
        return Verdict.DOWN, 0.6
    return Verdict.INCONCLUSIVE, 0.0


def analyse(measurement: Measurement, reference: ReferenceData) -> Analysis:
    """Return the verdict, methods, confidence and evidence for a measurement's observations.

    The measurement's own `analysis` field is ignored, so stored measurements can be re-analysed.
    """
    facts = build_facts(measurement)
    ev = Evidence()
    if facts.control_failure is not None:
        ev.note(f"control: no usable reply ({facts.control_failure})")
    elif facts.control is None:
        ev.note("control: none configured; verdicts rest on the probe's own observations")
    dns = analyse_dns(facts, reference, ev)
    analyse_tcp(facts, dns, ev)
    analyse_tls(facts, dns, ev)
    chain = analyse_chain(facts, dns, reference, ev)
    ev.settle_elsewhere(fetch_succeeded=chain.success)
    analyse_packets(measurement, facts, ev)
    transport_trouble = [
        f"TCP to {address}:{port} failed ({conn.failure})"
        for (address, port), conn in facts.tcp.items()
        if conn.failure is not None and port == facts.port and dns.explains(address)
    ]
    if facts.scheme == "https":
        transport_trouble += [
            f"TLS with {address}:{port} failed ({hs.failure})"
            for (address, port), hs in facts.tls.items()
            if hs.failure is not None and port == facts.port and dns.explains(address)
        ]
    decide_forgery(dns, chain.trouble + transport_trouble, ev)
    check_forged_destinations(facts, dns, ev)
    for text in ev.server_side:
        ev.note(f"server-side: {text}")
    for text in ev.unexplained:
        ev.note(f"unexplained: {text}")
    for text in ev.down:
        ev.note(f"shared with the control: {text}")
    verdict, confidence = _verdict(ev, chain, facts.has_control, dns)
    methods = ev.methods() if verdict is Verdict.BLOCKED else []
    consistency = _consistency(facts.is_ip_host, dns, ev)
    blocking, accessible = _ooni_blocking(verdict, ev.hits, consistency)
    return Analysis(
        verdict=verdict,
        methods=methods,
        confidence=round(confidence, 3),
        blocking=blocking,
        accessible=accessible,
        dns_consistency=consistency,
        http=chain.comparison,
        fingerprints=ev.fingerprints,
        rules=ev.hits,
        notes=ev.notes,
        rules_version=RULES_VERSION,
        reference_digest=reference.digest,
        fingerprint_set=reference.fingerprint_set.ref if reference.fingerprint_set else None,
    )
