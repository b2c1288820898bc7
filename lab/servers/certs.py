"""The lab's certificate authorities: issue EC P-256 server certificates for lab hosts.

Reads the clock only for default validity periods; writes files only in `write_pem` and
(temporarily) in `server_context`.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from lab.servers.names import normalise_name

CA_VALIDITY = datetime.timedelta(days=3650)
LEAF_VALIDITY = datetime.timedelta(days=365)
# Back-dating tolerates clock differences between the lab's namespaces and processes.
BACKDATE = datetime.timedelta(days=1)


@dataclass(frozen=True)
class IssuedCertificate:
    """A server certificate, its private key, and the chain a server sends (leaf first)."""

    cert_pem: bytes
    key_pem: bytes
    chain_pem: bytes  # leaf then intermediates; the root is never sent


def _name(common_name: str) -> x509.Name:
    """Return an X.509 name with `common_name` and the lab's organisation."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Crenel lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    """Return `key` as unencrypted PKCS#8 PEM."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _subject_alternative_name(hostname: str) -> x509.GeneralName:
    """Return an IP SAN for an IP literal, else a DNS SAN in IDNA form."""
    try:
        return x509.IPAddress(ipaddress.ip_address(hostname))
    except ValueError:
        return x509.DNSName(normalise_name(hostname))


@dataclass(frozen=True)
class CertificateAuthority:
    """A self-signed root that issues lab server certificates."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @classmethod
    def create(cls, common_name: str) -> CertificateAuthority:
        """Return a new root CA named `common_name`, valid from yesterday for ten years."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        public = key.public_key()
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(_name(common_name))
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + CA_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(key=key, cert=cert)

    @property
    def cert_pem(self) -> bytes:
        """Return the CA certificate as PEM (what clients trust)."""
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        """Return the CA's private key as unencrypted PKCS#8 PEM (lab use only)."""
        return _key_pem(self.key)

    @classmethod
    def from_pem(cls, cert_pem: bytes, key_pem: bytes) -> CertificateAuthority:
        """Return the CA stored as `cert_pem` and `key_pem` (so separate processes share it).

        Raises:
            ValueError: the PEM data is not an EC certificate and key.
        """
        key = serialization.load_pem_private_key(key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the CA key must be an EC private key")
        return cls(key=key, cert=x509.load_pem_x509_certificate(cert_pem))

    def write_pem(self, path: str | Path) -> None:
        """Write the CA certificate as PEM to `path` (for a client's trust store)."""
        Path(path).write_bytes(self.cert_pem)

    def issue(
        self,
        hostnames: Sequence[str],
        *,
        not_before: datetime.datetime | None = None,
        not_after: datetime.datetime | None = None,
    ) -> IssuedCertificate:
        """Return a server certificate for `hostnames` (names, Unicode names or IP literals).

        The validity defaults to yesterday until a year from now; pass a past `not_after` for an
        expired certificate.

        Raises:
            ValueError: no hostname, an invalid name, or `not_after` before `not_before`.
        """
        if not hostnames:
            raise ValueError("a certificate needs at least one hostname")
        sans = [_subject_alternative_name(h) for h in hostnames]
        now = datetime.datetime.now(datetime.UTC)
        start = not_before or min(now - BACKDATE, (not_after or now) - LEAF_VALIDITY)
        end = not_after or now + LEAF_VALIDITY
        if end <= start:
            raise ValueError("not_after must be later than not_before")
        key = ec.generate_private_key(ec.SECP256R1())
        first = sans[0].value
        common_name = str(first)
        ca_public = self.key.public_key()
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_public), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        return IssuedCertificate(cert_pem=cert_pem, key_pem=_key_pem(key), chain_pem=cert_pem)


def server_context(issued: IssuedCertificate) -> ssl.SSLContext:
    """Return a TLS server context (TLS 1.2+, ALPN http/1.1) presenting `issued`."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    # The ssl module loads certificates from files only; the directory lives for this call.
    with tempfile.TemporaryDirectory(prefix="crenel-lab-cert-") as directory:
        chain_path = Path(directory) / "chain.pem"
        key_path = Path(directory) / "key.pem"
        chain_path.write_bytes(issued.chain_pem)
        key_path.write_bytes(issued.key_pem)
        context.load_cert_chain(chain_path, key_path)
    return context
