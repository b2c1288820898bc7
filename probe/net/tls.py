"""TLS handshake with a chosen SNI over a fresh TCP connection, returning a `TlsHandshake` record.

Records the version, cipher, ALPN and the chain the peer presented. Failures are recorded.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, partial
from pathlib import Path

import trio
from cryptography import x509

from probe.model.failures import Failure
from probe.model.observations import Certificate, TlsHandshake
from probe.net.classify import NETWORK_ERRORS, classify
from probe.net.names import address_family_is_ipv6, encode_hostname, hostname_for_record
from probe.net.tcp import local_port_of
from probe.net.timing import StepClock

logger = logging.getLogger(__name__)

ALPN_PROTOCOLS = ("h2", "http/1.1")
MAX_CHAIN_CERTIFICATES = 16
RETRY_BUDGET_S = 5.0
"""Bound on the extra handshake that reads a chain after a verification failure."""
CLOSE_BUDGET_S = 1.0

_ENCODING_DER = 2  # _ssl.ENCODING_DER
_CERTIFICATE_FAILURES = frozenset(
    {
        Failure.SSL_INVALID_HOSTNAME.value,
        Failure.SSL_UNKNOWN_AUTHORITY.value,
        Failure.SSL_INVALID_CERTIFICATE.value,
    }
)


def make_ssl_context(ca_bundle: Path | None = None, *, verify: bool = True) -> ssl.SSLContext:
    """Return a client context: TLS 1.2 or later, ALPN h2 and http/1.1.

    With `verify`, it trusts the system's default CA store plus `ca_bundle` (PEM) if given and
    checks host names; without, it accepts any certificate.

    Raises:
        OSError: `ca_bundle` cannot be read (ssl.SSLError when it holds no valid certificate).
    """
    if verify:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        if ca_bundle is not None:
            context.load_verify_locations(cafile=str(ca_bundle))
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(list(ALPN_PROTOCOLS))
    return context


def tls_timed_out(
    address: str,
    port: int,
    server_name: str,
    *,
    clock: StepClock,
    txid: int,
    depth: int = 0,
    budget_s: float,
) -> TlsHandshake:
    """Return the record of a handshake whose `budget_s` ran out: build it just before starting."""
    t0_ms = clock.ms()
    return TlsHandshake(
        id=txid,
        depth=depth,
        address=address,
        port=port,
        server_name=hostname_for_record(server_name),
        t0_ms=t0_ms,
        t_ms=clock.ms_after(t0_ms, budget_s),
        failure=Failure.GENERIC_TIMEOUT.value,
    )


async def handshake_tls(
    address: str,
    port: int,
    server_name: str,
    *,
    context: ssl.SSLContext,
    clock: StepClock,
    txid: int,
    depth: int = 0,
) -> TlsHandshake:
    """Return the record of a TCP connect plus TLS handshake sending SNI `server_name`.

    Owns and closes its connection (close bounded to 1 s). When certificate verification fails,
    the chain is read from that failed handshake; only if it is unavailable there does one more
    handshake with verification off read it (`certificates_from_retry`).

    Raises:
        ValueError: `address` is not an IP address.
    """
    family = socket.AF_INET6 if address_family_is_ipv6(address) else socket.AF_INET
    t0_ms = clock.ms()
    record = partial(
        TlsHandshake,
        id=txid,
        depth=depth,
        address=address,
        port=port,
        server_name=hostname_for_record(server_name),
        t0_ms=t0_ms,
    )
    try:
        sni = encode_hostname(server_name)
        outcome = await _handshake(address, port, sni, context=context, family=family, clock=clock)
    except NETWORK_ERRORS as exc:
        return record(t_ms=clock.ms(), failure=classify(exc))
    t_ms = outcome.ended_ms
    if outcome.error is None:
        return record(
            t_ms=t_ms,
            local_port=outcome.local_port,
            tls_version=outcome.tls_version,
            cipher_suite=outcome.cipher_suite,
            negotiated_protocol=outcome.negotiated_protocol,
            peer_certificates=certificate_records(outcome.chain),
            is_verified=context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname,
        )
    failure = classify(outcome.error)
    chain, is_from_retry = outcome.chain, False
    if failure in _CERTIFICATE_FAILURES and not chain:
        chain = await _chain_without_verification(address, port, sni, family=family, clock=clock)
        is_from_retry = bool(chain)
    return record(
        t_ms=t_ms,
        local_port=outcome.local_port,
        peer_certificates=certificate_records(chain),
        certificates_from_retry=is_from_retry,
        failure=failure,
    )


def certificate_record(der: bytes) -> Certificate:
    """Return the summary of one DER certificate: SHA-256, subject, issuer, validity, SAN names.

    Raises:
        ValueError: `der` is not a parsable X.509 certificate.
    """
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        dns_names = [str(name) for name in san.value.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        dns_names = []
    except (x509.DuplicateExtension, ValueError):  # malformed: keep what the rest says
        dns_names = []
    return Certificate(
        sha256=hashlib.sha256(der).hexdigest(),
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_before=_rfc3339(cert.not_valid_before_utc),
        not_after=_rfc3339(cert.not_valid_after_utc),
        dns_names=dns_names,
    )


def certificate_records(chain: Sequence[bytes]) -> list[Certificate]:
    """Return the records of a DER chain, leaf first, skipping certificates that do not parse."""
    records = []
    for der in chain[:MAX_CHAIN_CERTIFICATES]:
        try:
            records.append(certificate_record(der))
        except ValueError as exc:
            logger.warning("unparsable certificate in a peer chain: %s", exc)
    return records


@dataclass(slots=True)
class _Outcome:
    """What one handshake attempt produced: its parameters, or the error and presented chain."""

    ended_ms: float
    local_port: int | None = None
    tls_version: str | None = None
    cipher_suite: str | None = None
    negotiated_protocol: str | None = None
    chain: list[bytes] = field(default_factory=list)
    error: Exception | None = None


async def _handshake(
    address: str,
    port: int,
    sni: str,
    *,
    context: ssl.SSLContext,
    family: socket.AddressFamily,
    clock: StepClock,
) -> _Outcome:
    """Return the outcome of one handshake; connect errors raise, handshake errors are returned.

    `ended_ms` is when the handshake finished or failed, before the connection is closed.
    """
    with trio.socket.socket(family, socket.SOCK_STREAM) as sock:
        await sock.connect((address, port))
        local_port = local_port_of(sock)
        stream = trio.SSLStream(
            trio.SocketStream(sock), context, server_hostname=sni, https_compatible=True
        )
        try:
            await stream.do_handshake()
        except NETWORK_ERRORS as exc:
            return _Outcome(
                ended_ms=clock.ms(),
                local_port=local_port,
                chain=_presented_chain(stream),
                error=exc,
            )
        else:
            ended_ms = clock.ms()
            cipher = stream.cipher()
            return _Outcome(
                ended_ms=ended_ms,
                local_port=local_port,
                tls_version=stream.version(),
                cipher_suite=cipher[0] if cipher else None,
                negotiated_protocol=stream.selected_alpn_protocol(),
                chain=_presented_chain(stream),
            )
        finally:
            with (
                trio.move_on_after(CLOSE_BUDGET_S, shield=True),
                contextlib.suppress(*NETWORK_ERRORS),
            ):
                await stream.aclose()


async def _chain_without_verification(
    address: str, port: int, sni: str, *, family: socket.AddressFamily, clock: StepClock
) -> list[bytes]:
    """Return the chain presented to a handshake with verification off; empty if it fails."""
    with trio.move_on_after(RETRY_BUDGET_S):
        try:
            outcome = await _handshake(
                address, port, sni, context=_unverified_context(), family=family, clock=clock
            )
        except NETWORK_ERRORS as exc:
            logger.debug("chain retry failed: %s", classify(exc))
            return []
        return outcome.chain
    return []


@cache
def _unverified_context() -> ssl.SSLContext:
    """Return the shared context for chain retries (it accepts any certificate)."""
    return make_ssl_context(verify=False)


def _presented_chain(stream: trio.SSLStream[trio.SocketStream]) -> list[bytes]:
    """Return the DER chain the peer sent, leaf first, even after a failed verification.

    Uses CPython's private `_sslobj.get_unverified_chain()` (3.10+; public from 3.13) and falls
    back to the leaf alone, which Python only exposes after a completed handshake.
    """
    ssl_object = stream._ssl_object
    get_chain = getattr(getattr(ssl_object, "_sslobj", None), "get_unverified_chain", None)
    if get_chain is not None:
        return [
            item if isinstance(item, bytes) else item.public_bytes(_ENCODING_DER)
            for item in (get_chain() or [])
        ]
    try:
        leaf = ssl_object.getpeercert(binary_form=True)
    except ValueError:  # "handshake not done yet"
        return []
    return [leaf] if leaf else []


def _rfc3339(moment: datetime) -> str:
    """Return `moment` as an RFC 3339 UTC timestamp with a Z suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
