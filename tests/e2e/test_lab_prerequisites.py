"""`crenel-lab demo` with one prerequisite missing: one line, its exit code, nothing built."""

from __future__ import annotations

import ctypes.util
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from lab.prerequisites import LAB_TOOLS

CRENEL_LAB = Path(sys.executable).parent / "crenel-lab"
# A new user namespace without a mapping: the command runs as uid 65534 with no capabilities,
# yet can still read a virtual environment only root may read (under /root, say).
AS_USER = ["unshare", "--user", "--"]
AS_ROOT = pytest.mark.skipif(
    os.geteuid() != 0, reason="acts as a user from root, through an unmapped user namespace"
)
SOFTWARE_MISSING = 69
PRIVILEGE_MISSING = 4
MARKER = "CRENEL_TEST_MARKER"


def _path_without(hidden: str, directory: Path) -> str:
    """Return a PATH of symlinks to every tool the lab checks for, except `hidden`."""
    directory.mkdir()
    directory.chmod(0o755)
    for name in [*dict.fromkeys(t.command for t in LAB_TOOLS), "apt-get"]:
        found = shutil.which(name)
        if name == hidden:
            continue
        if found is None:
            if name == "apt-get":
                continue
            pytest.skip(f"`{name}` is not installed: hiding only `{hidden}` needs the rest")
        (directory / name).symlink_to(found)
    if ctypes.util.find_library("pcap") is None:
        pytest.skip("libpcap is not installed: hiding only one tool needs the rest")
    return str(directory)


def _marked_processes(marker: str) -> list[int]:
    """Return the pids whose environment carries `marker` (children of the command under test)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if f"{MARKER}={marker}".encode() in environ.split(b"\0"):
            found.append(int(proc.name))
    return found


def _run_demo(
    tmp_path: Path, path: str, *, wrapper: list[str] | None = None
) -> tuple[subprocess.CompletedProcess[str], Path, str]:
    marker = uuid.uuid4().hex
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    scratch.chmod(0o777)
    env = {"PATH": path, "TMPDIR": str(scratch), MARKER: marker, "LANG": "C.UTF-8"}
    command = [str(CRENEL_LAB), "demo", "--exit", "--port", "0"]
    result = subprocess.run(
        [*(wrapper or []), *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result, scratch, marker


def _assert_nothing_built(scratch: Path, marker: str) -> None:
    assert list(scratch.iterdir()) == []  # no world directory (crenel-lab-<prefix>-...)
    assert _marked_processes(marker) == []


def test_demo_without_nft_says_so_in_one_line_and_builds_nothing(tmp_path: Path) -> None:
    path = _path_without("nft", tmp_path / "bin")
    result, scratch, marker = _run_demo(tmp_path, path)
    assert result.returncode == SOFTWARE_MISSING, result.stderr
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("crenel-lab: error: missing nftables (`nft`); install it with: ")
    sudo = "" if os.geteuid() == 0 else "sudo "
    assert f"{sudo}apt-get install -y nftables" in line
    assert "iptables" not in line and "iproute2" not in line
    _assert_nothing_built(scratch, marker)


@pytest.mark.netns
def test_demo_without_nft_leaves_no_namespace_behind(tmp_path: Path) -> None:
    """In a private /run/netns, `ip netns list` shows exactly what this demo made: nothing."""
    path = _path_without("nft", tmp_path / "bin")
    unshare, ip, mount = (shutil.which(c) for c in ("unshare", "ip", "mount"))
    assert unshare and ip and mount
    Path("/run/netns").mkdir(exist_ok=True)
    script = (
        f'{mount} -t tmpfs crenel-test /run/netns || exit 99; "$@"; rc=$?; '
        f"echo NAMESPACES; {ip} netns list; exit $rc"
    )
    wrapper = [unshare, "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script, "sh"]
    result, scratch, marker = _run_demo(tmp_path, path, wrapper=wrapper)
    assert result.returncode == SOFTWARE_MISSING, result.stderr
    assert result.stdout.split("NAMESPACES\n", 1) == ["", ""]
    assert "missing nftables (`nft`)" in result.stderr
    _assert_nothing_built(scratch, marker)


@AS_ROOT
def test_a_user_without_nft_is_told_to_use_sudo_before_the_privilege_check(
    tmp_path: Path,
) -> None:
    path = _path_without("nft", tmp_path / "bin")
    result, scratch, marker = _run_demo(tmp_path, path, wrapper=AS_USER)
    assert result.returncode == SOFTWARE_MISSING, result.stderr
    [line] = result.stderr.splitlines()
    assert "install it with: sudo apt-get install -y nftables" in line
    assert line.endswith(", then run crenel-lab as root")
    _assert_nothing_built(scratch, marker)


@AS_ROOT
def test_a_user_with_every_tool_gets_exit_4_and_the_sudo_command(tmp_path: Path) -> None:
    path = _path_without("", tmp_path / "bin")
    result, scratch, marker = _run_demo(tmp_path, path, wrapper=AS_USER)
    assert result.returncode == PRIVILEGE_MISSING, result.stderr
    [line] = result.stderr.splitlines()
    assert line == (
        "crenel-lab: error: the lab builds network namespaces and needs root; run it as root: "
        f"sudo {CRENEL_LAB} demo --exit --port 0"
    )
    _assert_nothing_built(scratch, marker)
