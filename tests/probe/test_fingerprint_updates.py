"""A probe takes a newer fingerprint set from its collector at check-in: fetched, checked against
the announced digest, stored and used from then on; anything wrong is refused in one line and the
set in use stays. Against a collector on loopback, in-process."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import msgspec
import pytest
import trio

from collector.storage import TestListUrl
from probe.analysis import MAX_SET_BYTES, VersionedSet, build_fingerprint, make_versioned_set
from probe.checkin import FingerprintOffer, check_in
from probe.cli.main import main
from probe.cli.render import warning_line
from probe.config import ProbeConfig
from probe.errors import FingerprintSetRefused
from probe.fingerprint_updates import update_fingerprint_set
from probe.model import Measurement, ProbeNetwork
from probe.references import STORED_SET_NAME, active_set, bundled_set
from probe.volunteer.campaign import take_fingerprint_set
from tests.collector.running import RunningCollector, start_collector

OFFLINE = ["--no-system-resolver", "--resolver", "off", "--doh", "off"]
EXTRA = build_fingerprint(
    name="a_prod_examplewall",
    source="admin",
    location="body",
    pattern_type="contains",
    pattern="Examplewall denied this address",
)


def newer_set(version: str = "2099.1.1") -> VersionedSet:
    return make_versioned_set(version, [*bundled_set().fingerprints, EXTRA], "admin's set")


async def collector_with(
    nursery: trio.Nursery, tmp_path: Path, served: VersionedSet
) -> RunningCollector:
    path = tmp_path / "served.json"
    path.write_bytes(served.data)
    running = await start_collector(nursery, tmp_path, fingerprint_set_path=path)
    store = running.collector.storage
    urls = [TestListUrl(url="http://127.0.0.1:9/", category_code="NEWS")]
    await store.write(store.backend.replace_test_lists, urls, "test")
    return running


async def offered(running: RunningCollector) -> FingerprintOffer:
    async with httpx.AsyncClient() as client:
        answer = await check_in(client, running.url, network=ProbeNetwork())
    assert answer.fingerprints is not None
    return answer.fingerprints


async def test_an_older_probe_fetches_verifies_and_keeps_the_newer_set(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    served = newer_set()
    running = await collector_with(nursery, tmp_path, served)
    offer = await offered(running)
    data_dir = tmp_path / "probe"
    async with httpx.AsyncClient() as client:
        used = await update_fingerprint_set(client, running.url, offer, bundled_set(), data_dir)
    assert (used.version, used.digest) == ("2099.1.1", served.digest)
    assert (data_dir / STORED_SET_NAME).read_bytes() == served.data
    assert active_set(data_dir).digest == served.digest


async def test_a_probe_with_the_same_or_a_newer_set_fetches_nothing(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    running = await collector_with(nursery, tmp_path, newer_set("2099.1.1"))
    offer = await offered(running)
    data_dir = tmp_path / "probe"
    async with httpx.AsyncClient() as client:
        for current in (newer_set("2099.1.1"), newer_set("2100.1.1")):
            used = await update_fingerprint_set(client, running.url, offer, current, data_dir)
            assert used is current
    assert not data_dir.exists()


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"digest": "0" * 64}, "but sent version 2099.1.1 sha256"),
        ({"version": "2099.1.2"}, "it announced version 2099.1.2"),
        ({"size_bytes": 1000}, "more than the 1000 bytes it announced"),
        ({"size_bytes": MAX_SET_BYTES + 1}, "over the 4194304-byte limit"),
        ({"url": "http://192.0.2.1/api/v1/fingerprints"}, "is not a path on the collector"),
        ({"url": "/api/v1/health"}, "not a Crenel fingerprint set"),
        ({"url": "/api/v1/nothing-here"}, "answered HTTP 404"),
        ({"version": "latest"}, "bad fingerprint set version"),
    ],
    ids=[
        "digest-mismatch",
        "version-mismatch",
        "longer-than-announced",
        "too-large",
        "elsewhere",
        "not-a-set",
        "missing",
        "bad-version",
    ],
)
async def test_a_bad_or_mismatching_set_is_refused_and_the_old_set_stays(
    nursery: trio.Nursery, tmp_path: Path, change: dict[str, object], complaint: str
) -> None:
    running = await collector_with(nursery, tmp_path, newer_set())
    offer = msgspec.structs.replace(await offered(running), **change)
    data_dir = tmp_path / "probe"
    store_before = newer_set("2050.1.1")
    data_dir.mkdir()
    (data_dir / STORED_SET_NAME).write_bytes(store_before.data)
    async with httpx.AsyncClient() as client:
        with pytest.raises(FingerprintSetRefused) as caught:
            await update_fingerprint_set(client, running.url, offer, store_before, data_dir)
    assert complaint in caught.value.message and "\n" not in caught.value.message
    assert (data_dir / STORED_SET_NAME).read_bytes() == store_before.data
    assert active_set(data_dir).digest == store_before.digest


async def test_a_refusal_is_one_warning_line_naming_the_set_kept(
    nursery: trio.Nursery, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    running = await collector_with(nursery, tmp_path, newer_set())
    offer = msgspec.structs.replace(await offered(running), digest="f" * 64)
    config = ProbeConfig(
        data_dir=tmp_path / "probe", config_path=tmp_path / "p.toml", collector_url=running.url
    )
    async with httpx.AsyncClient() as client:
        await take_fingerprint_set(
            client,
            config,
            offer,
            warn=lambda line: print(warning_line(line), file=sys.stderr),
            say=lambda line: print(line, file=sys.stderr),
        )
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("crenel-probe: warning: refused the collector's fingerprint set")
    assert lines[0].endswith(f"keeping set {bundled_set().version}")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CRENEL_CONFIG", str(tmp_path / "probe.toml"))
    monkeypatch.setenv("CRENEL_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


async def test_run_takes_the_set_at_check_in_and_its_measurements_record_it(
    nursery: trio.Nursery, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    served = newer_set()
    running = await collector_with(nursery, home, served)
    flags = ["run", "--yes", *OFFLINE, "--no-upload", "--collector", running.url]
    assert await trio.to_thread.run_sync(main, flags) == 0
    err = capsys.readouterr().err
    assert f"fingerprint set 2099.1.1 from the collector (was {bundled_set().version})" in err
    assert await trio.to_thread.run_sync(main, flags) == 0
    assert "fingerprint set" not in capsys.readouterr().err  # already up to date
    assert await trio.to_thread.run_sync(main, ["list", "--json"]) == 0
    uids = [m["uid"] for m in json.loads(capsys.readouterr().out)["measurements"]]
    assert len(uids) == 2
    for uid in uids:
        assert await trio.to_thread.run_sync(main, ["show", uid]) == 0
        shown = msgspec.json.decode(capsys.readouterr().out, type=Measurement)
        used = shown.analysis.fingerprint_set
        assert used is not None and (used.version, used.digest) == ("2099.1.1", served.digest)
