"""The probe's address never leaks in any spelling (issue 13, item 6), proven in namespaces.

client (198.51.100.2, 2001:db8:5c::2) -> nat (masquerades IPv4 to 192.0.2.2) -> server
(192.0.2.1, 2001:db8:5d::1) running a web server that echoes the client's public IPv4 address
and its IPv6 address in every spelling (bodies in text, bytes and UTF-16, headers, redirects)
and a collector. Behind NAT the probe learns 192.0.2.2 only from the collector's geolookup.

1. `measure --collector`: the local store, `--json` and the collector's API hold no spelling.
2. `measure` without a collector (only interface addresses are known: the public IPv4 reaches
   the local store, as documented), then `upload`: the collector's ingest scrubs it, so its API
   holds no spelling either.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trio

from lab import netns
from tests.e2e.address_echo import spellings
from tests.probe.privacy.spelling_forms import ipv6_spellings

pytestmark = [pytest.mark.netns, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CLIENT_V4, NAT_INSIDE_V4, PUBLIC_V4, SERVER_V4 = (
    "198.51.100.2",
    "198.51.100.1",
    "192.0.2.2",
    "192.0.2.1",
)
CLIENT_V6, NAT_INSIDE_V6, NAT_OUTSIDE_V6, SERVER_V6 = (
    "2001:db8:5c::2",
    "2001:db8:5c::1",
    "2001:db8:5d::2",
    "2001:db8:5d::1",
)
COLLECTOR = f"http://{SERVER_V4}:8080"
READY_TIMEOUT_S = 30.0
FORMS = sorted({form.lower() for form in spellings(PUBLIC_V4, CLIENT_V6)})
FORMS_V6 = {form.lower() for form in ipv6_spellings(ipaddress.IPv6Address(CLIENT_V6))}


def _texts(value: Any, key: str | None = None) -> Iterator[str]:
    """Yield every string in decoded JSON, base64 bodies decoded as Latin-1."""
    if isinstance(value, str):
        if key == "body_prefix_base64":
            yield base64.b64decode(value).decode("latin-1")
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _texts(v, k)


def leaks(data: bytes) -> list[str]:
    """Return the spellings found in `data`: raw, and in every decoded string of its JSON lines."""
    texts = [data.decode("latin-1")]
    for line in data.splitlines():
        if not line.strip().startswith(b"{"):
            continue
        try:
            decoded = json.loads(line)
        except ValueError:  # a database page that happens to start with "{": searched raw above
            continue
        texts += list(_texts(decoded))
    found = set()
    for text in texts:
        lowered = text.lower()
        for candidate in (lowered, lowered.replace("\x00", "")):
            found |= {form for form in FORMS if form in candidate}
    return sorted(found)


@dataclass
class Topology:
    """The three namespaces, their processes and a scratch directory."""

    tag: str = field(default_factory=lambda: secrets.token_hex(2))
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="scrub-")))
    processes: list[trio.Process] = field(default_factory=list)

    @property
    def client(self) -> str:
        return f"scrub-{self.tag}-cli"

    @property
    def nat(self) -> str:
        return f"scrub-{self.tag}-nat"

    @property
    def server(self) -> str:
        return f"scrub-{self.tag}-srv"

    async def build(self) -> None:
        for name in (self.client, self.nat, self.server):
            await netns.add_namespace(name)
            for key in ("all", "default"):
                await netns.set_sysctl(name, f"net.ipv6.conf.{key}.disable_ipv6", "0")
        await netns.add_veth(self.client, "c0", self.nat, "n0")
        await netns.add_veth(self.nat, "n1", self.server, "s0")
        for ns, interface, cidr in (
            (self.client, "c0", f"{CLIENT_V4}/24"),
            (self.client, "c0", f"{CLIENT_V6}/64"),
            (self.nat, "n0", f"{NAT_INSIDE_V4}/24"),
            (self.nat, "n0", f"{NAT_INSIDE_V6}/64"),
            (self.nat, "n1", f"{PUBLIC_V4}/24"),
            (self.nat, "n1", f"{NAT_OUTSIDE_V6}/64"),
            (self.server, "s0", f"{SERVER_V4}/24"),
            (self.server, "s0", f"{SERVER_V6}/64"),
        ):
            await netns.add_address(ns, interface, cidr)
        await netns.add_route(self.client, "default", NAT_INSIDE_V4)
        await netns.add_route(self.client, "2001:db8:5d::/64", NAT_INSIDE_V6)
        await netns.add_route(self.server, "2001:db8:5c::/64", NAT_OUTSIDE_V6)
        await netns.set_sysctl(self.nat, "net.ipv4.ip_forward", "1")
        await netns.set_sysctl(self.nat, "net.ipv6.conf.all.forwarding", "1")
        rules = (
            "table ip scrub_nat {\n chain post {\n"
            "  type nat hook postrouting priority srcnat; policy accept;\n"
            '  oifname "n1" masquerade\n }\n}\n'
        )
        await netns.run(["nft", "-f", "-"], namespace=self.nat, stdin=rules.encode())

    async def start(self, namespace: str, argv: list[str], marker: bytes, name: str) -> None:
        """Start `argv` in `namespace`; return once it printed `marker`."""
        log_path = self.directory / f"{name}.log"
        with log_path.open("wb") as log:
            process = await trio.lowlevel.open_process(
                netns.in_namespace(namespace, argv),
                stdout=subprocess.PIPE,
                stderr=log,
                cwd=REPO,
            )
        self.processes.append(process)
        assert process.stdout is not None
        output = b""
        with trio.move_on_after(READY_TIMEOUT_S):
            while marker not in output:  # each pass reads bytes or ends at EOF
                chunk = await process.stdout.receive_some(4096)
                if not chunk:
                    break
                output += chunk
        if marker not in output:
            raise AssertionError(f"{name} did not start: {output!r} {log_path.read_text()}")

    async def in_client(self, *argv: str, timeout_s: float = 90.0) -> bytes:
        """Return the stdout of `argv` run in the client namespace (it must exit 0)."""
        result = await netns.run(list(argv), namespace=self.client, timeout_s=timeout_s)
        return result.stdout

    async def fetch(self, url: str) -> bytes:
        """Return the body of a GET from the client namespace."""
        code = (
            "import sys, urllib.request; "
            "sys.stdout.buffer.write(urllib.request.urlopen(sys.argv[1], timeout=20).read())"
        )
        return await self.in_client(sys.executable, "-c", code, url, timeout_s=30)

    async def teardown(self) -> None:
        for process in self.processes:
            if process.returncode is None:
                process.kill()
            with trio.move_on_after(5, shield=True):
                await process.wait()
        with trio.move_on_after(30, shield=True):
            for name in (self.client, self.nat, self.server):
                await netns.delete_namespace(name)
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture
async def topology() -> AsyncIterator[Topology]:
    if shutil.which("nft") is None:
        pytest.skip("needs nftables (nft) for the NAT namespace")
    world = Topology()
    try:
        await world.build()
        await world.start(
            world.server,
            [sys.executable, "-m", "tests.e2e.address_echo", SERVER_V4, "80", PUBLIC_V4, CLIENT_V6],
            b"READY",
            "echo",
        )
        await world.start(
            world.server,
            [
                str(BIN / "crenel-collector"),
                "serve",
                "--listen",
                f"{SERVER_V4}:8080",
                "--data-dir",
                str(world.directory / "collector"),
                "--analysis-workers",
                "0",
            ],
            b"crenel-collector: serving",
            "collector",
        )
        yield world
    finally:
        await world.teardown()


def _probe(home: Path, *flags: str) -> list[str]:
    return [
        str(BIN / "crenel-probe"),
        "measure",
        "--json",
        "--yes",
        "--config",
        str(home / "probe.toml"),
        "--data-dir",
        str(home / "data"),
        "--resolver",
        "off",
        "--doh",
        "off",
        "--no-system-resolver",
        "--public-network",
        "192.0.2.0/24",
        *flags,
        f"http://{SERVER_V4}/",
    ]


def _store_bytes(home: Path) -> bytes:
    """Return the local store's file bytes and every stored measurement, decompressed."""
    files = sorted((home / "data").rglob("*"))
    raw = b"".join(p.read_bytes() for p in files if p.is_file())
    with sqlite3.connect(home / "data" / "measurements.sqlite3") as connection:
        rows = connection.execute("SELECT body FROM measurements").fetchall()
    return raw + b"\n" + b"\n".join(zlib.decompress(row[0]) for row in rows)


