"""Tests of `classify`: exception chains as the libraries raise them, mapped to failure strings."""

from __future__ import annotations

import errno
import itertools
import re
import socket
import ssl

import dns.exception
import dns.message
import dns.resolver
import h11
import httpcore
import httpx
import pytest
import trio

from probe.model.failures import UNKNOWN_PREFIX, Failure, is_failure_string
from probe.net import FAILURES_NOT_FROM_EXCEPTIONS, classify


def chained(*exceptions: BaseException) -> BaseException:
    """Return the first exception, each one caused by the next (outermost first)."""
    for outer, inner in itertools.pairwise(exceptions):
        outer.__cause__ = inner
    return exceptions[0]


def cert_error(verify_code: int, text: str) -> ssl.SSLCertVerificationError:
    """Return a certificate verification error as CPython raises it."""
    exc = ssl.SSLCertVerificationError(1, f"[SSL: CERTIFICATE_VERIFY_FAILED] {text}")
    exc.verify_code = verify_code
    exc.reason = "CERTIFICATE_VERIFY_FAILED"
    return exc


def ssl_error(reason: str) -> ssl.SSLError:
    """Return an ssl.SSLError carrying OpenSSL's reason code."""
    exc = ssl.SSLError(1, f"[SSL: {reason}] {reason.lower()} (_ssl.c:1006)")
    exc.reason = reason
    return exc


