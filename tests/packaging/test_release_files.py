"""The licence file is the one pyproject.toml names, and the news fragments build a changelog."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_license_file_is_the_agpl_v3_pyproject_names() -> None:
    assert PYPROJECT["project"]["license"] == "AGPL-3.0-or-later"
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.lstrip().startswith("GNU AFFERO GENERAL PUBLIC LICENSE")
    assert "Version 3, 19 November 2007" in text
    assert "13. Remote Network Interaction; Use with the GNU General Public License." in text
    assert text.rstrip().endswith("<https://www.gnu.org/licenses/>.")


def test_towncrier_builds_a_draft_from_the_fragments_in_changes() -> None:
    """A misnamed fragment (a type towncrier does not know, a stray file) fails here."""
    done = subprocess.run(
        [sys.executable, "-m", "towncrier", "build", "--draft", "--version", "0.0.0-draft"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "## 0.0.0-draft" in done.stdout
