"""The import contracts in pyproject.toml mean something: every probe module sits in a layer,
and lint-imports, run with the project's own settings, fails on a module that breaks one.

Each violation is written into a copy of the source tree in a temporary directory, never into
the checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("probe", "collector", "lab")
PROBE_LAYERS = "the probe's layers"
MEASURE_LAYERS = "probe.measure: the session above its steps, the steps above their state"
PURE = "the pure analysis and model read no clock, randomness, files or network"


def _contracts() -> dict[str, dict[str, Any]]:
    table = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {c["name"]: c for c in table["tool"]["importlinter"]["contracts"]}


def _layer_members(contract: dict[str, Any]) -> list[str]:
    return [m.strip() for layer in contract["layers"] for m in layer.replace(":", "|").split("|")]


def _units(package: Path) -> set[str]:
    """Return the sub-packages and top-level modules of `package`."""
    found = {p.name for p in package.iterdir() if (p / "__init__.py").is_file()}
    found |= {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
    return found


def test_every_probe_module_is_in_a_layer() -> None:
    members = _layer_members(_contracts()[PROBE_LAYERS])
    assert sorted(members) == sorted(f"probe.{u}" for u in _units(ROOT / "probe"))
    assert len(members) == len(set(members))


def test_every_measure_module_is_in_a_layer() -> None:
    members = _layer_members(_contracts()[MEASURE_LAYERS])
    assert sorted(members) == sorted(_units(ROOT / "probe" / "measure"))


@pytest.fixture(scope="module")
def source_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a directory holding a copy of the packages and pyproject.toml."""
    copy = tmp_path_factory.mktemp("contracts")
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy2(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """Return lint-imports' result on `tree` (its packages found before the installed ones)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_lint_imports_passes_on_the_unchanged_copy(source_copy: Path) -> None:
    kept = _lint_imports(source_copy)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert f"{PROBE_LAYERS} KEPT" in " ".join(kept.stdout.split())


@pytest.mark.slow
@pytest.mark.parametrize(
    ("module", "code", "contract"),
    [
        ("probe/net/violation.py", "import probe.measure\n", PROBE_LAYERS),
        ("probe/store.py", "import probe.upload\n", PROBE_LAYERS),
        ("probe/packet/violation.py", "import probe.privacy\n", PROBE_LAYERS),
        ("probe/measure/endpoints.py", "import probe.measure.session\n", MEASURE_LAYERS),
        ("probe/analysis/violation.py", "import time\n", PURE),
        ("probe/model/violation.py", "from pathlib import Path\n", PURE),
    ],
    ids=["net-imports-measure", "store-imports-upload", "siblings-packet-and-privacy",
         "step-imports-session", "analysis-reads-the-clock", "model-reads-files"],
)  # fmt: skip
def test_lint_imports_fails_on_a_module_that_breaks_a_contract(
    source_copy: Path, module: str, code: str, contract: str
) -> None:
    path = source_copy / module
    original = path.read_text(encoding="utf-8") if path.exists() else None
    path.write_text((original or '"""A deliberate violation."""\n\n') + code, encoding="utf-8")
    try:
        broken = _lint_imports(source_copy)
    finally:
        if original is None:
            path.unlink()
        else:
            path.write_text(original, encoding="utf-8")
    assert broken.returncode != 0, broken.stdout
    assert f"{contract} BROKEN" in " ".join(broken.stdout.split()), broken.stdout
