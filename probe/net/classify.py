"""Map an exception chain from a network step to a failure string of `probe.model.failures`.

The only module that knows exception types. Pure: no I/O.
"""

from __future__ import annotations

import errno
import ipaddress
import re
import socket
import ssl
from collections.abc import Mapping

import dns.exception
import dns.resolver
import h11
import httpcore
import httpx
import idna
import trio

from probe.model.failures import Failure, unknown_failure

NETWORK_ERRORS: tuple[type[Exception], ...] = (
    OSError,  # includes ssl.SSLError, socket.gaierror, ConnectionError, TimeoutError
    EOFError,
    trio.BrokenResourceError,
    trio.TooSlowError,
    dns.exception.DNSException,
    httpx.HTTPError,
    httpx.InvalidURL,
    h11.ProtocolError,  # the control's client drives h11 itself (probe.control.connections)
    idna.IDNAError,
)
"""What a network step catches at its boundary and records with `classify` instead of raising.

`trio.Cancelled` is not among them: a step never swallows cancellation.
"""

FAILURES_NOT_FROM_EXCEPTIONS: Mapping[Failure, str] = {
    Failure.DNS_REFUSED: "read from a DNS rcode REFUSED by probe.net.dns_answers.rcode_failure",
    Failure.HTTP_INVALID_REDIRECT_LOCATION: "decided by probe.net.http_responses.redirect_target",
    Failure.HTTP_TOO_MANY_REDIRECTS: "decided by the redirect loop in probe.measure",
    Failure.INTERRUPTED: "recorded by probe.measure when the user stops a measurement",
    Failure.REFUSED_ADDRESS: "decided by the control's address guard (collector.control)",
}
"""Failure members no exception maps to, with where they are produced instead."""

# OpenSSL X509_V_ERR_* codes (include/openssl/x509_vfy.h).
_X509_HOSTNAME_MISMATCH = 62
_X509_IP_ADDRESS_MISMATCH = 64
_X509_UNKNOWN_AUTHORITY = frozenset(
    {
        2,  # UNABLE_TO_GET_ISSUER_CERT
        18,  # DEPTH_ZERO_SELF_SIGNED_CERT
        19,  # SELF_SIGNED_CERT_IN_CHAIN
        20,  # UNABLE_TO_GET_ISSUER_CERT_LOCALLY
        21,  # UNABLE_TO_VERIFY_LEAF_SIGNATURE
    }
)

_ERRNO_FAILURES: Mapping[int, Failure] = {
    errno.ECONNREFUSED: Failure.CONNECTION_REFUSED,
    errno.ECONNRESET: Failure.CONNECTION_RESET,
    errno.EPIPE: Failure.CONNECTION_RESET,
    errno.ECONNABORTED: Failure.CONNECTION_ABORTED,
    errno.ETIMEDOUT: Failure.GENERIC_TIMEOUT,
    errno.EHOSTUNREACH: Failure.HOST_UNREACHABLE,
    errno.EHOSTDOWN: Failure.HOST_UNREACHABLE,
    errno.ENETUNREACH: Failure.NETWORK_UNREACHABLE,
    errno.ENETDOWN: Failure.NETWORK_UNREACHABLE,
    # No local address of the destination's family (e.g. IPv6 on an IPv4-only host).
    errno.EADDRNOTAVAIL: Failure.NETWORK_UNREACHABLE,
    errno.EAFNOSUPPORT: Failure.NETWORK_UNREACHABLE,
}

_GAI_FAILURES: Mapping[int, Failure] = {
    socket.EAI_NONAME: Failure.DNS_NXDOMAIN,
    socket.EAI_AGAIN: Failure.DNS_TEMPORARY_FAILURE,
    socket.EAI_FAIL: Failure.DNS_SERVER_FAILURE,
    # EAI_NODATA is a glibc extension; absent on some platforms.
    **({socket.EAI_NODATA: Failure.DNS_NO_ANSWER} if hasattr(socket, "EAI_NODATA") else {}),
}

# A peer that closes before a complete response: httpcore and h11 say so only in text.
_EOF_TEXTS = (
    "server disconnected without sending a response",
    "peer closed connection without sending complete message body",
    "unexpected_eof_while_reading",
    "eof occurred in violation of protocol",
)

_MAX_EXCEPTIONS = 64
_IP_TOKEN = re.compile(r"[0-9A-Fa-f:.]*[:.][0-9A-Fa-f:.]*")


def classify(exc: BaseException) -> str:
    """Return the failure string for `exc`, judged by its innermost meaningful cause.

    Walks `__cause__`, `__context__` and exception-group leaves; the innermost exception that maps
    to a `Failure` wins. A context hidden by `raise ... from None` is searched only when the
    visible chain says nothing, because httpcore's connection pool re-raises that way and so
    hides the real cause (e.g. the certificate error under an empty `ConnectError`).
    Otherwise returns `unknown_failure: <text>` with IP addresses replaced.
    """
    for follow_suppressed in (False, True):
        candidates = _innermost_first(exc, follow_suppressed=follow_suppressed)
        for candidate in candidates:
            failure = _classify_one(candidate)
            if failure is not None:
                return failure.value
    visible = _innermost_first(exc, follow_suppressed=False)
    meaningful = [c for c in visible if not isinstance(c, trio.Cancelled)] or [exc]
    return unknown_failure(_describe(meaningful[0]))


