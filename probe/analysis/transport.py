"""TCP and TLS rules: per-address failures that the control did not share.

Pure: no I/O. Failures at addresses that DNS tampering explains are left to the DNS rules; IPv6
failures on a probe with no working IPv6 are noted, not counted.
"""

from __future__ import annotations

from probe.analysis.dns import DnsFindings
from probe.analysis.evidence import Evidence
from probe.analysis.facts import Facts, is_ipv6
from probe.analysis.rules import method_for_failure
from probe.model import Failure

_IPV6_NOISE = frozenset(
    {
        Failure.NETWORK_UNREACHABLE.value,
        Failure.HOST_UNREACHABLE.value,
        Failure.GENERIC_TIMEOUT.value,
    }
)
_CERT_FAILURES = frozenset(
    {
        Failure.SSL_UNKNOWN_AUTHORITY.value,
        Failure.SSL_INVALID_HOSTNAME.value,
        Failure.SSL_INVALID_CERTIFICATE.value,
    }
)


def _skip(facts: Facts, dns: DnsFindings, address: str, failure: str, ev: Evidence) -> bool:
    if dns.explains(address):
        return True
    if is_ipv6(address) and failure in _IPV6_NOISE and not facts.has_ipv6_success:
        ev.note(f"tcp: IPv6 {address} failed ({failure}); this network seems to lack IPv6")
        return True
    return False


def analyse_tcp(facts: Facts, dns: DnsFindings, ev: Evidence) -> set[str]:
    """Return addresses whose TCP connect failed unexpectedly, recording `tcp-blocked` hits."""
    blocked: set[str] = set()
    for (address, port), conn in facts.tcp.items():
        failure = conn.failure
        if failure is None or _skip(facts, dns, address, failure, ev):
            continue
        where = f"{address}:{port} {failure}"
        if (address, port) in facts.control_tcp:
            control_failure = facts.control_tcp[(address, port)]
            if control_failure is None:
                method = method_for_failure("tcp", failure)
                ev.hit("tcp-blocked", f"{where}; the control connected", method=method)
                blocked.add(address)
            else:
                ev.down.append(f"tcp: {where}; the control failed too ({control_failure})")
        elif facts.control_http_ok and address in facts.trusted_addresses():
            method = method_for_failure("tcp", failure)
            ev.hit(
                "tcp-blocked",
                f"{where}; the control fetched the page from this site",
                method=method,
                factor=0.85,
            )
            blocked.add(address)
        else:
            ev.unexplained.append(f"tcp: {where}; no control result for it")
    return blocked


def analyse_tls(facts: Facts, dns: DnsFindings, ev: Evidence) -> None:
    """Record `tls-blocked` and `tls-mitm` hits for handshakes that failed only for the probe."""
    for (address, port), hs in facts.tls.items():
        failure = hs.failure
        if failure is None:
            continue
        conn = facts.tcp.get((address, port))
        if conn is not None and conn.failure is not None:
            continue
        if _skip(facts, dns, address, failure, ev):
            continue
        control = facts.control_tls.get((address, port))
        where = f"{address}:{port} SNI {hs.server_name}: {failure}"
        if control is not None and control.failure is not None:
            ev.down.append(f"tls: {where}; the control failed too ({control.failure})")
            continue
        vouched = facts.control_http_ok and (
            facts.scheme == "https" or address in facts.trusted_addresses()
        )
        if control is None and not vouched:
            ev.unexplained.append(f"tls: {where}; no control result for it")
            continue
        factor = 1.0 if control is not None else 0.85
        if failure in _CERT_FAILURES:
            presented = hs.peer_certificates[0].issuer if hs.peer_certificates else "unknown"
            expected = control.leaf_issuer if control is not None else None
            ev.hit(
                "tls-mitm",
                f"{where}; presented issuer {presented!r}"
                + (f", the control saw {expected!r}" if expected else ""),
                factor=factor,
            )
        else:
            method = method_for_failure("tls", failure)
            ev.hit(
                "tls-blocked",
                f"{where}; the control's handshake succeeded",
                method=method,
                factor=factor,
            )
