"""crenel-probe in a shell: light `--help`, `--version`, completion, pipes and `--json`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from probe.cli.main import main
from probe.store import Store
from tests.probe.analysis.build import healthy

ROOT = Path(__file__).resolve().parents[3]
LONG_URL = "https://www.example.test/" + "/".join(f"section-{i:02d}" for i in range(12)) + "/x"
HEAVY = ("trio", "httpx", "dns", "scapy", "rich", "msgspec", "sqlite3")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CRENEL_CONFIG", str(tmp_path / "probe.toml"))
    monkeypatch.setenv("CRENEL_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def imported_by(code: str) -> list[str]:
    """Return which heavy top-level packages a fresh interpreter imported running `code`."""
    probe = f"{code}\nimport sys\nprint(sorted({{m.split('.')[0] for m in sys.modules}}))"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = json.loads(result.stdout.strip().splitlines()[-1].replace("'", '"'))
    return [name for name in HEAVY if name in loaded]


def test_help_of_every_subcommand_imports_no_heavy_module() -> None:
    code = (
        "import contextlib, io\n"
        "from probe.cli.main import build_parser\n"
        "parser = build_parser()\n"
        "for argv in (['--help'], ['measure', '--help'], ['run', '--help'], ['config', 'set', "
        "'--help'], ['upload', '--help'], ['list', '--help'], ['completion', '--help']):\n"
        "    with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "        parser.parse_args(argv)\n"
    )
    assert imported_by(code) == []


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out == f"crenel-probe {metadata.version('crenel')}\n"


def test_bash_completion_is_valid_bash_and_names_the_subcommands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["completion", "bash"]) == 0
    script = capsys.readouterr().out
    for command in ("measure", "run", "upload", "list", "show", "config", "completion"):
        assert command in script
    assert "--packet-evidence" in script
    path = tmp_path / "crenel-probe.bash"
    path.write_text(script)
    subprocess.run(["bash", "-n", str(path)], check=True)


def test_zsh_completion_is_a_compdef_for_the_program(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "zsh"]) == 0
    script = capsys.readouterr().out
    assert script.startswith("#compdef crenel-probe")
    assert "measure" in script and "--collector" in script


def test_piped_list_keeps_a_long_url_on_one_line(home: Path) -> None:
    assert len(LONG_URL) > 150
    assert main(["list", "--json"]) == 0  # creates nothing yet but says where the store is
    with Store(home / "data" / "measurements.sqlite3") as store:
        store.add(healthy(LONG_URL).build())
    env = {**os.environ, "COLUMNS": "80"}
    result = subprocess.run(
        [sys.executable, "-m", "probe.cli.main", "list"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    [row] = [line for line in result.stdout.splitlines() if LONG_URL in line]
    assert row.split("\t")[2] == LONG_URL
    assert result.stdout.splitlines()[0].split("\t") == [
        "id",
        "time",
        "URL",
        "verdict",
        "methods",
        "uploaded",
    ]


def test_list_json_is_one_document_with_the_rows_and_counts(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    m = healthy(LONG_URL).build()
    assert main(["list", "--json"]) == 0
    store_path = Path(json.loads(capsys.readouterr().out)["store"])
    with Store(store_path) as store:
        store.add(m)
    assert main(["list", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["total"], doc["pending"]) == (1, 1)
    [row] = doc["measurements"]
    assert (row["uid"], row["input"], row["uploaded_at"]) == (m.uid, LONG_URL, None)


def test_config_json_shows_path_settings_and_the_saved_value(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["config", "set", "collector", "https://c.example.test", "--json"]) == 0
    saved = json.loads(capsys.readouterr().out)
    assert saved["key"] == "collector" and saved["value"] == "https://c.example.test"
    assert main(["config", "show", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["settings"]["collector"] == "https://c.example.test"
    assert main(["config", "path", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"path": str(home / "probe.toml")}


@pytest.mark.skipif(
    shutil.which("zsh") is None, reason="zsh is not installed (apt-get install zsh)"
)
def test_zsh_completion_parses_in_zsh(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "zsh"]) == 0
    path = tmp_path / "_crenel-probe"
    path.write_text(capsys.readouterr().out)
    subprocess.run(["zsh", "-n", str(path)], check=True)