def _innermost_first(exc: BaseException, *, follow_suppressed: bool) -> list[BaseException]:
    """Return each exception of the chain, group leaves included, innermost first (bounded)."""
    seen: set[int] = set()
    ordered: list[BaseException] = []

    def visit(current: BaseException | None, depth: int) -> None:
        if current is None or id(current) in seen or len(seen) >= _MAX_EXCEPTIONS or depth > 32:
            return
        seen.add(id(current))
        if isinstance(current, BaseExceptionGroup):
            for inner in current.exceptions:
                visit(inner, depth + 1)
        inner_cause = current.__cause__
        if inner_cause is None and (follow_suppressed or not current.__suppress_context__):
            inner_cause = current.__context__
        visit(inner_cause, depth + 1)
        ordered.append(current)

    visit(exc, 0)
    return ordered


def _classify_one(exc: BaseException) -> Failure | None:
    """Return the failure one exception stands for, or None when it says nothing by itself."""
    if isinstance(exc, trio.Cancelled | BaseExceptionGroup):
        return None
    if isinstance(exc, ssl.SSLError):
        return _classify_ssl(exc)
    if isinstance(exc, socket.gaierror):
        return _GAI_FAILURES.get(exc.errno) if exc.errno is not None else None
    if isinstance(exc, OSError):
        if exc.errno is not None and exc.errno in _ERRNO_FAILURES:
            return _ERRNO_FAILURES[exc.errno]
        return _classify_os_type(exc)
    if isinstance(exc, trio.TooSlowError | dns.exception.Timeout | httpx.TimeoutException):
        return Failure.GENERIC_TIMEOUT
    if isinstance(exc, httpcore.TimeoutException):
        return Failure.GENERIC_TIMEOUT
    if isinstance(exc, EOFError):
        return Failure.EOF
    if isinstance(exc, dns.exception.DNSException):
        return _classify_dns(exc)
    if isinstance(exc, trio.BrokenResourceError):
        # A broken stream with no deeper cause: the peer went away (e.g. closed mid-handshake).
        if exc.__cause__ is None and exc.__context__ is None:
            return Failure.EOF
        return None
    if isinstance(
        exc,
        httpx.ProtocolError
        | httpx.DecodingError
        | httpx.UnsupportedProtocol
        | httpcore.ProtocolError
        | httpcore.UnsupportedProtocol
        | h11.ProtocolError,
    ):
        if _mentions_eof(exc):
            return Failure.EOF
        return Failure.HTTP_PROTOCOL_ERROR
    return None


def _classify_ssl(exc: ssl.SSLError) -> Failure:
    """Return the failure of a TLS error: certificate problems by OpenSSL's verify code."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = getattr(exc, "verify_code", None)
        if code in (_X509_HOSTNAME_MISMATCH, _X509_IP_ADDRESS_MISMATCH):
            return Failure.SSL_INVALID_HOSTNAME
        if code in _X509_UNKNOWN_AUTHORITY:
            return Failure.SSL_UNKNOWN_AUTHORITY
        return Failure.SSL_INVALID_CERTIFICATE
    if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return Failure.EOF
    if getattr(exc, "reason", None) == "UNEXPECTED_EOF_WHILE_READING" or _mentions_eof(exc):
        return Failure.EOF
    return Failure.SSL_FAILED_HANDSHAKE


def _classify_os_type(exc: OSError) -> Failure | None:
    """Return the failure of an OSError subclass raised without a usable errno."""
    if isinstance(exc, ConnectionRefusedError):
        return Failure.CONNECTION_REFUSED
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return Failure.CONNECTION_RESET
    if isinstance(exc, ConnectionAbortedError):
        return Failure.CONNECTION_ABORTED
    if isinstance(exc, TimeoutError):
        return Failure.GENERIC_TIMEOUT
    return None


def _classify_dns(exc: dns.exception.DNSException) -> Failure | None:
    """Return the failure of a dnspython error; name-syntax errors say nothing about the network."""
    if isinstance(exc, dns.resolver.NXDOMAIN):
        return Failure.DNS_NXDOMAIN
    if isinstance(exc, dns.resolver.NoAnswer):
        return Failure.DNS_NO_ANSWER
    if isinstance(exc, dns.resolver.NoNameservers):
        return Failure.DNS_SERVER_FAILURE
    if isinstance(exc, dns.exception.FormError):
        return Failure.DNS_BAD_RESPONSE
    return None


def _mentions_eof(exc: BaseException) -> bool:
    """Return whether the exception's text says the peer closed before a complete message."""
    text = str(exc).lower()
    return any(marker in text for marker in _EOF_TEXTS)


def _describe(exc: BaseException) -> str:
    """Return the exception's message (or its type name when empty), with IP addresses scrubbed."""
    text = str(exc).strip()
    if not text:
        return type(exc).__name__
    return _IP_TOKEN.sub(_scrub_ip, text)


def _scrub_ip(match: re.Match[str]) -> str:
    """Return the token with an IP address in it (also `ipv4:port`) replaced by `ADDRESS`."""
    token = match.group(0)
    core = token.strip(".:")
    candidates = [core]
    if core.count(":") == 1:
        candidates.append(core.split(":", 1)[0])  # IPv4 with a port
    for candidate in candidates:
        try:
            ipaddress.ip_address(candidate)
        except ValueError:
            continue
        return token.replace(candidate, "ADDRESS")
    return token