CASES: list[tuple[str, BaseException, Failure]] = [
    (
        "refused",
        ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"),
        Failure.CONNECTION_REFUSED,
    ),
    (
        "refused-through-happy-eyeballs",
        chained(
            httpx.ConnectError("all attempts to connect to 127.0.0.1:1 failed"),
            httpcore.ConnectError("all attempts to connect to 127.0.0.1:1 failed"),
            OSError("all attempts to connect to 127.0.0.1:1 failed"),
            ExceptionGroup("", [ConnectionRefusedError(errno.ECONNREFUSED, "refused")]),
        ),
        Failure.CONNECTION_REFUSED,
    ),
    ("refused-without-errno", ConnectionRefusedError(), Failure.CONNECTION_REFUSED),
    (
        "reset-after-hello",
        chained(
            trio.BrokenResourceError("[Errno 104] Connection reset by peer"),
            ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"),
        ),
        Failure.CONNECTION_RESET,
    ),
    ("broken-pipe", BrokenPipeError(errno.EPIPE, "Broken pipe"), Failure.CONNECTION_RESET),
    (
        "aborted",
        ConnectionAbortedError(errno.ECONNABORTED, "Software caused connection abort"),
        Failure.CONNECTION_ABORTED,
    ),
    ("timeout-errno", OSError(errno.ETIMEDOUT, "Connection timed out"), Failure.GENERIC_TIMEOUT),
    ("timeout-builtin", TimeoutError(), Failure.GENERIC_TIMEOUT),
    ("trio-too-slow", trio.TooSlowError(), Failure.GENERIC_TIMEOUT),
    (
        "dns-timeout",
        dns.exception.Timeout(),  # type: ignore[no-untyped-call]
        Failure.GENERIC_TIMEOUT,
    ),
    (
        "httpx-read-timeout",
        chained(httpx.ReadTimeout(""), httpcore.ReadTimeout("")),
        Failure.GENERIC_TIMEOUT,
    ),
    ("httpcore-timeout", httpcore.ConnectTimeout(""), Failure.GENERIC_TIMEOUT),
    (
        "host-unreachable",
        OSError(errno.EHOSTUNREACH, "No route to host"),
        Failure.HOST_UNREACHABLE,
    ),
    (
        "network-unreachable",
        OSError(errno.ENETUNREACH, "Network is unreachable"),
        Failure.NETWORK_UNREACHABLE,
    ),
    (
        "no-address-of-that-family",
        OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address"),
        Failure.NETWORK_UNREACHABLE,
    ),
    (
        "wrong-host",
        chained(
            trio.BrokenResourceError(""),
            cert_error(62, "Hostname mismatch, certificate is not valid for 'x.test'."),
        ),
        Failure.SSL_INVALID_HOSTNAME,
    ),
    ("ip-mismatch", cert_error(64, "IP address mismatch"), Failure.SSL_INVALID_HOSTNAME),
    (
        "unknown-issuer",
        cert_error(2, "unable to get issuer certificate"),
        Failure.SSL_UNKNOWN_AUTHORITY,
    ),
    ("self-signed", cert_error(18, "self-signed certificate"), Failure.SSL_UNKNOWN_AUTHORITY),
    (
        "self-signed-in-chain",
        cert_error(19, "self-signed certificate in certificate chain"),
        Failure.SSL_UNKNOWN_AUTHORITY,
    ),
    (
        "untrusted",
        cert_error(20, "unable to get local issuer certificate"),
        Failure.SSL_UNKNOWN_AUTHORITY,
    ),
    (
        "leaf-unverifiable",
        cert_error(21, "unable to verify the first certificate"),
        Failure.SSL_UNKNOWN_AUTHORITY,
    ),
    (
        "not-yet-valid",
        cert_error(9, "certificate is not yet valid"),
        Failure.SSL_INVALID_CERTIFICATE,
    ),
    ("expired", cert_error(10, "certificate has expired"), Failure.SSL_INVALID_CERTIFICATE),
    (
        "bad-purpose",
        cert_error(26, "unsuitable certificate purpose"),
        Failure.SSL_INVALID_CERTIFICATE,
    ),
    (
        "eof-after-hello",
        chained(
            trio.BrokenResourceError(""),
            ssl.SSLEOFError(8, "EOF occurred in violation of protocol (_ssl.c:992)"),
        ),
        Failure.EOF,
    ),
    ("unexpected-eof-reason", ssl_error("UNEXPECTED_EOF_WHILE_READING"), Failure.EOF),
    (
        "tls-close-notify",
        ssl.SSLZeroReturnError(6, "TLS/SSL connection has been closed"),
        Failure.EOF,
    ),
    (
        "plaintext-reply",
        chained(trio.BrokenResourceError(""), ssl_error("WRONG_VERSION_NUMBER")),
        Failure.SSL_FAILED_HANDSHAKE,
    ),
    (
        "server-disconnected",
        chained(
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            httpcore.RemoteProtocolError("Server disconnected without sending a response."),
        ),
        Failure.EOF,
    ),
    (
        "incomplete-body",
        chained(
            httpx.RemoteProtocolError("peer closed connection without sending complete message"),
            httpcore.RemoteProtocolError("peer closed connection without sending complete"),
            h11.RemoteProtocolError(
                "peer closed connection without sending complete message body "
                "(received 10 bytes, expected 1000)"
            ),
        ),
        Failure.EOF,
    ),
    ("broken-stream-alone", trio.BrokenResourceError(), Failure.EOF),
    ("dns-tcp-eof", EOFError("EOF"), Failure.EOF),
    (
        "garbage-reply",
        chained(
            httpx.RemoteProtocolError("illegal status line"),
            httpcore.RemoteProtocolError("illegal status line"),
            h11.RemoteProtocolError("illegal status line: bytearray(b'\\x00\\x01')"),
        ),
        Failure.HTTP_PROTOCOL_ERROR,
    ),
    (
        "bad-content-encoding",
        httpx.DecodingError("Error -3 while decompressing"),
        Failure.HTTP_PROTOCOL_ERROR,
    ),
    ("unsupported-scheme", httpx.UnsupportedProtocol("ftp"), Failure.HTTP_PROTOCOL_ERROR),
    (
        "nxdomain",
        dns.resolver.NXDOMAIN(),  # type: ignore[no-untyped-call]
        Failure.DNS_NXDOMAIN,
    ),
    (
        "no-answer",
        dns.resolver.NoAnswer(),  # type: ignore[no-untyped-call]
        Failure.DNS_NO_ANSWER,
    ),
    (
        "no-nameservers",
        dns.resolver.NoNameservers(),  # type: ignore[no-untyped-call]
        Failure.DNS_SERVER_FAILURE,
    ),
    (
        "dns-short-header",
        dns.message.ShortHeader(),  # type: ignore[no-untyped-call]
        Failure.DNS_BAD_RESPONSE,
    ),
    (
        "gai-noname",
        socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
        Failure.DNS_NXDOMAIN,
    ),
    (
        "gai-nodata",
        socket.gaierror(socket.EAI_NODATA, "No address associated with hostname"),
        Failure.DNS_NO_ANSWER,
    ),
    (
        "gai-again",
        socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"),
        Failure.DNS_TEMPORARY_FAILURE,
    ),
    (
        "gai-fail",
        socket.gaierror(socket.EAI_FAIL, "Non-recoverable failure in name resolution"),
        Failure.DNS_SERVER_FAILURE,
    ),
]


