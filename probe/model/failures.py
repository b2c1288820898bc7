"""The closed set of failure strings a measurement may carry.

Pure: no I/O. Names follow OONI's df-007 failure strings where the concept is the same.
"""

from __future__ import annotations

import re
from enum import StrEnum

UNKNOWN_PREFIX = "unknown_failure: "
UNKNOWN_TEXT_MAX_CHARS = 120


class Failure(StrEnum):
    """A failure of one network step, named as OONI names it where OONI has a name."""

    DNS_NXDOMAIN = "dns_nxdomain_error"
    DNS_NO_ANSWER = "dns_no_answer"
    DNS_SERVER_FAILURE = "dns_server_failure"
    DNS_REFUSED = "dns_refused_error"
    DNS_TEMPORARY_FAILURE = "dns_temporary_failure"
    DNS_BAD_RESPONSE = "dns_server_misbehaving"
    GENERIC_TIMEOUT = "generic_timeout_error"
    CONNECTION_REFUSED = "connection_refused"
    CONNECTION_RESET = "connection_reset"
    CONNECTION_ABORTED = "connection_aborted"
    EOF = "eof_error"
    HOST_UNREACHABLE = "host_unreachable"
    NETWORK_UNREACHABLE = "network_unreachable"
    SSL_INVALID_HOSTNAME = "ssl_invalid_hostname"
    SSL_UNKNOWN_AUTHORITY = "ssl_unknown_authority"
    SSL_INVALID_CERTIFICATE = "ssl_invalid_certificate"
    SSL_FAILED_HANDSHAKE = "ssl_failed_handshake"
    HTTP_INVALID_REDIRECT_LOCATION = "http_invalid_redirect_location_host"
    HTTP_TOO_MANY_REDIRECTS = "http_too_many_redirects"
    HTTP_PROTOCOL_ERROR = "http_request_failed"
    INTERRUPTED = "interrupted"
    REFUSED_ADDRESS = "refused_address"
    """The control will not connect: the name or redirect leads only to addresses that are not
    globally reachable (`probe.model.addresses`)."""


_UNSAFE = re.compile(r"[^\x20-\x7e]+")


def unknown_failure(text: str) -> str:
    """Return `unknown_failure: <text>` with the text reduced to one short printable line."""
    cleaned = _UNSAFE.sub(" ", text).strip() or "no detail"
    return UNKNOWN_PREFIX + cleaned[:UNKNOWN_TEXT_MAX_CHARS]


def is_failure_string(value: str) -> bool:
    """Return whether `value` belongs to the failure taxonomy."""
    if value.startswith(UNKNOWN_PREFIX):
        return len(value) > len(UNKNOWN_PREFIX)
    return value in Failure._value2member_map_


FAILURE_PATTERN = (
    "^(" + "|".join(re.escape(f.value) for f in Failure) + "|" + re.escape(UNKNOWN_PREFIX) + ".+)$"
)
"""A regular expression every failure string matches (used in the JSON Schema)."""
