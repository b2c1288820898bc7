"""crenel-probe's command line: exit codes, one-line errors, consent, output, store commands."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
import trio

from probe.cli.main import main
from probe.model import Measurement
from probe.ooni import measurement_from_ooni
from tests.probe.loopback import start_internet


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CRENEL_CONFIG", str(tmp_path / "probe.toml"))
    monkeypatch.setenv("CRENEL_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


OFFLINE = ["--no-system-resolver", "--resolver", "off", "--doh", "off"]


@pytest.mark.parametrize(
    "url",
    ["ftp://example.test/", "http://", "not a url", "http://exa mple.test/"],
    ids=["scheme", "no-host", "garbage", "space-in-host"],
)
def test_a_bad_url_is_one_line_and_exit_2(
    home: Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["measure", "--yes", *OFFLINE, url]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("crenel-probe: error: cannot measure")


def test_without_consent_nothing_is_measured(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["measure", *OFFLINE, "http://127.0.0.1:9/"]) == 2
    assert "consent" in capsys.readouterr().err
    assert not (home / "data").exists()
    assert main(["list"]) == 0


def test_yes_records_consent_for_later_runs(home: Path) -> None:
    assert main(["measure", "--yes", *OFFLINE, "http://127.0.0.1:9/"]) == 0
    assert "consent_version = 1" in (home / "probe.toml").read_text()
    assert main(["measure", *OFFLINE, "http://127.0.0.1:9/"]) == 0


def test_a_bad_setting_is_exit_2(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["measure", "--yes", "--resolver", "dns.example", "http://a.test/"]) == 2
    assert capsys.readouterr().err.startswith("crenel-probe: error: not an IP address")
    assert main(["config", "set", "nonsense", "1"]) == 2


def test_config_commands_round_trip(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "set", "control", "https://helper.test/api/v1/control"]) == 0
    assert main(["config", "show"]) == 0
    assert 'control = "https://helper.test/api/v1/control"' in capsys.readouterr().out
    assert main(["config", "path"]) == 0
    assert capsys.readouterr().out.strip() == str(home / "probe.toml")


def test_show_unknown_id_is_exit_2(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "0190"]) == 2
    assert "no stored measurement" in capsys.readouterr().err


def test_unreadable_list_is_exit_2(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--yes", *OFFLINE, "--list", str(home / "missing.csv")]) == 2
    assert "cannot read the list" in capsys.readouterr().err


async def test_measure_json_run_list_and_show_against_loopback(
    nursery: trio.Nursery, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    internet = await start_internet(nursery, home)
    flags = [
        "--yes",
        "--no-system-resolver",
        "--resolver",
        f"127.0.0.1:{internet.isp_dns}",
        "--doh",
        f"https://127.0.0.1:{internet.https}/dns-query",
        "--control",
        f"http://127.0.0.1:{internet.control}/api/v1/control",
        "--ca-bundle",
        str(internet.ca_file),
        "--public-network",
        "127.0.0.0/8",
        "--capture-window-ms",
        "50",
    ]
    url = internet.url("www.example.test")
    code = await trio.to_thread.run_sync(main, ["measure", *flags, "--json", url])
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    m = msgspec.json.decode(lines[0], type=Measurement)
    assert m.analysis.verdict.value == "ok"

    listing = home / "list.csv"
    listing.write_text(
        "url,category_code,category_description,date_added,source,notes\n"
        f"{url},NEWS,News,2020-01-01,t,\n"
        f"{internet.url('nonexistent.example.test')},MISC,Misc,2020-01-01,t,\n"
        "ftp://bad.example.test/,MISC,Misc,2020-01-01,t,\n"
    )
    code = await trio.to_thread.run_sync(main, ["run", *flags, "--list", str(listing)])
    assert code == 0
    captured = capsys.readouterr()
    assert "measured 2 of 3 URLs: ok 1, down 1" in captured.out
    assert "skipped 'ftp://bad.example.test/'" in captured.err

    assert await trio.to_thread.run_sync(main, ["list"]) == 0
    assert "3 measurements stored, 3 not uploaded" in capsys.readouterr().out
    assert await trio.to_thread.run_sync(main, ["show", m.uid[:13] + m.uid[13:]]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["uid"] == m.uid and shown["category_code"] is None
    assert await trio.to_thread.run_sync(main, ["show", m.uid, "--format", "ooni"]) == 0
    ooni = json.loads(capsys.readouterr().out)
    assert ooni["test_name"] == "web_connectivity" and ooni["input"] == m.input
    assert ooni["test_keys"]["accessible"] is True and ooni["test_keys"]["blocking"] is False
    assert measurement_from_ooni(ooni).analysis.verdict.value == "ok"
