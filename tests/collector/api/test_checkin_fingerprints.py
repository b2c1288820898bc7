"""The collector's fingerprint set: announced at check-in (version, digest, size, where), served as
its canonical bytes, replaced by a newer file the admin configures, and refused when malformed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import httpx
import pytest
import trio

from collector.analyse.analyser import ReferenceSource
from collector.cli import main as collector_main
from collector.config import load_collector_config
from collector.core.errors import ConfigInvalid
from probe.analysis import build_fingerprint, make_versioned_set
from probe.references import BUNDLED_VERSION, bundled_set
from tests.collector.running import start_collector

EXTRA = build_fingerprint(
    name="a_prod_examplewall",
    source="admin",
    location="body",
    pattern_type="contains",
    pattern="Examplewall denied this address",
)


def write_newer_set(path: Path, version: str = "2099.1.1") -> str:
    """Write a newer set, pretty-printed as an admin might; return its canonical digest."""
    made = make_versioned_set(version, [*bundled_set().fingerprints, EXTRA], "admin's set")
    path.write_text(json.dumps(json.loads(made.data), indent=2))
    return made.digest


async def test_check_in_announces_the_shipped_set_and_serves_its_bytes(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    running = await start_collector(nursery, tmp_path)
    async with httpx.AsyncClient(base_url=running.url) as client:
        offer = (await client.get("/api/v1/check-in")).json()["fingerprints"]
        served = await client.get(offer["url"])
    shipped = bundled_set()
    assert offer == {
        "version": BUNDLED_VERSION,
        "digest": shipped.digest,
        "size_bytes": len(shipped.data),
        "url": "/api/v1/fingerprints",
    }
    assert served.status_code == 200
    assert served.headers["content-type"] == "application/json"
    assert hashlib.sha256(served.content).hexdigest() == offer["digest"]
    assert served.headers["etag"] == f'"{offer["digest"]}"'


async def test_a_newer_set_the_admin_configures_is_announced_served_and_analysed_with(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    path = tmp_path / "newer.json"
    digest = write_newer_set(path)
    running = await start_collector(nursery, tmp_path, fingerprint_set_path=path)
    async with httpx.AsyncClient(base_url=running.url) as client:
        offer = (await client.get("/api/v1/check-in")).json()["fingerprints"]
        served = (await client.get("/api/v1/fingerprints")).content
    assert (offer["version"], offer["digest"]) == ("2099.1.1", digest)
    assert hashlib.sha256(served).hexdigest() == digest and len(served) == offer["size_bytes"]
    reference = running.collector.analyser.reference
    assert reference.fingerprints.match_response(200, [], "Examplewall denied this address") != []


def test_the_fingerprint_set_setting_comes_from_a_flag_or_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "newer.json"
    write_newer_set(path)
    flagged = load_collector_config({"fingerprint_set": str(path)}, {})
    from_env = load_collector_config({}, {"CRENEL_COLLECTOR_FINGERPRINT_SET": str(path)})
    assert flagged.fingerprint_set_path == from_env.fingerprint_set_path == path
    with pytest.raises(ConfigInvalid, match="--fingerprint-set: no such file"):
        load_collector_config({"fingerprint_set": str(tmp_path / "missing.json")}, {})


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ('{"format": "crenel-fingerprint-set/1", "version": "new", "fingerprints": []}', "new"),
        ("name,scope\nx,isp\n", "not a Crenel fingerprint set"),
    ],
    ids=["bad-version", "a-csv-file"],
)
def test_a_malformed_set_file_stops_the_collector_with_one_line(
    tmp_path: Path, content: str, complaint: str
) -> None:
    path = tmp_path / "set.json"
    path.write_text(content)
    with pytest.raises(ConfigInvalid, match=complaint) as caught:
        ReferenceSource(fingerprint_set_path=path).load()
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("flag", "content", "complaint"),
    [
        ("--fingerprint-set", '{"format": "crenel-fingerprint-set/1", "version": "x"}', "set.json"),
        ("--fingerprints", "a,b\n1,2\n", "not an OONI fingerprint CSV"),
    ],
    ids=["set", "extra-file"],
)
def test_serve_with_a_bad_fingerprint_file_is_one_line_and_exit_2_before_listening(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, content: str, complaint: str
) -> None:
    bad = tmp_path / ("set.json" if flag == "--fingerprint-set" else "extra.csv")
    bad.write_text(content)
    args = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        str(tmp_path / "data"),
        flag,
        str(bad),
    ]
    assert collector_main(args) == 2
    captured = capsys.readouterr()
    (line,) = captured.err.strip().splitlines()
    assert line.startswith("crenel-collector: error:") and complaint in line
    assert "serving" not in captured.out + captured.err
