"""The README's first command: it parses, installs what the lab needs, and CI runs the same script.

The command itself needs a fresh machine and the internet; here its parts run against recording
stand-ins for apt-get, sudo, python3 and the installed programs, to check what it would run, in
which order, and with or without sudo.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
INSTALL_SCRIPT = ROOT / "scripts" / "install-lab-deps"
CI_RUN = ROOT / ".ci" / "run"
RUNTIME_EXTRAS = {"collector", "lab", "all"}  # issue 12's packaging; "test" is for developers


def first_command() -> str:
    """Return the first shell block of the README's Set-up section."""
    setup = README.read_text().split("## Set-up", 1)[1]
    match = re.search(r"```sh\n(.*?)```", setup, re.DOTALL)
    assert match is not None
    return match.group(1).strip()


def _stub(directory: Path, name: str, body: str = "") -> None:
    path = directory / name
    path.write_text(f'#!/bin/sh\necho "{name} $*" >> "$CALLS"\n{body}\n')
    path.chmod(0o755)


def _run(command: list[str], fakes: Path, cwd: Path, calls: Path) -> list[str]:
    env = {"PATH": f"{fakes}:/usr/bin:/bin", "CALLS": str(calls), "HOME": str(cwd)}
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    return calls.read_text().splitlines() if calls.exists() else []


def test_first_command_is_one_line_that_bash_parses() -> None:
    command = first_command()
    assert "\n" not in command
    assert subprocess.run(["bash", "-n", "-c", command], check=False).returncode == 0


def test_first_command_installs_packages_venv_project_then_runs_the_demo() -> None:
    steps = [step.strip() for step in first_command().split("&&")]
    assert steps[0] == "./scripts/install-lab-deps"
    assert steps[1] == "python3 -m venv .venv"
    assert re.fullmatch(r"\.venv/bin/pip install -e '\.\[[a-z,]+\]'", steps[2])
    assert steps[3] == "$(command -v sudo) .venv/bin/crenel-lab demo"
    assert len(steps) == 4


def test_first_command_installs_the_extras_the_demo_runs() -> None:
    match = re.search(r"\.\[([a-z,]+)\]", first_command())
    assert match is not None
    named = set(match.group(1).split(","))
    declared = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["project"].get(
            "optional-dependencies", {}
        )
    )
    if not declared & RUNTIME_EXTRAS:
        pytest.skip("pyproject declares no runtime extras yet (packaging lands separately)")
    assert named <= declared
    # The demo runs the lab, the collector and the probe: all of them, or both extras.
    assert named == {"all"} or {"lab", "collector"} <= named


@pytest.mark.parametrize(
    ("uid", "sudo"), [(0, False), (1000, True)], ids=["as-root", "as-user-with-sudo"]
)
def test_install_script_runs_apt_get_directly_as_root_and_through_sudo_otherwise(
    tmp_path: Path, uid: int, sudo: bool
) -> None:
    fakes = tmp_path / "bin"
    fakes.mkdir()
    _stub(fakes, "id", f"echo {uid}")
    _stub(fakes, "sudo", '"$@"')
    _stub(fakes, "apt-get")
    _stub(fakes, "apt-cache", "exit 100")  # Debian 12: no libpcap0.8t64
    calls = _run([str(INSTALL_SCRIPT)], fakes, tmp_path, tmp_path / "calls")
    apt = [c for c in calls if not c.startswith(("id ", "apt-cache "))]
    prefix = "sudo env DEBIAN_FRONTEND=noninteractive apt-get " if sudo else ""
    if sudo:
        assert apt[0].startswith(prefix + "update") and apt[2].startswith(prefix + "install")
    else:
        assert [c.split()[0] for c in apt] == ["apt-get", "apt-get"]
    install = apt[-1].split()
    assert install[:3] == ["apt-get", "install", "-y"]
    for package in ("python3-venv", "iproute2", "nftables", "iptables", "libpcap0.8", "procps"):
        assert package in install


def test_install_script_picks_the_t64_libpcap_on_ubuntu_24_04(tmp_path: Path) -> None:
    fakes = tmp_path / "bin"
    fakes.mkdir()
    _stub(fakes, "id", "echo 0")
    _stub(fakes, "apt-get")
    _stub(fakes, "apt-cache", 'test "$2" = libpcap0.8t64')
    calls = _run([str(INSTALL_SCRIPT), "chromium"], fakes, tmp_path, tmp_path / "calls")
    install = next(c for c in calls if c.startswith("apt-get install")).split()
    assert "libpcap0.8t64" in install and "libpcap0.8" not in install
    assert install[-1] == "chromium"


@pytest.mark.parametrize("has_sudo", [True, False], ids=["user-with-sudo", "root-without-sudo"])
def test_first_command_runs_the_demo_through_sudo_only_where_there_is_one(
    tmp_path: Path, has_sudo: bool
) -> None:
    fakes = tmp_path / "bin"
    fakes.mkdir()
    checkout = tmp_path / "checkout"
    (checkout / "scripts").mkdir(parents=True)
    _stub(checkout / "scripts", "install-lab-deps")
    venv = 'mkdir -p .venv/bin; for p in pip crenel-lab; do cp "$0" .venv/bin/$p; done'
    _stub(fakes, "python3", venv.replace('"$0"', f'"{fakes}/recorder"'))
    _stub(fakes, "recorder")
    if has_sudo:
        _stub(fakes, "sudo", '"$@"')
    if shutil.which("sudo") and not has_sudo:
        pytest.skip("sudo is installed on this machine, so a shell without it cannot be made")
    calls = _run(["bash", "-c", first_command()], fakes, checkout, tmp_path / "calls")
    assert [c.split()[0] for c in calls] == [
        "install-lab-deps",
        "python3",
        "recorder",  # .venv/bin/pip
        *(["sudo"] if has_sudo else []),
        "recorder",  # .venv/bin/crenel-lab
    ]
    assert calls[-1].endswith(" demo")


def test_ci_installs_with_the_readme_script_and_runs_the_readme_test_command() -> None:
    lines = [line.strip() for line in CI_RUN.read_text().splitlines()]
    assert any(line.startswith("./scripts/install-lab-deps") for line in lines)
    assert lines[-1] == "./scripts/check"
    assert "```sh\n./scripts/check\n```" in README.read_text()
    assert os.access(INSTALL_SCRIPT, os.X_OK)
