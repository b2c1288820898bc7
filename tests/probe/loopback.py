"""A small internet on 127.0.0.1 for end-to-end probe tests: ISP and public resolvers, web
servers (HTTP, HTTPS with a lab CA, DoH) and the control helper, all in one trio nursery."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from collector.app import CONTROL_PATH, build_helper_app
from collector.control.helper import HelperConfig
from lab.servers import (
    DnsRecord,
    NameBehaviour,
    Route,
    Site,
    TlsSetup,
    Zone,
    bind_tcp,
    html_page,
    serve_dns,
    serve_web,
)
from probe.config import Budgets, ProbeConfig

LOOPBACK = "127.0.0.1"
NEWS_PAGE = html_page("Example News Today", "All the news that is fit to print. " * 40)
HUGE_BYTES = 32 << 20

DEFAULT_NAMES = (
    "www.example.test",
    "news.example.test",
    "redirect.example.test",
    "loop.example.test",
    "hops.example.test",
    "bad-redirect.example.test",
    "files.example.test",
    "яндекс.example.test",
)


def default_sites(http_port: int, https_port: int) -> list[Site]:
    return [
        Site(host="www.example.test", routes={"/": Route(body=NEWS_PAGE)}),
        Site(host="news.example.test", routes={"/": Route(body=NEWS_PAGE)}),
        Site(
            host="redirect.example.test",
            routes={"/": Route(redirect_to=f"https://news.example.test:{https_port}/")},
        ),
        Site(host="loop.example.test", routes={"/": Route(redirect_to="/")}),
        Site(
            host="hops.example.test",
            routes={
                "/": Route(redirect_to="/second", status=301),
                "/second": Route(redirect_to=f"http://www.example.test:{http_port}/", status=307),
            },
        ),
        Site(
            host="bad-redirect.example.test",
            routes={"/": Route(redirect_to="ftp://files.example.test/")},
        ),
        Site(
            host="files.example.test",
            routes={
                "/huge": Route(body_size=HUGE_BYTES, headers=(("content-type", "text/plain"),))
            },
        ),
        Site(host="яндекс.example.test", routes={"/": Route(body=NEWS_PAGE)}),
    ]


@dataclass
class Internet:
    """Ports and files of a running loopback internet."""

    isp_dns: int
    public_dns: int
    http: int
    https: int
    control: int
    ca_file: Path
    data_dir: Path
    extra: dict[str, Any] = field(default_factory=dict)

    def url(self, host: str, path: str = "/", *, https: bool = False) -> str:
        port = self.https if https else self.http
        return f"{'https' if https else 'http'}://{host}:{port}{path}"

    def probe_config(self, **changes: Any) -> ProbeConfig:
        values: dict[str, Any] = {
            "data_dir": self.data_dir,
            "config_path": self.data_dir / "probe.toml",
            "control_url": f"http://{LOOPBACK}:{self.control}{CONTROL_PATH}",
            "system_resolver": False,
            "udp_resolver": (LOOPBACK, self.isp_dns),
            "doh_url": f"https://{LOOPBACK}:{self.https}/dns-query",
            "ca_bundle": self.ca_file,
            "public_networks": ("127.0.0.0/8",),
            "budgets": Budgets(dns_s=2.0, tcp_s=2.0, tls_s=2.0, http_s=5.0, control_s=10.0),
            "capture_window_s": 0.2,
        }
        values.update(changes)
        return ProbeConfig(**values)


def zone(
    names: Sequence[str] = DEFAULT_NAMES, behaviours: Mapping[str, NameBehaviour] | None = None
) -> Zone:
    return Zone(
        records=tuple(DnsRecord(n, "A", LOOPBACK) for n in names),
        behaviours=dict(behaviours or {}),
    )


async def start_internet(
    nursery: trio.Nursery,
    tmp_path: Path,
    *,
    isp_behaviours: Mapping[str, NameBehaviour] | None = None,
    isp_names: Sequence[str] = DEFAULT_NAMES,
    with_control: bool = True,
) -> Internet:
    """Start every server in `nursery` and return where they listen."""
    tls = TlsSetup.create()
    ca_file = tmp_path / "lab-ca.pem"
    tls.ca.write_pem(ca_file)
    public_zone = zone()
    isp_dns = await nursery.start(serve_dns, zone(isp_names, isp_behaviours))
    public_dns = await nursery.start(serve_dns, public_zone)
    # Ports must be known before the sites (redirects name them): bind, describe, then serve on
    # the same sockets (releasing a port and binding it again races other sockets for it).
    http_listener = await bind_tcp(LOOPBACK, 0)
    https_listener = await bind_tcp(LOOPBACK, 0)
    http_port = http_listener.socket.getsockname()[1]
    https_port = https_listener.socket.getsockname()[1]
    sites = default_sites(http_port, https_port)
    await nursery.start(functools.partial(serve_web, sites, host=LOOPBACK, listener=http_listener))
    await nursery.start(
        functools.partial(
            serve_web, sites, host=LOOPBACK, tls=tls, doh_zone=public_zone, listener=https_listener
        )
    )
    control_port = 0
    if with_control:
        app = build_helper_app(
            HelperConfig(
                udp_resolver=(LOOPBACK, public_dns),
                doh_url=None,
                allowed_networks=("127.0.0.0/8",),
                ca_bundle=ca_file,
                dns_s=2.0,
                tcp_s=2.0,
                tls_s=2.0,
                http_s=5.0,
            )
        )
        config = HypercornConfig()
        config.bind = [f"{LOOPBACK}:0"]
        config.accesslog = None
        config.loglevel = "WARNING"
        binds = await nursery.start(serve, app, config)
        control_port = int(binds[0].rsplit(":", 1)[1])
    data_dir = tmp_path / "probe"
    data_dir.mkdir(exist_ok=True)
    return Internet(
        isp_dns=isp_dns,
        public_dns=public_dns,
        http=http_port,
        https=https_port,
        control=control_port,
        ca_file=ca_file,
        data_dir=data_dir,
    )
