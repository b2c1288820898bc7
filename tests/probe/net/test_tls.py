"""Tests of the TLS handshake step against the lab's HTTPS server and tiny misbehaving servers."""

from __future__ import annotations

import re
import socket
import ssl

import pytest
import trio
from cryptography.hazmat.primitives.serialization import Encoding

from lab.servers import TlsSetup
from probe.model.failures import Failure
from probe.net import StepClock, certificate_record, handshake_tls, make_ssl_context, tls_timed_out
from probe.net.tls import _chain_without_verification
from tests.probe.net.conftest import StartBehaviour

RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
LAB_ROOT = "CN=Crenel lab root CA,O=Crenel lab"
UNTRUSTED_ROOT = "CN=Crenel untrusted root CA,O=Crenel lab"


async def test_handshake_records_version_cipher_alpn_and_the_presented_chain(
    https_port: int, tls_context: ssl.SSLContext, clock: StepClock
) -> None:
    record = await handshake_tls(
        "127.0.0.1", https_port, "www.example.test", context=tls_context, clock=clock, txid=5
    )
    assert record.failure is None
    assert record.tls_version == "TLSv1.3"
    assert record.cipher_suite is not None
    assert record.cipher_suite.startswith("TLS_")
    assert record.negotiated_protocol == "http/1.1"
    assert record.is_verified
    assert not record.certificates_from_retry
    (leaf,) = record.peer_certificates
    assert leaf.dns_names == ["www.example.test"]
    assert leaf.subject == "CN=www.example.test,O=Crenel lab"
    assert leaf.issuer == LAB_ROOT
    assert RFC3339_UTC.match(leaf.not_before)
    assert RFC3339_UTC.match(leaf.not_after)
    assert leaf.not_before < leaf.not_after
    assert (record.address, record.port, record.server_name) == (
        "127.0.0.1",
        https_port,
        "www.example.test",
    )
    assert record.t0_ms <= record.t_ms
    assert record.local_port is not None and record.local_port != https_port


async def test_the_chosen_sni_selects_the_certificate(
    https_port: int, tls_context: ssl.SSLContext, clock: StepClock
) -> None:
    record = await handshake_tls(
        "127.0.0.1", https_port, "other.example.test", context=tls_context, clock=clock, txid=1
    )
    assert record.failure is None
    assert record.peer_certificates[0].dns_names == ["other.example.test"]


async def test_unicode_sni_is_sent_in_punycode(
    https_port: int, tls_context: ssl.SSLContext, clock: StepClock
) -> None:
    record = await handshake_tls(
        "127.0.0.1", https_port, "яндекс.example.test", context=tls_context, clock=clock, txid=1
    )
    assert record.failure is None
    assert record.server_name == "xn--d1acpjx3f.example.test"
    assert record.peer_certificates[0].dns_names == ["xn--d1acpjx3f.example.test"]


CERTIFICATE_FAILURES = [
    ("wrong-host", "wrong.example.test", Failure.SSL_INVALID_HOSTNAME, LAB_ROOT),
    ("untrusted", "untrusted.example.test", Failure.SSL_UNKNOWN_AUTHORITY, UNTRUSTED_ROOT),
    ("expired", "expired.example.test", Failure.SSL_INVALID_CERTIFICATE, LAB_ROOT),
]


@pytest.mark.parametrize(
    ("server_name", "expected", "issuer"),
    [case[1:] for case in CERTIFICATE_FAILURES],
    ids=[case[0] for case in CERTIFICATE_FAILURES],
)
async def test_certificate_failure_is_recorded_with_the_presented_chain(
    https_port: int,
    tls_context: ssl.SSLContext,
    clock: StepClock,
    server_name: str,
    expected: Failure,
    issuer: str,
) -> None:
    record = await handshake_tls(
        "127.0.0.1", https_port, server_name, context=tls_context, clock=clock, txid=1
    )
    assert record.failure == expected.value
    assert not record.is_verified
    assert record.tls_version is None
    (leaf,) = record.peer_certificates
    assert leaf.issuer == issuer
    assert not record.certificates_from_retry  # read from the failed handshake itself