@pytest.mark.parametrize(("exc", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_exception_chain_maps_to_its_failure(exc: BaseException, expected: Failure) -> None:
    assert classify(exc) == expected.value


def test_every_failure_has_a_classify_case_or_a_named_producer_elsewhere() -> None:
    classified = {expected for _, _, expected in CASES}
    elsewhere = set(FAILURES_NOT_FROM_EXCEPTIONS)
    assert set(Failure) - classified - elsewhere == set()
    assert classified & elsewhere == set(), "a failure listed as produced elsewhere is classified"
    assert all(reason.strip() for reason in FAILURES_NOT_FROM_EXCEPTIONS.values())


def test_table_ids_are_unique() -> None:
    ids = [case[0] for case in CASES]
    assert len(ids) == len(set(ids))


def test_innermost_meaningful_cause_wins_over_outer_wrappers() -> None:
    exc = chained(
        httpx.ConnectError(""),
        httpcore.ConnectError(""),
        trio.BrokenResourceError(""),
        cert_error(10, "certificate has expired"),
    )
    assert classify(exc) == Failure.SSL_INVALID_CERTIFICATE.value


def test_implicit_context_is_followed_when_there_is_no_cause() -> None:
    exc = httpx.ReadError("")
    exc.__context__ = ConnectionResetError(errno.ECONNRESET, "reset")
    assert classify(exc) == Failure.CONNECTION_RESET.value


def test_a_context_hidden_by_from_none_is_used_when_the_visible_chain_says_nothing() -> None:
    # httpcore's pool re-raises with `raise exc from None`, hiding the real cause.
    hidden = httpcore.ConnectError("")
    hidden.__context__ = chained(trio.BrokenResourceError(""), cert_error(62, "Hostname mismatch"))
    hidden.__suppress_context__ = True
    assert classify(chained(httpx.ConnectError(""), hidden)) == Failure.SSL_INVALID_HOSTNAME.value


def test_a_visible_meaningful_cause_wins_over_a_hidden_context() -> None:
    exc = httpx.ReadTimeout("")
    exc.__context__ = ConnectionResetError(errno.ECONNRESET, "reset")
    exc.__suppress_context__ = True
    assert classify(exc) == Failure.GENERIC_TIMEOUT.value


def test_a_group_is_judged_by_its_first_meaningful_leaf() -> None:
    group = ExceptionGroup("", [ValueError("noise"), OSError(errno.EHOSTUNREACH, "No route")])
    assert classify(group) == Failure.HOST_UNREACHABLE.value


def test_a_cycle_of_contexts_terminates() -> None:
    first, second = ValueError("a"), ValueError("b")
    first.__context__, second.__context__ = second, first
    assert classify(first).startswith(UNKNOWN_PREFIX)


def test_unknown_failure_carries_the_message_with_addresses_scrubbed() -> None:
    exc = OSError("cannot reach 192.0.2.7:53 or [2001:db8::1]:443 at 12:30:45")
    assert classify(exc) == UNKNOWN_PREFIX + "cannot reach ADDRESS:53 or [ADDRESS]:443 at 12:30:45"


def test_unknown_failure_without_a_message_names_the_type_not_a_repr() -> None:
    result = classify(RuntimeError())
    assert result == UNKNOWN_PREFIX + "RuntimeError"
    assert is_failure_string(result)
    assert not re.search(r"\w+\(", result)
