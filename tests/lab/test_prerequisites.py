"""The lab's prerequisite checks decide from what the host reports: tools, libpcap, caps, trials."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from lab.prerequisites import (
    BUILD,
    CAPABILITIES,
    KERNEL_FEATURES,
    LAB_TOOLS,
    LIBPCAP_PACKAGE,
    effective_capabilities,
    failed_features,
    install_command,
    kernel_message,
    missing_capabilities,
    missing_packages,
    missing_tools,
    privilege_message,
    software_message,
    trial_script,
)

ROOT = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = ROOT / "scripts" / "install-lab-deps"
LAB_SOURCES = ROOT / "lab"


def _which_without(*hidden: str) -> dict[str, str | None]:
    return {
        t.command: (None if t.command in hidden else f"/usr/sbin/{t.command}") for t in LAB_TOOLS
    }


def test_nothing_missing_gives_no_message() -> None:
    found = _which_without()
    tools = missing_tools(BUILD.tools, found.get)
    assert tools == []
    assert software_message(tools, libpcap_found=True, is_root=True, has_apt=True) == ""


def test_hidden_nft_names_nftables_and_the_apt_command_as_root() -> None:
    tools = missing_tools(BUILD.tools, _which_without("nft").get)
    message = software_message(tools, libpcap_found=True, is_root=True, has_apt=True)
    assert message == "missing nftables (`nft`); install it with: apt-get install -y nftables"


def test_a_user_is_told_to_use_sudo_and_to_run_as_root() -> None:
    tools = missing_tools(BUILD.tools, _which_without("nft", "iptables").get)
    message = software_message(tools, libpcap_found=False, is_root=False, has_apt=True)
    assert message == (
        "missing nftables (`nft`), iptables (`iptables`), libpcap (libpcap0.8); install them "
        "with: sudo apt-get install -y nftables iptables libpcap0.8, then run crenel-lab as root"
    )
    assert "\n" not in message


def test_one_package_is_named_once_for_two_of_its_commands() -> None:
    tools = missing_tools(BUILD.tools, _which_without("ip", "tc").get)
    assert [t.command for t in tools] == ["ip", "tc"]
    assert missing_packages(tools, libpcap_found=True) == ["iproute2"]


def test_without_apt_the_hint_names_the_debian_command_as_an_example() -> None:
    command = install_command(["nftables"], is_root=True, has_apt=False)
    assert command.startswith("your distribution's package manager")
    assert "apt-get install -y nftables" in command


def test_effective_capabilities_are_read_from_proc_status() -> None:
    status = "Name:\tpython3\nCapInh:\t0000000000000000\nCapEff:\t0000000000003000\n"
    mask = effective_capabilities(status)
    assert missing_capabilities(mask, BUILD.capabilities) == ["CAP_SYS_ADMIN"]
    assert missing_capabilities(effective_capabilities("Name:\tx\n"), ["CAP_NET_RAW"]) == [
        "CAP_NET_RAW"
    ]
    full = sum(1 << bit for bit in CAPABILITIES.values())
    assert missing_capabilities(full, BUILD.capabilities) == []


def test_a_user_is_told_the_sudo_command_line() -> None:
    message = privilege_message(
        euid=1000, missing_caps=[], argv=[".venv/bin/crenel-lab", "demo"], in_container=False
    )
    assert message.endswith("run it as root: sudo .venv/bin/crenel-lab demo")


def test_root_in_a_container_is_told_the_cap_add_flags() -> None:
    message = privilege_message(
        euid=0, missing_caps=["CAP_NET_ADMIN", "CAP_SYS_ADMIN"], argv=["x"], in_container=True
    )
    assert "--cap-add NET_ADMIN --cap-add SYS_ADMIN" in message
    assert privilege_message(euid=0, missing_caps=[], argv=["x"], in_container=True) == ""


def test_trial_output_names_the_failed_and_unreported_features() -> None:
    output = "0 0\n1 0\n2 0\n3 1\n4 0\nnoise\n"
    failed = failed_features(output, KERNEL_FEATURES)
    assert [f.name for f in failed] == [
        "the iptables string match",
        "the tbf qdisc",
        "the u32 classifier",
    ]
    message = kernel_message(failed[:1], is_root=True, has_modules=True)
    assert message == (
        "the kernel lacks the iptables string match; load them with: "
        "modprobe xt_string nft_compat ipt_REJECT"
    )
    assert kernel_message([], is_root=True, has_modules=True) == ""


def test_trial_script_is_valid_shell_and_prints_one_status_per_feature() -> None:
    script = trial_script(KERNEL_FEATURES)
    assert subprocess.run(["sh", "-n", "-c", script], check=False).returncode == 0
    assert len(re.findall(r"; echo \d+ \$\?$", script, re.MULTILINE)) == len(KERNEL_FEATURES)
    # Every trial command is a tool the lab checks for, so a missing tool is named first.
    assert all(shlex.join(f.command) in script for f in KERNEL_FEATURES)
    assert {f.command[0] for f in KERNEL_FEATURES} <= {t.command for t in LAB_TOOLS}


def test_every_tool_lab_runs_is_checked() -> None:
    source = "\n".join(p.read_text() for p in LAB_SOURCES.rglob("*.py"))
    run = set(re.findall(r'\[\s*"(ip|tc|nft|iptables|ip6tables|sysctl|ethtool|modprobe)"', source))
    assert run <= {t.command for t in LAB_TOOLS}


def test_install_script_installs_every_package_the_checks_can_ask_for() -> None:
    text = INSTALL_SCRIPT.read_text()
    match = re.search(r"^PACKAGES=\"([^\"]+)\"", text, re.MULTILINE)
    assert match is not None
    script_packages = set(match.group(1).split())
    asked = {t.package for t in LAB_TOOLS if t.package != "util-linux"} | {LIBPCAP_PACKAGE}
    assert asked <= script_packages
    assert script_packages - asked == {"python3-venv"}


@pytest.mark.parametrize("path", [INSTALL_SCRIPT, ROOT / ".ci" / "run"])
def test_shell_scripts_parse(path: Path) -> None:
    assert subprocess.run(["bash", "-n", str(path)], check=False).returncode == 0
