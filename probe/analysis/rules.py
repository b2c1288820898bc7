"""The rule table: every rule the analysis can fire, with its id, method, weight and reason.

Pure: no I/O. A rule id never changes meaning: a changed rule gets a new id and RULES_VERSION moves.
docs/methodology.md has a section per rule id.
"""

from __future__ import annotations

from dataclasses import dataclass

from probe.model import Method

RULES_VERSION = "3"


@dataclass(frozen=True, slots=True)
class Rule:
    """One analysis rule: what it indicates, how strongly, and why."""

    id: str
    method: Method | None
    weight: float
    why: str


_RULES: tuple[Rule, ...] = (
    Rule(
        "dns-injected",
        Method.DNS_INJECTED,
        0.95,
        "One query got several different answer sets: a legitimate resolver sends one response; "
        "a second, different one comes from an on-path injector racing it.",
    ),
    Rule(
        "dns-nxdomain",
        Method.DNS_NXDOMAIN,
        0.85,
        "The probe's resolver said the name does not exist while the control resolved it.",
    ),
    Rule(
        "dns-no-answer",
        Method.DNS_NO_ANSWER,
        0.75,
        "The probe's resolver answered with no address while the control resolved the name.",
    ),
    Rule(
        "dns-timeout",
        Method.DNS_TIMEOUT,
        0.7,
        "The probe's resolver never answered while the control (and, if used, DoH) resolved it; "
        "censors drop queries that carry a blocked name.",
    ),
    Rule(
        "dns-failure",
        Method.DNS_FAILURE,
        0.6,
        "The probe's resolver failed (SERVFAIL, REFUSED, malformed) while the control resolved it.",
    ),
    Rule(
        "dns-bogon",
        Method.DNS_BOGON,
        0.9,
        "The probe's resolver answered a non-routable address while the control got public ones.",
    ),
    Rule(
        "dns-forged-known",
        Method.DNS_FORGED,
        0.95,
        "An answer is a known blockpage address from a DNS fingerprint.",
    ),
    Rule(
        "dns-forged-ghost",
        Method.DNS_FORGED,
        0.75,
        "The probe's resolvers answered for a name that the control and DoH say does not exist: "
        "the censor invents records to send users to a blockpage.",
    ),
    Rule(
        "dns-forged",
        Method.DNS_FORGED,
        0.8,
        "The probe's answers share no address or AS with the control's or DoH's, none passed a "
        "TLS check for the name, and what they led to failed or differed from the control.",
    ),
    Rule(
        "tcp-blocked",
        None,
        0.75,
        "TCP connect to an address the control reached on the same port failed for the probe.",
    ),
    Rule(
        "tls-blocked",
        None,
        0.85,
        "The TLS handshake with the URL's SNI failed for the probe at an address where TCP "
        "connected and the control's handshake succeeded.",
    ),
    Rule(
        "tls-mitm",
        Method.TLS_MITM,
        0.9,
        "The probe was shown a certificate its trust store rejects while the control verified "
        "the same name: somebody on the path intercepts TLS.",
    ),
    Rule(
        "http-failure",
        None,
        0.8,
        "The HTTP exchange failed after connecting while the control fetched the page.",
    ),
    Rule(
        "redirect-failure",
        None,
        0.7,
        "A redirect hop failed for the probe while the control followed the same chain to a page.",
    ),
    Rule(
        "throttled",
        Method.THROTTLED,
        0.65,
        "The body arrived far slower than the throttling threshold and the control got it whole.",
    ),
    Rule(
        "http-blockpage",
        Method.HTTP_BLOCKPAGE,
        0.95,
        "A response matched a known blockpage fingerprint.",
    ),
    Rule(
        "http-blockpage-vague",
        Method.HTTP_BLOCKPAGE,
        0.7,
        "A response matched a vague blocking-word fingerprint (OONI scope vbw).",
    ),
    Rule(
        "http-diff",
        Method.HTTP_DIFF,
        0.6,
        "Over plain HTTP the final page differs from the control's in status and in body length, "
        "uncommon headers and title words.",
    ),
    Rule(
        "http-redirect-diff",
        Method.HTTP_DIFF,
        0.6,
        "Over plain HTTP the probe was redirected to a host the control never visited.",
    ),
    Rule(
        "tcp-rst-injected",
        Method.TCP_RST_INJECTED,
        0.95,
        "The RST that ended a failed flow did not come from the server's stack: its IP TTL or IP "
        "ID break the server's own pattern, or the server kept sending after it (packet capture).",
    ),
    Rule(
        "tcp-fin-injected",
        Method.TCP_FIN_INJECTED,
        0.9,
        "The FIN that ended a failed flow did not come from the server's stack: its IP TTL or IP "
        "ID break the server's own pattern, or the server kept sending after it (packet capture).",
    ),
    Rule(
        "dns-injected-packet",
        Method.DNS_INJECTED,
        0.97,
        "An early DNS answer the control does not vouch for differs from the resolver's later "
        "answer in IP TTL, IP ID style or UDP checksum: two senders, one of them on the path.",
    ),
    Rule(
        "dns-bait-answered",
        Method.DNS_INJECTED,
        0.97,
        "A query for the host sent to an address that runs no DNS server was answered while a "
        "harmless name was not: only a device on the path can have answered (GFWatch).",
    ),
    Rule(
        "forged-destination-blocked",
        None,
        0.7,
        "The public address a forged DNS answer pointed to reset or closed the connection "
        "itself: the destination blocks too, a second method beside the forgery (OONI's "
        "blocking flags report both).",
    ),
    Rule(
        "censor-located",
        None,
        0.9,
        "Resent with growing IP TTL over completed handshakes, the triggering request was blocked "
        "from a given hop on while a harmless request at the same TTLs was not (CenTrace).",
    ),
)

RULES: dict[str, Rule] = {rule.id: rule for rule in _RULES}
"""Every rule by id."""

FAILURE_METHODS: dict[str, dict[str, Method]] = {
    "tcp": {
        "generic_timeout_error": Method.TCP_TIMEOUT,
        "connection_refused": Method.TCP_REFUSED,
        "connection_reset": Method.TCP_RESET,
        "host_unreachable": Method.TCP_UNREACHABLE,
        "network_unreachable": Method.TCP_UNREACHABLE,
    },
    "tls": {
        "connection_reset": Method.TLS_RESET,
        "eof_error": Method.TLS_EOF,
        "generic_timeout_error": Method.TLS_TIMEOUT,
        "ssl_unknown_authority": Method.TLS_MITM,
        "ssl_invalid_hostname": Method.TLS_MITM,
        "ssl_invalid_certificate": Method.TLS_MITM,
    },
    "http": {
        "connection_reset": Method.HTTP_RESET,
        "eof_error": Method.HTTP_EOF,
        "generic_timeout_error": Method.HTTP_TIMEOUT,
    },
}
"""Method for a failure string at each stage; anything else maps to the stage's generic method."""

GENERIC_METHODS: dict[str, Method] = {
    "tcp": Method.TCP_FAILURE,
    "tls": Method.TLS_FAILURE,
    "http": Method.HTTP_FAILURE,
}


def rule(rule_id: str) -> Rule:
    """Return the rule with this id.

    Raises:
        KeyError: no such rule.
    """
    return RULES[rule_id]


def method_for_failure(stage: str, failure: str) -> Method:
    """Return the blocking method a failure string means at a stage (tcp, tls or http)."""
    return FAILURE_METHODS[stage].get(failure, GENERIC_METHODS[stage])
