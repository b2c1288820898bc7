"""HTTP rules: the redirect chain, the final page against the control's, blockpages, throttling.

Pure: no I/O. Plain-HTTP pages can be rewritten on the path, so differences there are evidence;
a page fetched over verified TLS comes from the site itself, so a difference there is server-side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from probe.analysis.compare import compare_http, is_diff
from probe.analysis.dns import DnsFindings
from probe.analysis.evidence import Evidence
from probe.analysis.facts import Facts, url_parts
from probe.analysis.reference import ReferenceData
from probe.analysis.rules import method_for_failure
from probe.model import Failure, HttpComparison, HttpTransaction, Method

_DNS_METHODS = {
    Failure.DNS_NXDOMAIN.value: Method.DNS_NXDOMAIN,
    Failure.DNS_NO_ANSWER.value: Method.DNS_NO_ANSWER,
    Failure.GENERIC_TIMEOUT.value: Method.DNS_TIMEOUT,
}
_CHAIN_FAILURES = frozenset(
    {Failure.HTTP_TOO_MANY_REDIRECTS.value, Failure.HTTP_INVALID_REDIRECT_LOCATION.value}
)
_CERT_FAILURES = frozenset(
    {
        Failure.SSL_UNKNOWN_AUTHORITY.value,
        Failure.SSL_INVALID_HOSTNAME.value,
        Failure.SSL_INVALID_CERTIFICATE.value,
    }
)
SLOW_BODY_MIN_BYTES = 64 * 1024


@dataclass
class ChainOutcome:
    """What the HTTP chain amounted to."""

    comparison: HttpComparison | None = None
    success: bool = False
    verified_tls: bool = False
    via_local_dns: bool = False
    trouble: list[str] = field(default_factory=list)


def stage_of(tx: HttpTransaction) -> str:
    """Return where a failed transaction stopped: tcp, tls, http (no response) or body."""
    if tx.connect_ms is None:
        return "tcp"
    if urlsplit(tx.url).scheme == "https" and tx.tls_ms is None:
        return "tls"
    if tx.response is None:
        return "http"
    return "body"


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _goodput_kbps(tx: HttpTransaction) -> float | None:
    if tx.response is None or tx.headers_ms is None:
        return None
    elapsed_s = (tx.t_ms - tx.headers_ms) / 1000.0
    if elapsed_s < 1.0:
        return None
    return tx.response.body_length * 8 / 1000.0 / elapsed_s


def _check_throttling(tx: HttpTransaction, facts: Facts, ref: ReferenceData, ev: Evidence) -> bool:
    kbps = _goodput_kbps(tx)
    response = tx.response
    if kbps is None or response is None or kbps >= ref.throttle_kbps or facts.control is None:
        return False
    control = facts.control.http
    if not facts.control_http_ok or control.body_length is None:
        return False
    incomplete = not response.body_is_complete and control.body_length > response.body_length
    slow_but_whole = response.body_is_complete and response.body_length >= SLOW_BODY_MIN_BYTES
    if not (incomplete or slow_but_whole):
        return False
    ev.hit(
        "throttled",
        f"{response.body_length} of {control.body_length} bytes in "
        f"{(tx.t_ms - (tx.headers_ms or tx.t_ms)) / 1000:.1f} s = {kbps:.1f} kbit/s "
        f"(threshold {ref.throttle_kbps:.0f} kbit/s)",
    )
    return True


def _control_hosts(facts: Facts) -> set[str]:
    hosts = {facts.host}
    if facts.control is not None:
        hosts.update(_host(url) for url in facts.control.http.redirects)
        if facts.control.http.final_url:
            hosts.add(_host(facts.control.http.final_url))
    return hosts


def _check_redirect_divergence(facts: Facts, ev: Evidence) -> bool:
    if not facts.control_http_ok or facts.control is None or facts.control.http.final_url is None:
        return False
    known = _control_hosts(facts)
    previous: HttpTransaction | None = None
    attempted: list[tuple[int, str, HttpTransaction | None]] = [
        (tx.depth, _host(tx.url), tx) for tx in facts.chain
    ]
    final = facts.final()
    if final is not None:
        attempted += [
            (q.depth, q.hostname.rstrip(".").lower(), None)
            for q in facts.later_dns
            if q.depth > final.depth
        ]
    for _depth, host, tx in attempted:
        if host not in known and previous is not None:
            if url_parts(previous.url)[0] == "https" and previous.tls_version is not None:
                ev.server_side.append(f"the site itself redirected the probe to {host}")
            else:
                ev.hit(
                    "http-redirect-diff",
                    f"{previous.url} redirected the probe to {host}, never visited by the control",
                )
            return True
        if tx is not None:
            previous = tx
    return False


def _fingerprint_chain(
    facts: Facts, ref: ReferenceData, ev: Evidence, *, false_positives_only: bool
) -> tuple[bool, bool]:
    """Return (a blockpage matched, a false positive matched) over the chain's responses."""
    blockpage = false_positive = False
    for tx in facts.chain:
        response = tx.response
        if response is None:
            continue
        body = response.body_prefix or ""
        matches = ref.fingerprints.match_response(
            response.status_code, response.headers, body, depth=tx.depth
        )
        for match in matches:
            if match.is_false_positive:
                false_positive = True
                ev.fingerprints.append(match)
            elif not false_positives_only:
                blockpage = True
                ev.fingerprints.append(match)
                rule_id = "http-blockpage-vague" if match.scope == "vbw" else "http-blockpage"
                ev.hit(rule_id, f"{tx.url} (hop {tx.depth}) matches {match.name} ({match.source})")
    return blockpage, false_positive


