"""crenel-collector's commands: settings from flags and environment, offline admin commands on a
data directory, exit codes when the directory is in use or a collector cannot be reached."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import trio

from collector.cli import main
from collector.config import DEFAULT_LISTEN, load_collector_config
from collector.core.errors import ConfigInvalid
from collector.ingest.test_lists import parse_list, read_checkout
from tests.collector.running import start_collector


def test_flags_win_over_the_environment_and_defaults_fill_the_rest(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("a-long-enough-admin-token\n")
    env = {
        "CRENEL_COLLECTOR_DATA_DIR": str(tmp_path / "from-env"),
        "CRENEL_COLLECTOR_LISTEN": "127.0.0.1:9000",
        "CRENEL_COLLECTOR_PUBLIC_NETWORK": "127.0.0.0/8,::1/128",
        "CRENEL_COLLECTOR_ADMIN_TOKEN_FILE": str(token),
        "CRENEL_COLLECTOR_RATE_LIMIT": "0",
    }
    config = load_collector_config({"data_dir": str(tmp_path / "flag"), "listen": None}, env)
    assert config.data_dir == tmp_path / "flag"
    assert config.listen == ("127.0.0.1", 9000)
    assert config.public_networks == ("127.0.0.0/8", "::1/128")
    assert config.admin_token == "a-long-enough-admin-token"
    assert config.limits.requests_per_s == 0 and config.limits.measurements_per_s == 0
    bare = load_collector_config({}, {})
    assert bare.listen == DEFAULT_LISTEN and bare.data_dir.name == "collector"
    assert bare.helper.doh_url is not None and bare.admin_token is None


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"listen": "localhost:80"}, "--listen"),
        ({"allow_network": ["10.0.0.0/33"]}, "--allow-network"),
        ({"geoip": ["/nonexistent.mmdb"]}, "--geoip"),
        ({"control_doh": "dns.example"}, "--control-doh"),
        ({"rate_limit": "-1"}, "--rate-limit"),
    ],
    ids=["listen", "cidr", "missing-file", "not-url", "negative"],
)
def test_bad_settings_are_refused_naming_the_flag(flags: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigInvalid, match=message):
        load_collector_config(flags, {})


def test_short_admin_tokens_are_refused(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("short\n")
    with pytest.raises(ConfigInvalid, match="16 characters"):
        load_collector_config({"admin_token_file": str(token)}, {})


def test_citizen_lab_lists_parse_and_bad_files_are_refused(tmp_path: Path) -> None:
    rows = parse_list(
        "url,category_code,category_description,date_added,source,notes\n"
        'http://a.test/,NEWS,News,2020-01-02,cl,"a, note"\nhttp://b.test/,,x,bad,,\n',
        "IR",
        "ir.csv",
    )
    assert [(r.url, r.category_code, r.cc, str(r.date_added)) for r in rows] == [
        ("http://a.test/", "NEWS", "IR", "2020-01-02"),
        ("http://b.test/", None, "IR", "None"),
    ]
    with pytest.raises(ConfigInvalid, match="not a test list"):
        parse_list("a,b\n1,2\n", "", "x.csv")
    with pytest.raises(ConfigInvalid, match=r"no global\.csv"):
        read_checkout(tmp_path)


def test_the_real_test_lists_import_offline(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    urls = read_checkout(shared_data / "test-lists")
    assert sum(1 for u in urls if u.cc == "") == 1722
    assert {u.cc for u in urls} >= {"", "IR", "RU", "CN"}
    code = main(
        ["testlists", "import", str(shared_data / "test-lists"), "--data-dir", str(tmp_path)]
    )
    assert code == 0
    assert "global and 12 country lists" in capsys.readouterr().out


async def test_offline_commands_refuse_a_directory_in_use_and_remote_ones_need_a_token(
    nursery: trio.Nursery, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    running = await start_collector(nursery, tmp_path)
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "global.csv").write_text("url,category_code\nhttp://a.test/,NEWS\n")
    data = str(running.config.data_dir)
    for command in (["testlists", "import", str(lists)], ["reanalyse"]):
        # Another process: within one process DuckDB shares the open database instead.
        result = await trio.run_process(
            [sys.executable, "-m", "collector.cli", *command, "--data-dir", data],
            capture_stderr=True,
            check=False,
        )
        assert result.returncode == 75
        assert b"--url URL --admin-token-file" in result.stderr
    code = await trio.to_thread.run_sync(
        main, ["testlists", "import", str(lists), "--url", running.url]
    )
    assert code == 2 and "--admin-token-file" in capsys.readouterr().err
    token = tmp_path / "token"
    token.write_text("a-long-enough-admin-token\n")
    code = await trio.to_thread.run_sync(
        main,
        ["reanalyse", "--url", "http://127.0.0.1:9", "--admin-token-file", str(token)],
    )
    assert code == 3 and "cannot reach" in capsys.readouterr().err


def test_export_refuses_a_non_empty_directory_and_bad_dates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "x").write_text("x")
    base = ["export", "--data-dir", str(tmp_path / "d"), "--format", "parquet", "--out", str(out)]
    assert main([*base, "--since", "2026-01-01", "--until", "2026-01-02"]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main([*base, "--since", "soon", "--until", "2026-01-02"]) == 2
    assert "--since" in capsys.readouterr().err
