"""A web server that echoes one client address back in every spelling, for the scrubbing lab test.

Run inside the test's server namespace: `python -m tests.e2e.address_echo HOST PORT IPV4 IPV6`.
The chain is `/` (a text page) -> `/binary` (bytes that are not UTF-8) -> `/utf16` (a UTF-16
page); every hop carries the spellings in its body, in Set-Cookie and X-Your-IP headers and in
its redirect Location. Prints READY once listening, serves until terminated.
"""

from __future__ import annotations

import functools
import ipaddress
import sys
from urllib.parse import quote

import trio

from lab.servers import Route, Site, serve_web
from tests.probe.privacy.spelling_forms import ipv4_spellings, ipv6_spellings


def spellings(ipv4: str, ipv6: str) -> list[str]:
    """Return every spelling of both addresses."""
    return ipv4_spellings(ipaddress.IPv4Address(ipv4)) + ipv6_spellings(ipaddress.IPv6Address(ipv6))


def echo_sites(host: str, ipv4: str, ipv6: str) -> list[Site]:
    """Return the site whose three hops echo the addresses everywhere."""
    forms = spellings(ipv4, ipv6)
    page = "\n".join(f"<p>Your address: {form}</p>" for form in forms)
    # Forms a URL can hold as they are ('&', '#', brackets and spaces would change its meaning).
    query = "&".join(
        f"ip{i}={form}" for i, form in enumerate(forms) if not set(form) & set("&#[] /")
    )
    ptr = ipv4.replace(".", "-")
    cookie = f"seen={quote(ipv4)}; ptr={ptr}.dyn.isp.example; v6={quote(ipv6)}"
    headers = (*(("X-Your-IP", form) for form in forms), ("Set-Cookie", cookie))
    html = f"<html><title>you are {forms[0]}</title><body>{page}</body></html>"
    binary = b"\xff\xfe\x00" + page.encode() + b"\xff"
    routes = {
        "/": Route(
            body=html.encode(),
            headers=headers,
            redirect_to=f"http://{host}/binary/{ptr}.dyn.isp.example?{query}",
        ),
        "/binary/": Route(
            body=binary,
            headers=(("content-type", "application/octet-stream"), *headers),
            redirect_to=f"/utf16?{query}",
        ),
        "/utf16": Route(
            body=html.encode("utf-16-le"),
            headers=(("content-type", "text/html; charset=utf-16le"), *headers),
        ),
    }
    return [Site(host, routes)]


async def main(host: str, port: int, ipv4: str, ipv6: str) -> None:
    """Serve the echo site, print READY, serve until cancelled."""
    sites = echo_sites(host, ipv4, ipv6)
    async with trio.open_nursery() as nursery:
        await nursery.start(functools.partial(serve_web, sites, host=host, port=port))
        print("READY", flush=True)


if __name__ == "__main__":
    trio.run(main, sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4])