def _failed_final(
    tx: HttpTransaction,
    *,
    facts: Facts,
    dns: DnsFindings,
    ref: ReferenceData,
    out: ChainOutcome,
    ev: Evidence,
) -> None:
    failure = tx.failure or ""
    stage = stage_of(tx)
    where = f"{tx.url} via {tx.address}: {failure} at {stage}"
    if tx.depth == 0 and dns.explains(tx.address):
        out.trouble.append(f"fetching from {tx.address} failed ({failure})")
        return
    if not facts.control_http_ok:
        if facts.control is not None and facts.control.http.failure is not None:
            ev.down.append(f"http: {where}; the control failed too ({facts.control.http.failure})")
        else:
            ev.unexplained.append(f"http: {where}; no control result to compare")
        return
    if failure in _CHAIN_FAILURES:
        ev.hit(
            "redirect-failure", f"{where}; the control reached a page", method=Method.HTTP_FAILURE
        )
        return
    if stage == "body" and _check_throttling(tx, facts, ref, ev):
        return
    if stage == "tls" and failure in _CERT_FAILURES:
        ev.hit("tls-mitm", f"{where}; the control fetched the page")
        return
    method = method_for_failure("http" if stage == "body" else stage, failure)
    if tx.depth > 0:
        ev.hit(
            "redirect-failure",
            f"{where} (hop {tx.depth}); the control reached a page",
            method=method,
        )
    elif stage == "tcp":
        ev.hit("tcp-blocked", f"{where}; the control fetched the page", method=method)
    elif stage == "tls":
        ev.hit("tls-blocked", f"{where}; the control fetched the page", method=method)
    else:
        ev.hit("http-failure", f"{where}; the control fetched the page", method=method)


def _successful_final(
    tx: HttpTransaction,
    *,
    facts: Facts,
    dns: DnsFindings,
    ref: ReferenceData,
    out: ChainOutcome,
    ev: Evidence,
    diverged: bool,
) -> None:
    response = tx.response
    assert response is not None
    out.success = True
    out.verified_tls = url_parts(tx.url)[0] == "https" and tx.tls_version is not None
    control = facts.control
    if facts.control_http_ok and control is not None:
        out.comparison = compare_http(response, control.http)
    diff = is_diff(out.comparison) if out.comparison is not None else None
    from_forged = tx.depth == 0 and dns.explains(tx.address)
    if out.verified_tls:
        if diff is True or response.status_code >= 400:
            _, false_positive = _fingerprint_chain(facts, ref, ev, false_positives_only=True)
            reason = "a known non-censorship page" if false_positive else "a different page"
            ev.server_side.append(
                f"over verified TLS the site served {reason} (status {response.status_code})"
            )
        return
    blockpage, false_positive = _fingerprint_chain(facts, ref, ev, false_positives_only=False)
    if false_positive and not blockpage:
        ev.server_side.append(
            f"{tx.url} served a known non-censorship page (status {response.status_code})"
        )
        return
    if blockpage and from_forged:
        out.trouble.append(f"{tx.address} served a blockpage")
    if diff is True and not blockpage and not diverged:
        ev.hit(
            "http-diff",
            f"{tx.url} via {tx.address} differs from the control's page: "
            f"{_describe(out.comparison)}",
        )
        if from_forged:
            out.trouble.append(f"{tx.address} served a page unlike the control's")
    if diff is None and not blockpage and not diverged:
        ev.unexplained.append(
            f"http: {tx.url} returned {response.status_code}; no comparable control page"
        )


def _describe(comparison: HttpComparison | None) -> str:
    if comparison is None:
        return "no comparison"
    return (
        f"status_match={comparison.status_code_match} body_proportion={comparison.body_proportion} "
        f"headers_match={comparison.headers_match} title_match={comparison.title_match}"
    )


def analyse_chain(facts: Facts, dns: DnsFindings, ref: ReferenceData, ev: Evidence) -> ChainOutcome:
    """Return the outcome of the HTTP chain, recording HTTP rule hits in `ev`."""
    out = ChainOutcome()
    final = facts.final()
    if final is None:
        if not (dns.failed_unexpectedly or dns.failed_as_control):
            ev.unexplained.append("http: no request could be made")
        return out
    first = facts.chain[0]
    out.via_local_dns = facts.is_ip_host or first.address in facts.local_addresses
    diverged = _check_redirect_divergence(facts, ev)
    deeper = [
        q
        for q in facts.later_dns
        if q.depth > final.depth and q.failure is not None and q.query_type != "AAAA"
    ]
    if final.failure is not None:
        _failed_final(final, facts=facts, dns=dns, ref=ref, out=out, ev=ev)
        return out
    if deeper and (final.response is not None and 300 <= final.response.status_code < 400):
        if diverged:
            _fingerprint_chain(facts, ref, ev, false_positives_only=False)
            return out
        query = deeper[0]
        where = f"redirect target {query.hostname}: {query.failure}"
        if facts.control_http_ok:
            method = _DNS_METHODS.get(query.failure or "", Method.DNS_FAILURE)
            ev.hit("redirect-failure", f"{where}; the control reached a page", method=method)
        elif facts.control is not None:
            ev.down.append(f"dns: {where}; the control failed too")
        else:
            ev.unexplained.append(f"dns: {where}; no control to compare")
        return out
    _successful_final(final, facts=facts, dns=dns, ref=ref, out=out, ev=ev, diverged=diverged)
    return out
