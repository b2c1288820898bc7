"""TCP and TLS rules: per-address failures that the control did not share.

Pure: no I/O. Failures at addresses that DNS tampering explains are left to the DNS rules; IPv6
failures on a probe with no working IPv6 are noted, not counted.
"""

from __future__ import annotations

from collections.abc import Callable

from probe.analysis.dns import DnsFindings
from probe.analysis.evidence import Evidence
from probe.analysis.facts import Facts, is_ipv6
from probe.analysis.rules import method_for_failure
from probe.model import Failure, HttpTransaction

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


def _recorder(facts: Facts, address: str, port: int, ev: Evidence) -> Callable[..., None]:
    """Return `ev.hit` for an endpoint the URL's fetch used or would use, else the held hit."""
    used = port == facts.port or any((tx.address, tx.port) == (address, port) for tx in facts.chain)
    return ev.hit if used else ev.hit_elsewhere


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
                record = _recorder(facts, address, port, ev)
                record("tcp-blocked", f"{where}; the control connected", method=method)
                blocked.add(address)
            else:
                ev.down.append(f"tcp: {where}; the control failed too ({control_failure})")
        elif facts.control_http_ok and address in facts.trusted_addresses():
            method = method_for_failure("tcp", failure)
            _recorder(facts, address, port, ev)(
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
        record = _recorder(facts, address, port, ev)
        if failure in _CERT_FAILURES:
            presented = hs.peer_certificates[0].issuer if hs.peer_certificates else "unknown"
            expected = control.leaf_issuer if control is not None else None
            record(
                "tls-mitm",
                f"{where}; presented issuer {presented!r}"
                + (f", the control saw {expected!r}" if expected else ""),
                factor=factor,
            )
        else:
            method = method_for_failure("tls", failure)
            record(
                "tls-blocked",
                f"{where}; the control's handshake succeeded",
                method=method,
                factor=factor,
            )


_ACTIVE_FAILURES = frozenset({Failure.CONNECTION_RESET.value, Failure.EOF.value})
"""Failures a destination causes on purpose (a reset, a close), unlike a timeout; a refused
connect is left out: any host without the service refuses."""
_FORGERY_RULES = frozenset(
    {"dns-forged", "dns-forged-known", "dns-forged-ghost", "dns-injected", "dns-bogon"}
)


def check_forged_destinations(facts: Facts, dns: DnsFindings, ev: Evidence) -> None:
    """Fire `forged-destination-blocked` when a forged answer's address also cut the connection.

    DNS forgery is already a hit; a reset or refusal at the address it pointed to is a second,
    independent method (OONI's blocking flags report both). A timeout there is only the
    forgery's consequence (nothing answers at a fake address).
    """
    if not any(h.rule in _FORGERY_RULES for h in ev.hits):
        return
    failures: list[tuple[str, str, int, str]] = [
        ("tcp", address, port, conn.failure)
        for (address, port), conn in facts.tcp.items()
        if conn.failure is not None
    ]
    for (address, port), hs in facts.tls.items():
        conn = facts.tcp.get((address, port))
        if hs.failure is not None and (conn is None or conn.failure is None):
            failures.append(("tls", address, port, hs.failure))
    failures += [
        (_stage(tx), tx.address, tx.port, tx.failure)
        for tx in facts.chain
        if tx.failure is not None and tx.depth == 0
    ]
    for stage, address, port, failure in failures:
        forged = address in dns.inconsistent or address in dns.injected  # not a bogon
        if failure in _ACTIVE_FAILURES and forged:
            ev.hit(
                "forged-destination-blocked",
                f"{address}:{port}, where a forged answer pointed, failed at {stage}: {failure}",
                method=method_for_failure(stage, failure),
            )


def _stage(tx: HttpTransaction) -> str:
    if tx.connect_ms is None:
        return "tcp"
    if tx.url.startswith("https:") and tx.tls_ms is None:
        return "tls"
    return "http"
