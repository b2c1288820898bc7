"""The lab leaves nothing behind: twice in a row, after Ctrl-C, and after `crenel-lab down`."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

CRENEL_LAB = Path(sys.executable).parent / "crenel-lab"
SCENARIO = Path(__file__).resolve().parents[2] / "lab" / "scenarios" / "S11-sni-reset.toml"


LAB_NAMESPACE = re.compile(r"^crl[0-9a-f]{4}-")


def _snapshot() -> dict[str, str]:
    def out(command: list[str]) -> str:
        return subprocess.run(command, capture_output=True, text=True, check=False).stdout

    return {
        "namespaces": "\n".join(
            line for line in out(["ip", "netns", "list"]).splitlines() if LAB_NAMESPACE.match(line)
        ),
        "links": out(["ip", "-o", "link", "show"]),
        "ruleset": out(["nft", "list", "ruleset"]),
        "processes": "\n".join(
            line for line in out(["ps", "-eo", "args"]).splitlines() if "crenel-lab-crl" in line
        ),
        "netns-etc": "\n".join(
            sorted(p.name for p in Path("/etc/netns").glob("crl*") if LAB_NAMESPACE.match(p.name))
        )
        if Path("/etc/netns").is_dir()
        else "",
    }


def _wait_for(process: subprocess.Popen[str], marker: str, timeout_s: float) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    seen = ""
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen += line
        if marker in line:
            return seen
    raise AssertionError(f"never saw {marker!r}: {seen}")


@pytest.mark.netns
def test_two_runs_in_a_row_leave_nothing_behind() -> None:
    before = _snapshot()
    for _ in range(2):
        result = subprocess.run(
            [str(CRENEL_LAB), "run", str(SCENARIO)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert _snapshot() == before


def _up() -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(CRENEL_LAB), "up", str(SCENARIO)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _down() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CRENEL_LAB), "down"], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.netns
@pytest.mark.parametrize("how", ["ctrl-c", "down"])
def test_a_world_kept_up_is_removed_by_ctrl_c_or_down(how: str) -> None:
    before = _snapshot()
    with _up() as process:
        try:
            text = _wait_for(process, "removes it", 60)
            assert "ip netns exec crl" in text
            assert _snapshot()["namespaces"] != ""
            if how == "ctrl-c":
                process.send_signal(signal.SIGINT)
            else:
                down = _down()
                assert down.returncode == 0, down.stderr
            assert process.wait(timeout=60) == 0
        finally:
            if process.poll() is None:
                process.kill()
                _down()
    assert _snapshot() == before


@pytest.mark.netns
def test_a_killed_world_is_cleaned_up_by_down() -> None:
    before = _snapshot()
    with _up() as process:
        try:
            _wait_for(process, "removes it", 60)
            process.kill()
            process.wait(timeout=10)
            assert _snapshot()["namespaces"] != ""
            down = _down()
            assert down.returncode == 0, down.stderr
            assert "removed" in down.stdout
        finally:
            if process.poll() is None:
                process.kill()
    assert _snapshot() == before


def test_without_root_the_lab_says_so_in_one_line(tmp_path: Path) -> None:
    if not hasattr(subprocess, "run"):
        pytest.skip("no subprocess")
    result = subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            str(CRENEL_LAB),
            "run",
            str(SCENARIO),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode == 127 or (
        "setpriv" in result.stderr and "not permitted" in result.stderr
    ):
        pytest.skip("cannot drop privileges here")
    assert result.returncode == 4, result.stderr
    assert result.stderr.strip().splitlines() == [
        "crenel-lab: error: the lab builds network namespaces and needs root; run it as root: "
        f"sudo {CRENEL_LAB} run {SCENARIO}"
    ]


def test_a_bad_scenario_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('id = "X"\ntitle = "t"\n[[censor]]\naction = "teleport"\n')
    result = subprocess.run(
        [str(CRENEL_LAB), "run", str(bad)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert result.stderr.startswith("crenel-lab: error: ")
    assert "$.censor[0].action" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
