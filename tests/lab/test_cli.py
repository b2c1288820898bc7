"""crenel-lab in a shell: light `--help`, `--version`, completion, `list --json`, pipes."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table
from rich.text import Text

from lab.cli import bundled_scenarios, main, print_table

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("trio", "rich", "msgspec", "scapy", "lab.world", "lab.netns", "lab.check")
LONG_URL = "https://www.example.test/" + "/".join(f"section-{i:02d}" for i in range(12)) + "/x"


def test_help_of_every_subcommand_imports_no_heavy_module() -> None:
    code = (
        "import contextlib, io, sys\n"
        "from lab.cli import build_parser\n"
        "parser = build_parser()\n"
        "for cmd in ('run', 'up', 'down', 'demo', 'list', 'completion'):\n"
        "    with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "        parser.parse_args([cmd, '--help'])\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = set(result.stdout.split())
    assert [name for name in HEAVY if name in loaded] == []


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out == f"crenel-lab {metadata.version('crenel')}\n"


def test_bash_completion_is_valid_bash_and_names_the_subcommands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["completion", "bash"]) == 0
    script = capsys.readouterr().out
    for command in ("run", "up", "down", "demo", "list", "completion"):
        assert command in script
    path = tmp_path / "crenel-lab.bash"
    path.write_text(script)
    subprocess.run(["bash", "-n", str(path)], check=True)
    assert main(["completion", "zsh"]) == 0
    assert capsys.readouterr().out.startswith("#compdef crenel-lab")


def test_list_json_names_every_bundled_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [Path(row["file"]) for row in doc] == bundled_scenarios()
    assert all(row["id"] and row["title"] for row in doc)


def test_a_table_into_a_pipe_is_tab_separated_and_never_wraps() -> None:
    table = Table(title="results")
    for column in ("scenario", "URL", "result"):
        table.add_column(column, overflow="fold")
    table.add_row("S01", LONG_URL, Text("FAIL: got\tok\nnot blocked", style="red"))
    out = Console(file=io.StringIO(), width=80)
    print_table(out, table)
    assert isinstance(out.file, io.StringIO)
    assert out.file.getvalue().splitlines() == [
        "results",
        "scenario\tURL\tresult",
        f"S01\t{LONG_URL}\tFAIL: got ok not blocked",
    ]


@pytest.mark.skipif(
    shutil.which("zsh") is None, reason="zsh is not installed (apt-get install zsh)"
)
def test_zsh_completion_parses_in_zsh(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "zsh"]) == 0
    path = tmp_path / "_crenel-lab"
    path.write_text(capsys.readouterr().out)
    subprocess.run(["zsh", "-n", str(path)], check=True)
