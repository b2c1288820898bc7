"""Packet evidence without the privilege: one line on stderr, exit 0, measurements unchanged;
exit 4 only when it was required."""

from __future__ import annotations

import functools
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from lab.servers import Route, Site, serve_web

CRENEL_PROBE = Path(sys.executable).parent / "crenel-probe"
SERVER = "127.0.0.2"
OFF_LINE = (
    "crenel-probe: packet evidence is off: this process lacks CAP_NET_RAW (run as root, or "
    "setcap cap_net_raw+ep on the Python interpreter)"
)


@pytest.fixture
async def url(nursery: trio.Nursery) -> str:
    sites = [Site(SERVER, {"/": Route(body=b"<html><title>t</title>hello</html>")})]
    port = await nursery.start(functools.partial(serve_web, sites, host=SERVER))
    return f"http://{SERVER}:{port}/"


@pytest.fixture
def home() -> Iterator[Path]:
    """A directory the unprivileged user can write (pytest's tmp_path is root's only)."""
    directory = Path(tempfile.mkdtemp(prefix="crenel-e2e-packets-"))
    directory.chmod(0o777)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


async def unprivileged_probe(home: Path, *flags: str) -> tuple[int, list[dict[str, object]], str]:
    command = [
        str(CRENEL_PROBE), "measure", "--json", "--yes", "--config", str(home / "probe.toml"),
        "--data-dir", str(home / "data"), "--resolver", "off", "--doh", "off",
        "--no-system-resolver", "--public-network", "127.0.0.0/8", *flags,
    ]  # fmt: skip
    if os.geteuid() == 0:
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    with trio.fail_after(60):
        result = await trio.run_process(
            command, capture_stdout=True, capture_stderr=True, check=False
        )
    stderr = result.stderr.decode()
    if "setpriv" in stderr and "not permitted" in stderr:
        pytest.skip("cannot drop privileges here")
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result.returncode, lines, stderr


def comparable(measurement: dict[str, object]) -> dict[str, object]:
    """The measurement without what differs between any two runs (ids, times, ports)."""

    def strip(value: object) -> object:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in DROPPED}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(measurement)  # type: ignore[return-value]


DROPPED = frozenset(
    {"uid", "id", "start_time", "runtime_ms", "t0_ms", "t_ms", "connect_ms", "request_sent_ms",
     "headers_ms", "local_port", "received"}
)  # fmt: skip


async def test_without_the_privilege_packet_evidence_is_off_in_one_line_and_nothing_changes(
    url: str, home: Path
) -> None:
    code, [plain], stderr = await unprivileged_probe(home, url)
    assert code == 0 and stderr == ""
    code, [asked], stderr = await unprivileged_probe(home, "--packet-evidence", url)
    assert code == 0
    assert stderr.splitlines() == [OFF_LINE]
    assert asked["packets"] is None
    assert comparable(asked) == comparable(plain)


async def test_required_packet_evidence_without_the_privilege_is_exit_4(
    url: str, home: Path
) -> None:
    code, measurements, stderr = await unprivileged_probe(home, "--require-packet-evidence", url)
    assert code == 4 and measurements == []
    assert stderr.splitlines() == [
        "crenel-probe: error: packet evidence is required but this process lacks CAP_NET_RAW "
        "(run as root, or setcap cap_net_raw+ep on the Python interpreter)"
    ]
