"""crenel-collector in a shell: light `--help`, `--version`, completion, `--json`, pipes, the
addresses `serve` prints, and `export` against a data directory in use."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import metadata
from pathlib import Path

import httpx
import msgspec
import pytest
import trio

from collector.cli import main
from collector.cli.export import EXPORT_FORMATS, missing_dirs
from collector.cli.report import REPORT_FORMATS
from collector.reports.model import CountryReport
from collector.reports.render import ReportFormat, render_table
from collector.storage import ExportFormat

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("trio", "httpx", "duckdb", "pyarrow", "hypercorn", "starlette", "rich", "numpy", "scipy")
_SERVING = re.compile(rb"crenel-collector: serving [^\n]*\n")
LONG_DOMAIN = "a-very-long-subdomain-name-that-goes-on." * 3 + "example.test"


def test_help_of_every_subcommand_imports_no_heavy_module() -> None:
    code = (
        "import contextlib, io, sys\n"
        "from collector.cli.program import build_parser\n"
        "parser = build_parser()\n"
        "for cmd in ('serve', 'helper', 'reanalyse', 'export', 'report', 'completion'):\n"
        "    with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "        parser.parse_args([cmd, '--help'])\n"
        "print(sorted({m.split('.')[0] for m in sys.modules}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = result.stdout.strip().splitlines()[-1]
    assert [name for name in HEAVY if f"'{name}'" in loaded] == []


def test_the_spelled_out_choices_match_the_enums() -> None:
    assert tuple(f.value for f in ExportFormat) == EXPORT_FORMATS
    assert tuple(f.value for f in ReportFormat) == REPORT_FORMATS


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out == f"crenel-collector {metadata.version('crenel')}\n"


def test_bash_completion_is_valid_bash_and_names_the_subcommands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["completion", "bash"]) == 0
    script = capsys.readouterr().out
    for command in ("serve", "helper", "testlists", "reanalyse", "export", "report"):
        assert command in script
    path = tmp_path / "crenel-collector.bash"
    path.write_text(script)
    subprocess.run(["bash", "-n", str(path)], check=True)
    assert main(["completion", "zsh"]) == 0
    assert capsys.readouterr().out.startswith("#compdef crenel-collector")


def _report() -> CountryReport:
    domain = {
        "domain": LONG_DOMAIN,
        "category": "NEWS",
        "verdict": "blocked",
        "confidence": 0.9,
        "since": "2026-11-01",
        "methods": {"dns.forged": 3},
        "measurements": 3,
        "probes": 2,
        "networks_blocked": 1,
        "networks_clear": 0,
        "confirmed": 0,
        "packet_confirmed": 0,
        "baseline": None,
        "networks": [],
    }
    return msgspec.convert(
        {
            "cc": "IR",
            "since": "2026-11-01",
            "until": "2026-11-07",
            "generated_at": "2026-11-08T00:00:00Z",
            "measurements": 3,
            "networks": [],
            "domains": [domain],
        },
        CountryReport,
    )


def test_a_report_table_for_a_pipe_never_wraps_a_cell() -> None:
    assert len(LONG_DOMAIN) > 120
    report = _report()
    assert not any(LONG_DOMAIN in line for line in render_table(report).splitlines())
    lines = [line for line in render_table(report, width=None).splitlines() if LONG_DOMAIN in line]
    assert len(lines) == 1 and "dns.forged" in lines[0]


def test_report_json_is_the_json_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "IR", "--json", "--data-dir", str(tmp_path / "d")]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["cc"] == "IR" and doc["domains"] == []


def test_testlists_import_json_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "global.csv").write_text("url,category_code\nhttp://a.test/,NEWS\n")
    (lists / "ir.csv").write_text("url,category_code\nhttp://b.test/,NEWS\n")
    command = ["testlists", "import", str(lists), "--json", "--data-dir", str(tmp_path / "d")]
    assert main(command) == 0
    assert json.loads(capsys.readouterr().out) == {
        "imported": 2,
        "countries": 1,
        "source": str(lists),
    }


def test_export_writes_into_new_folders_and_says_so_in_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "new" / "deeper" / "m.jsonl"
    assert missing_dirs(out.parent) == [tmp_path / "new" / "deeper", tmp_path / "new"]
    command = ["export", "--since", "2026-01-01", "--until", "2026-01-02", "--format", "jsonl"]
    assert main([*command, "--out", str(out), "--json", "--data-dir", str(tmp_path / "d")]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc == {"exported": 0, "days": 2.0, "format": "jsonl", "out": str(out)}
    assert out.is_file()


def test_export_errors_leave_no_folder_behind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    for fmt, out in (("parquet", tmp_path / "p" / "q"), ("csv", tmp_path / "c" / "m.csv")):
        code = main(
            [
                *("export", "--since", "2026-01-01", "--until", "2026-01-02"),
                *("--format", fmt, "--out", str(out), "--data-dir", str(not_a_dir)),
            ]
        )
        assert code != 0
        assert capsys.readouterr().err.startswith("crenel-collector: error:")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


@asynccontextmanager
async def serving(data_dir: Path) -> AsyncIterator[str]:
    """Run `crenel-collector serve` on loopback; yield the line it prints once listening."""
    command = [sys.executable, "-m", "collector.cli", "serve", "--data-dir", str(data_dir)]
    command += ["--listen", "127.0.0.1:0", "--analysis-workers", "0"]
    process = await trio.lowlevel.open_process(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert process.stdout is not None
        seen = b""
        with trio.fail_after(30):
            while (match := _SERVING.search(seen)) is None:
                chunk = await process.stdout.receive_some(4096)
                assert chunk, "the collector exited before serving"
                seen += chunk
        yield match.group(0).decode()
    finally:
        process.terminate()
        with trio.move_on_after(10, shield=True):
            await process.wait()
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_serve_prints_the_dashboard_and_export_names_the_route_that_works(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    async with serving(data) as line:
        found = re.search(
            r"serving (http://127\.0\.0\.1:\d+)/api/v1, dashboard (\S+/dashboard/)", line
        )
        assert found is not None, line
        base, dashboard = found.groups()
        assert dashboard == f"{base}/dashboard/"
        async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
            assert (await client.get(dashboard)).status_code == 200

            for fmt, out in (("jsonl", tmp_path / "new" / "m.jsonl"), ("parquet", tmp_path / "pq")):
                result = await trio.run_process(
                    [
                        *(sys.executable, "-m", "collector.cli", "export"),
                        *("--since", "2026-01-01", "--until", "2026-01-02", "--format", fmt),
                        *("--out", str(out), "--data-dir", str(data)),
                    ],
                    cwd=ROOT,
                    capture_stderr=True,
                    check=False,
                )
                assert result.returncode == 75
                error = result.stderr.decode()
                assert error.count("\n") == 1 and "--url" not in error
                route = re.search(r"GET (/api/v1/export\?\S+)", error)
                assert route is not None, error
                assert f"format={fmt}" in route.group(1)
                assert sorted(os.listdir(tmp_path)) == ["data"]
                answer = await client.get(base + route.group(1))
                assert answer.status_code == 200, answer.text


@pytest.mark.skipif(
    shutil.which("zsh") is None, reason="zsh is not installed (apt-get install zsh)"
)
def test_zsh_completion_parses_in_zsh(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "zsh"]) == 0
    path = tmp_path / "_crenel-collector"
    path.write_text(capsys.readouterr().out)
    subprocess.run(["zsh", "-n", str(path)], check=True)
