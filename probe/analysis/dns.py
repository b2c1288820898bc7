"""DNS rules: injection, resolver failures the control does not share, bogons, forged answers.

Pure: no I/O. An address from the probe's own resolvers is consistent when the control, DoH or a
verified TLS handshake vouches for it or its AS; the final forgery verdict waits for what the
address led to (see `decide_forgery`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from probe.analysis.evidence import Evidence
from probe.analysis.facts import Facts
from probe.analysis.reference import ReferenceData
from probe.model import DnsQuery, Failure, FingerprintMatch

_FAILURE_RULES = {
    Failure.DNS_NXDOMAIN.value: "dns-nxdomain",
    Failure.DNS_NO_ANSWER.value: "dns-no-answer",
    Failure.GENERIC_TIMEOUT.value: "dns-timeout",
}


@dataclass
class DnsFindings:
    """How the probe's own resolvers' addresses were judged."""

    consistent: set[str] = field(default_factory=set)
    inconsistent: set[str] = field(default_factory=set)
    bogon: set[str] = field(default_factory=set)
    injected: set[str] = field(default_factory=set)
    has_reference: bool = False
    failed_unexpectedly: bool = False
    failed_as_control: bool = False

    def explains(self, address: str) -> bool:
        """Return whether DNS tampering explains a failure at this address."""
        return address in self.inconsistent or address in self.bogon or address in self.injected


def _answer_set(query: DnsQuery, index: int) -> tuple[str, frozenset[str]]:
    response = query.responses[index]
    values = frozenset(f"{a.answer_type}:{a.address or a.hostname}" for a in response.answers)
    return response.rcode, values


def _check_injection(facts: Facts, trusted: set[str], found: DnsFindings, ev: Evidence) -> None:
    for query in facts.local_lookups:
        if len(query.responses) < 2:
            continue
        sets = {_answer_set(query, i) for i in range(len(query.responses))}
        if len(sets) < 2:
            continue
        timeline = "; ".join(
            f"{r.rcode} [{', '.join(a.address or a.hostname or '?' for a in r.answers)}]"
            f" at +{r.delay_ms:.1f} ms ttl={r.ip_ttl}"
            for r in query.responses
        )
        ev.hit(
            "dns-injected",
            f"{query.query_type} {query.hostname} via {query.resolver_address}: {timeline}",
        )
        for response in query.responses:
            for answer in response.answers:
                if answer.address is not None and answer.address not in trusted:
                    found.injected.add(answer.address)


def _reference_for_failure(facts: Facts) -> tuple[bool, str | None]:
    """Return (a reference resolved the name, the control's own DNS failure)."""
    if facts.control is not None:
        if facts.control.dns.addresses:
            return True, None
        return False, facts.control.dns.failure or Failure.DNS_NO_ANSWER.value
    return bool(facts.doh_addresses), None


def _check_failures(facts: Facts, found: DnsFindings, ev: Evidence) -> None:
    resolved_elsewhere, control_failure = _reference_for_failure(facts)
    factor = 1.0 if facts.control is not None else 0.8
    for query in facts.local_lookups:
        failure = query.failure
        if failure is None:
            continue
        if query.query_type == "AAAA" and failure == Failure.DNS_NO_ANSWER.value:
            continue
        where = f"{query.resolver_kind.value} {query.query_type} {query.hostname}: {failure}"
        if resolved_elsewhere:
            found.failed_unexpectedly = True
            rule_id = _FAILURE_RULES.get(failure, "dns-failure")
            reference = "control" if facts.control is not None else "DoH"
            ev.hit(rule_id, f"{where}; the {reference} resolved it", factor=factor)
        elif control_failure is not None:
            found.failed_as_control = True
            ev.down.append(f"dns: {where}; the control failed too ({control_failure})")
        else:
            ev.unexplained.append(f"dns: {where}; no control to compare")


def _check_ghost(facts: Facts, ev: Evidence) -> bool:
    """Fire `dns-forged-ghost` when local resolvers answer for a name the control says is absent."""
    control = facts.control
    if control is None or control.dns.addresses or facts.doh_addresses:
        return False
    if control.dns.failure not in (Failure.DNS_NXDOMAIN.value, Failure.DNS_NO_ANSWER.value):
        return False
    if not facts.local_addresses:
        return False
    listed = ", ".join(sorted(facts.local_addresses))
    ev.hit(
        "dns-forged-ghost",
        f"resolvers answered {listed} for a name the control finds absent ({control.dns.failure})",
    )
    return True


def analyse_dns(facts: Facts, ref: ReferenceData, ev: Evidence) -> DnsFindings:
    """Return the judgement of the probe's resolver answers, recording DNS rule hits in `ev`."""
    found = DnsFindings()
    if facts.is_ip_host:
        return found
    trusted = facts.trusted_addresses()
    found.has_reference = bool(trusted)
    trusted_asns = {facts.asn[a] for a in trusted if facts.asn.get(a)}
    _check_injection(facts, trusted, found, ev)
    _check_failures(facts, found, ev)
    if _check_ghost(facts, ev):
        found.inconsistent.update(facts.local_addresses)
        return found
    for address in facts.local_addresses:
        known = None if address in trusted else ref.fingerprints.match_dns(address)
        if known is not None:
            ev.fingerprints.append(
                FingerprintMatch(
                    name=known.name, source=known.source, location="dns", scope=known.scope
                )
            )
            ev.hit("dns-forged-known", f"{address} is blockpage address {known.name}")
            found.inconsistent.add(address)
        elif ref.bogons.is_bogon(address):
            found.bogon.add(address)
        elif address in trusted or facts.asn.get(address) in trusted_asns:
            found.consistent.add(address)
        elif found.has_reference and address not in found.injected:
            found.inconsistent.add(address)
    if found.bogon:
        public_reference = {a for a in trusted if not ref.bogons.is_bogon(a)}
        listed = ", ".join(sorted(found.bogon))
        if public_reference:
            ev.hit("dns-bogon", f"resolver answered {listed}; the control got public addresses")
        elif facts.control is not None and (
            facts.control_addresses or facts.control.dns.failure == Failure.REFUSED_ADDRESS.value
        ):
            # The control resolved the name to addresses it refused (and does not echo them).
            ev.down.append(f"dns: the name resolves to non-routable {listed} for the control too")
        else:
            ev.hit(
                "dns-bogon",
                f"resolver answered non-routable {listed}; no control to compare",
                factor=0.6,
            )
    return found


def decide_forgery(found: DnsFindings, led_to_trouble: list[str], ev: Evidence) -> None:
    """Fire `dns-forged` when inconsistent answers led to failures or a different page."""
    suspicious = found.inconsistent - found.injected
    if not suspicious or any(h.rule == "dns-forged-known" for h in ev.hits):
        return
    listed = ", ".join(sorted(suspicious))
    if led_to_trouble:
        ev.hit(
            "dns-forged",
            f"answers {listed} match neither the control nor DoH; {'; '.join(led_to_trouble)}",
        )
    else:
        ev.note(
            f"dns: answers {listed} differ from the control's, but what they served was "
            "consistent (a transparent proxy or a CDN)"
        )