CONNECTION_FAILURES = [
    ("reset-after-hello", "reset", Failure.CONNECTION_RESET),
    ("eof-after-hello", "eof", Failure.EOF),
    ("plaintext-reply", "plaintext", Failure.SSL_FAILED_HANDSHAKE),
]


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [case[1:] for case in CONNECTION_FAILURES],
    ids=[case[0] for case in CONNECTION_FAILURES],
)
async def test_server_misbehaving_after_the_client_hello_is_recorded(
    misbehaving_server: StartBehaviour,
    tls_context: ssl.SSLContext,
    clock: StepClock,
    behaviour: str,
    expected: Failure,
) -> None:
    port = await misbehaving_server(behaviour)
    record = await handshake_tls(
        "127.0.0.1", port, "www.example.test", context=tls_context, clock=clock, txid=1
    )
    assert record.failure == expected.value
    assert record.peer_certificates == []
    assert record.local_port is not None  # failed after connecting: the flow can be matched


async def test_closed_port_is_connection_refused(
    closed_port: int, tls_context: ssl.SSLContext, clock: StepClock
) -> None:
    record = await handshake_tls(
        "127.0.0.1", closed_port, "www.example.test", context=tls_context, clock=clock, txid=1
    )
    assert record.failure == Failure.CONNECTION_REFUSED.value


async def test_silent_server_times_out_at_the_callers_deadline(
    misbehaving_server: StartBehaviour, tls_context: ssl.SSLContext, clock: StepClock
) -> None:
    port = await misbehaving_server("silent")
    budget_s = 0.2
    record = tls_timed_out(
        "127.0.0.1", port, "www.example.test", clock=clock, txid=2, budget_s=budget_s
    )
    with trio.move_on_after(budget_s) as scope:
        record = await handshake_tls(
            "127.0.0.1", port, "www.example.test", context=tls_context, clock=clock, txid=2
        )
    assert scope.cancelled_caught
    assert record.failure == Failure.GENERIC_TIMEOUT.value
    assert record.t_ms == pytest.approx(record.t0_ms + budget_s * 1000)
    assert record.server_name == "www.example.test"


async def test_without_verification_an_untrusted_chain_is_accepted_but_not_verified(
    https_port: int, clock: StepClock
) -> None:
    record = await handshake_tls(
        "127.0.0.1",
        https_port,
        "untrusted.example.test",
        context=make_ssl_context(verify=False),
        clock=clock,
        txid=1,
    )
    assert record.failure is None
    assert not record.is_verified
    assert record.peer_certificates[0].issuer == UNTRUSTED_ROOT


async def test_the_retry_without_verification_reads_the_chain(https_port: int) -> None:
    # The fallback used when Python cannot hand over a failed handshake's chain.
    chain = await _chain_without_verification(
        "127.0.0.1",
        https_port,
        "untrusted.example.test",
        family=socket.AF_INET,
        clock=StepClock(0.0),
    )
    assert [certificate_record(der).issuer for der in chain] == [UNTRUSTED_ROOT]


async def test_the_retry_without_verification_returns_nothing_when_it_fails(
    closed_port: int,
) -> None:
    chain = await _chain_without_verification(
        "127.0.0.1", closed_port, "www.example.test", family=socket.AF_INET, clock=StepClock(0.0)
    )
    assert chain == []


def test_certificate_record_summarises_a_der_certificate(lab_tls: TlsSetup) -> None:
    der = lab_tls.ca.cert.public_bytes(Encoding.DER)
    record = certificate_record(der)
    assert record.subject == record.issuer == LAB_ROOT
    assert re.fullmatch(r"[0-9a-f]{64}", record.sha256)
    assert record.dns_names == []
    assert RFC3339_UTC.match(record.not_before)


def test_certificate_record_rejects_bytes_that_are_not_a_certificate() -> None:
    with pytest.raises(ValueError):
        certificate_record(b"not a certificate")


def test_verifying_context_requires_tls_1_2_and_checks_names() -> None:
    context = make_ssl_context()
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname


def test_non_verifying_context_accepts_any_certificate() -> None:
    context = make_ssl_context(verify=False)
    assert context.verify_mode == ssl.CERT_NONE
    assert not context.check_hostname


async def test_an_address_that_is_not_an_ip_is_a_caller_error(
    tls_context: ssl.SSLContext, clock: StepClock
) -> None:
    with pytest.raises(ValueError):
        await handshake_tls(
            "localhost", 443, "www.example.test", context=tls_context, clock=clock, txid=1
        )
