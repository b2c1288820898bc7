"""HTTPS certificate selection by SNI, against `serve_web` on loopback."""

from __future__ import annotations

import datetime
import functools
import ssl

import httpx
import pytest
import trio
from cryptography import x509

from lab.servers import Route, Site, TlsSetup, serve_web
from lab.servers.tls import WRONG_HOST, site_certificate


@pytest.fixture(scope="module")
def tls() -> TlsSetup:
    return TlsSetup.create()


SITES = [
    Site("a.test", {"/": Route(body=b"site a")}),
    Site("b.test", {"/": Route(body=b"site b")}),
    Site("bücher.test", {"/": Route(body=b"books")}),
    Site("*.bench.test", {"/": Route(body=b"bench")}),
]


@pytest.fixture
async def port(nursery: trio.Nursery, tls: TlsSetup) -> int:
    port: int = await nursery.start(functools.partial(serve_web, SITES, tls=tls))
    return port


async def presented_names(port: int, server_name: str | None) -> list[str]:
    """Return the SAN names of the certificate presented for `server_name`, unverified."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    stream = trio.SSLStream(
        await trio.open_tcp_stream("127.0.0.1", port), context, server_hostname=server_name
    )
    async with stream:
        with trio.fail_after(5):
            await stream.do_handshake()
        der = stream.getpeercert(binary_form=True)
    assert der is not None
    cert = x509.load_der_x509_certificate(der)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [str(n.value) for n in names]


SNI_CASES = [
    ("first-site", "a.test", ["a.test"]),
    ("second-site", "b.test", ["b.test"]),
    ("case-insensitive", "B.Test", ["b.test"]),
    ("idna-site", "xn--bcher-kva.test", ["xn--bcher-kva.test"]),
    ("wildcard-site", "host-3.bench.test", ["*.bench.test"]),
    ("unknown-gets-default", "other.test", ["a.test"]),
    ("no-sni-gets-default", None, ["a.test"]),
]


@pytest.mark.parametrize(
    ("server_name", "expected"), [c[1:] for c in SNI_CASES], ids=[c[0] for c in SNI_CASES]
)
async def test_sni_selects_the_site_certificate(
    port: int, server_name: str | None, expected: list[str]
) -> None:
    assert await presented_names(port, server_name) == expected


async def test_httpx_gets_the_sni_site_over_verified_https(port: int, tls: TlsSetup) -> None:
    context = ssl.create_default_context(cadata=tls.ca.cert_pem.decode())
    async with httpx.AsyncClient(verify=context, timeout=5) as client:
        response = await client.get(
            f"https://127.0.0.1:{port}/",
            headers={"Host": "b.test"},
            extensions={"sni_hostname": "b.test"},
        )
    assert response.status_code == 200
    assert response.content == b"site b"
    assert response.http_version == "HTTP/1.1"


async def test_wildcard_certificate_verifies_for_a_name_below_it(port: int, tls: TlsSetup) -> None:
    context = ssl.create_default_context(cadata=tls.ca.cert_pem.decode())
    async with httpx.AsyncClient(verify=context, timeout=5) as client:
        response = await client.get(
            f"https://127.0.0.1:{port}/",
            headers={"Host": "host-3.bench.test"},
            extensions={"sni_hostname": "host-3.bench.test"},
        )
    assert response.content == b"bench"


def test_each_certificate_kind_is_issued_as_described(tls: TlsSetup) -> None:
    now = datetime.datetime.now(datetime.UTC)

    def load(kind: str) -> x509.Certificate:
        return x509.load_pem_x509_certificate(
            site_certificate(Site("k.test", {}, certificate=kind), tls).cert_pem
        )

    assert load("valid").issuer == tls.ca.cert.subject
    assert load("expired").not_valid_after_utc < now
    assert load("expired").issuer == tls.ca.cert.subject
    wrong = load("wrong_host").extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert [str(n.value) for n in wrong.value] == [WRONG_HOST]
    assert load("untrusted").issuer == tls.untrusted_ca.cert.subject
