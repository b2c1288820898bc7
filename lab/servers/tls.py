"""HTTPS certificates per site: one server context whose SNI callback picks each host's cert.

Issues certificates in memory with `certs`; reads the clock for validity periods only.
"""

from __future__ import annotations

import datetime
import ssl
from collections.abc import Sequence
from dataclasses import dataclass

from lab.servers.certs import CertificateAuthority, IssuedCertificate, server_context
from lab.servers.names import normalise_name
from lab.servers.sites import Site, find_site

# A name no lab site uses, for certificates that must not match the host (RFC 2606 .invalid).
WRONG_HOST = "wrong-host.invalid"
DEFAULT_HOST = "localhost"
EXPIRED_AGO = datetime.timedelta(days=1)


@dataclass(frozen=True)
class TlsSetup:
    """The lab's trusted CA and a second CA that clients do not trust."""

    ca: CertificateAuthority
    untrusted_ca: CertificateAuthority

    @classmethod
    def create(cls) -> TlsSetup:
        """Return a setup with two fresh CAs."""
        return cls(
            ca=CertificateAuthority.create("Crenel lab root CA"),
            untrusted_ca=CertificateAuthority.create("Crenel untrusted root CA"),
        )


def site_certificate(site: Site, tls: TlsSetup) -> IssuedCertificate:
    """Return the certificate the HTTPS listener presents for `site` (per `site.certificate`)."""
    if site.certificate == "expired":
        now = datetime.datetime.now(datetime.UTC)
        return tls.ca.issue([site.host], not_after=now - EXPIRED_AGO)
    if site.certificate == "wrong_host":
        return tls.ca.issue([WRONG_HOST])
    if site.certificate == "untrusted":
        return tls.untrusted_ca.issue([site.host])
    return tls.ca.issue([site.host])


def sni_context(sites: Sequence[Site], tls: TlsSetup) -> ssl.SSLContext:
    """Return a server context whose SNI callback presents each site's certificate.

    A client sending no SNI (as for IP literals) or an unknown name gets the first site's
    certificate, like a web server's default virtual host; with no sites, one for "localhost".
    """
    contexts = {site.host: server_context(site_certificate(site, tls)) for site in sites}
    default_issued = site_certificate(sites[0], tls) if sites else tls.ca.issue([DEFAULT_HOST])
    default = server_context(default_issued)

    def choose(
        connection: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _: ssl.SSLContext
    ) -> None:
        if server_name is None:
            return
        try:
            key = normalise_name(server_name)
        except ValueError:
            return
        context = find_site(contexts, key)
        if context is not None:
            connection.context = context

    default.sni_callback = choose
    return default
