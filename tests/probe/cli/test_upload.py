"""`crenel-probe upload` and `run` with a collector: exit codes and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trio

from probe.cli.main import main
from tests.collector.running import start_collector

OFFLINE = ["--no-system-resolver", "--resolver", "off", "--doh", "off"]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CRENEL_CONFIG", str(tmp_path / "probe.toml"))
    monkeypatch.setenv("CRENEL_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def test_upload_without_a_collector_is_exit_2(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["upload"]) == 2
    assert "no collector configured" in capsys.readouterr().err


def test_run_without_a_list_or_a_collector_is_exit_2(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--yes", *OFFLINE]) == 2
    assert "give --list FILE, or set a collector" in capsys.readouterr().err


def test_an_unreachable_collector_keeps_measurements_for_upload_and_exits_3(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listing = home / "list.txt"
    listing.write_text("http://127.0.0.1:9/\n")
    collector = ["--collector", "http://127.0.0.1:9"]
    assert main(["run", "--yes", *OFFLINE, *collector, "--list", str(listing)]) == 0
    err = capsys.readouterr().err
    assert "crenel-probe: warning: the collector at http://127.0.0.1:9 is unreachable" in err
    assert "measuring anyway" in err
    assert "1 still pending" in err and "crenel-probe upload" in err
    assert main(["upload", *collector]) == 3
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("crenel-probe: error: the collector at")
    assert main(["run", "--yes", *OFFLINE, *collector]) == 3


async def test_upload_sends_the_outbox_to_a_running_collector(
    nursery: trio.Nursery, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    running = await start_collector(nursery, home)
    flags = ["--yes", *OFFLINE, "--no-upload", "--collector", running.url]
    listing = home / "list.txt"
    listing.write_text("http://127.0.0.1:9/\nhttp://127.0.0.1:9/x\n")
    assert await trio.to_thread.run_sync(main, ["run", *flags, "--list", str(listing)]) == 0
    capsys.readouterr()
    code = await trio.to_thread.run_sync(main, ["upload", "--collector", running.url])
    assert code == 0
    assert f"uploaded 2 measurements to {running.url}" in capsys.readouterr().out
    assert await trio.to_thread.run_sync(main, ["list"]) == 0
    assert "2 measurements stored, 0 not uploaded" in capsys.readouterr().out


async def test_upload_json_is_one_document_with_the_counts(
    nursery: trio.Nursery, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    running = await start_collector(nursery, home)
    code = await trio.to_thread.run_sync(
        main, ["measure", "--yes", *OFFLINE, "--collector", running.url, "http://127.0.0.1:9/"]
    )
    assert code == 0
    capsys.readouterr()
    code = await trio.to_thread.run_sync(main, ["upload", "--json", "--collector", running.url])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc == {"collector": running.url, "uploaded": 1, "pending": 0, "refused": []}
