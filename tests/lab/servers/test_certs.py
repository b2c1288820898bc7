"""Certificates from the lab CA, checked with cryptography and with real TLS handshakes."""

from __future__ import annotations

import datetime
import functools
import ssl
from pathlib import Path

import pytest
import trio
import trio.testing
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from lab.servers import CertificateAuthority, Route, Site, TlsSetup, serve_web, server_context

# OpenSSL X509_V_ERR_* codes as surfaced in SSLCertVerificationError.verify_code
CERT_HAS_EXPIRED = 10
UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20
HOSTNAME_MISMATCH = 62


@pytest.fixture(scope="module")
def tls() -> TlsSetup:
    return TlsSetup.create()


def sans(pem: bytes) -> list[str]:
    cert = x509.load_pem_x509_certificate(pem)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [str(n.value) for n in names]


def test_issued_certificate_names_hosts_ips_and_unicode_in_idna(tls: TlsSetup) -> None:
    issued = tls.ca.issue(["www.example.test", "Bücher.test", "192.0.2.1", "2001:db8::1"])
    assert sans(issued.cert_pem) == [
        "www.example.test",
        "xn--bcher-kva.test",
        "192.0.2.1",
        "2001:db8::1",
    ]
    cert = x509.load_pem_x509_certificate(issued.cert_pem)
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.issuer == tls.ca.cert.subject
    assert issued.chain_pem.startswith(issued.cert_pem)
    assert b"PRIVATE KEY" in issued.key_pem


def test_issued_certificate_is_signed_by_its_ca(tls: TlsSetup) -> None:
    cert = x509.load_pem_x509_certificate(tls.ca.issue(["a.test"]).cert_pem)
    cert.verify_directly_issued_by(tls.ca.cert)
    with pytest.raises(ValueError):  # signature check fails against the other CA
        cert.verify_directly_issued_by(tls.untrusted_ca.cert)


def test_validity_can_be_set_in_the_past(tls: TlsSetup) -> None:
    now = datetime.datetime.now(datetime.UTC)
    issued = tls.ca.issue(["a.test"], not_after=now - datetime.timedelta(days=2))
    cert = x509.load_pem_x509_certificate(issued.cert_pem)
    assert cert.not_valid_after_utc < now
    assert cert.not_valid_before_utc < cert.not_valid_after_utc


def test_issuing_needs_a_hostname_and_a_forward_validity(tls: TlsSetup) -> None:
    now = datetime.datetime.now(datetime.UTC)
    with pytest.raises(ValueError):
        tls.ca.issue([])
    with pytest.raises(ValueError):
        tls.ca.issue(["a.test"], not_before=now, not_after=now - datetime.timedelta(seconds=1))


def test_ca_is_a_ca_and_writes_its_pem(tls: TlsSetup, tmp_path: Path) -> None:
    constraints = tls.ca.cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca
    path = tmp_path / "ca.pem"
    tls.ca.write_pem(path)
    assert path.read_bytes() == tls.ca.cert_pem
    assert CertificateAuthority.create("Other").cert_pem != tls.ca.cert_pem


def client_context(tls: TlsSetup) -> ssl.SSLContext:
    return ssl.create_default_context(cadata=tls.ca.cert_pem.decode())


async def handshake(port: int, server_name: str, context: ssl.SSLContext) -> dict[str, object]:
    """Return the verified peer certificate after a TLS handshake to 127.0.0.1:`port`."""
    stream = trio.SSLStream(
        await trio.open_tcp_stream("127.0.0.1", port), context, server_hostname=server_name
    )
    async with stream:
        with trio.fail_after(5):
            await stream.do_handshake()
        cert = stream.getpeercert()
        assert isinstance(cert, dict)
        return cert


@pytest.fixture
async def https_port(nursery: trio.Nursery, tls: TlsSetup) -> int:
    page = Route(body=b"ok")
    sites = [
        Site("valid.test", {"/": page}),
        Site("expired.test", {"/": page}, certificate="expired"),
        Site("wrong.test", {"/": page}, certificate="wrong_host"),
        Site("untrusted.test", {"/": page}, certificate="untrusted"),
    ]
    port: int = await nursery.start(functools.partial(serve_web, sites, tls=tls))
    return port


async def test_valid_certificate_verifies_for_its_host(https_port: int, tls: TlsSetup) -> None:
    cert = await handshake(https_port, "valid.test", client_context(tls))
    assert cert["subjectAltName"] == (("DNS", "valid.test"),)


BAD_CASES = [
    ("expired", "expired.test", CERT_HAS_EXPIRED),
    ("wrong-host", "wrong.test", HOSTNAME_MISMATCH),
    ("untrusted", "untrusted.test", UNABLE_TO_GET_ISSUER_CERT_LOCALLY),
]


@pytest.mark.parametrize(
    ("server_name", "verify_code"), [c[1:] for c in BAD_CASES], ids=[c[0] for c in BAD_CASES]
)
async def test_bad_certificates_fail_verification_for_the_right_reason(
    https_port: int, tls: TlsSetup, server_name: str, verify_code: int
) -> None:
    with pytest.raises(trio.BrokenResourceError) as caught:
        await handshake(https_port, server_name, client_context(tls))
    cause = caught.value.__cause__
    assert isinstance(cause, ssl.SSLCertVerificationError)
    assert cause.verify_code == verify_code


async def test_bad_handshakes_do_not_stop_the_server(https_port: int, tls: TlsSetup) -> None:
    for server_name in ("expired.test", "untrusted.test"):
        with pytest.raises(trio.BrokenResourceError):
            await handshake(https_port, server_name, client_context(tls))
    stream = await trio.open_tcp_stream("127.0.0.1", https_port)
    async with stream:
        await stream.send_all(b"GET / HTTP/1.1\r\nHost: valid.test\r\n\r\n")  # plaintext on TLS
    assert await handshake(https_port, "valid.test", client_context(tls))


async def test_server_context_presents_the_issued_certificate_with_an_ip_san(
    tls: TlsSetup,
) -> None:
    server_side, client_side = trio.testing.memory_stream_pair()
    server = trio.SSLStream(
        server_side, server_context(tls.ca.issue(["127.0.0.1"])), server_side=True
    )
    client = trio.SSLStream(client_side, client_context(tls), server_hostname="127.0.0.1")
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(server.do_handshake)
            nursery.start_soon(client.do_handshake)
    assert client.getpeercert()["subjectAltName"] == (("IP Address", "127.0.0.1"),)
    assert client.selected_alpn_protocol() is None  # the client offered no ALPN