def _uid(json_output: bytes) -> str:
    lines = [json.loads(line) for line in json_output.splitlines() if line.strip()]
    assert len(lines) == 1
    measurement = lines[0]
    assert len([tx for tx in measurement["http"] if tx["response"]]) == 3, measurement["http"]
    return str(measurement["uid"])


async def test_no_spelling_of_the_address_is_stored_printed_or_uploaded(
    topology: Topology,
) -> None:
    # The echo server really sends every spelling (seen from the client, before scrubbing).
    page = await topology.fetch(f"http://{SERVER_V4}/utf16")
    assert leaks(page.decode("utf-16-le").encode()) == FORMS
    # 1. Behind NAT, with a collector: the geolookup tells the probe its public address.
    home = topology.directory / "with-collector"
    home.mkdir()
    printed = await topology.in_client(*_probe(home, "--collector", COLLECTOR))
    uid = _uid(printed)
    assert leaks(printed) == []
    assert leaks(_store_bytes(home)) == []
    await topology.in_client(
        str(BIN / "crenel-probe"), "upload", "--config", str(home / "probe.toml"),
        "--data-dir", str(home / "data"), "--collector", COLLECTOR,
    )  # fmt: skip
    served = await topology.fetch(f"{COLLECTOR}/api/v1/measurements/{uid}")
    assert json.loads(served)["uid"] == uid
    assert leaks(served) == []
    # 2. Without a collector the public IPv4 is unknown locally (documented); at upload the
    # collector scrubs the uploader's address with the same code.
    alone = topology.directory / "alone"
    alone.mkdir()
    printed = await topology.in_client(*_probe(alone))
    uid = _uid(printed)
    assert PUBLIC_V4 in printed.decode()
    assert not set(leaks(printed)) & FORMS_V6
    await topology.in_client(
        str(BIN / "crenel-probe"), "upload", "--config", str(alone / "probe.toml"),
        "--data-dir", str(alone / "data"), "--collector", COLLECTOR,
    )  # fmt: skip
    served = await topology.fetch(f"{COLLECTOR}/api/v1/measurements/{uid}")
    assert json.loads(served)["uid"] == uid
    assert leaks(served) == []
    listing = await topology.fetch(f"{COLLECTOR}/api/v1/measurements?limit=10")
    assert leaks(listing) == []
