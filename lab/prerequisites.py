"""What `crenel-lab` needs from the host, checked before it builds anything.

The tables and the decisions are pure: they take what was found on the host (which commands are
on PATH, whether libpcap loads, the effective capabilities, the output of a trial run) as
arguments. `check_host` is the thin shell that reads the host and raises one error whose message
is one line: what is missing and the command that installs it.
"""

from __future__ import annotations

import ctypes.util
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from lab.errors import PrivilegeMissing, SoftwareMissing

# Debian and Ubuntu package names; scripts/install-lab-deps installs the same set.
LIBPCAP_PACKAGE = "libpcap0.8"


@dataclass(frozen=True)
class Tool:
    """A command the lab runs, and the distribution package that ships it."""

    command: str
    package: str


# Every command lab/ runs on the host or inside a namespace (`ip netns exec` runs them).
LAB_TOOLS: tuple[Tool, ...] = (
    Tool("ip", "iproute2"),
    Tool("tc", "iproute2"),
    Tool("nft", "nftables"),
    Tool("iptables", "iptables"),
    Tool("sysctl", "procps"),
    Tool("unshare", "util-linux"),  # only for the kernel trial below
)
# `crenel-lab down` only deletes namespaces.
TEARDOWN_TOOLS: tuple[Tool, ...] = (Tool("ip", "iproute2"),)

# Linux capability numbers (linux/capability.h).
CAPABILITIES: Mapping[str, int] = {"CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_SYS_ADMIN": 21}
# Namespaces and links (NET_ADMIN, SYS_ADMIN for `ip netns add`), the injector's and the
# probe's packet sockets (NET_RAW).
BUILD_CAPABILITIES = ("CAP_NET_ADMIN", "CAP_SYS_ADMIN", "CAP_NET_RAW")
TEARDOWN_CAPABILITIES = ("CAP_NET_ADMIN", "CAP_SYS_ADMIN")


@dataclass(frozen=True)
class KernelFeature:
    """A kernel feature the lab uses, the trial command that needs it, and its modules."""

    name: str
    modules: tuple[str, ...]
    command: tuple[str, ...]
    stdin: str = ""


TRIAL_LINK = "crprobe0"
# One nft script with every kind of rule lab/censor/nft.py renders: reject with a TCP reset and
# with ICMP, drop, and the NAT redirect used for TLS interception.
TRIAL_NFT = (
    "table inet crprobe {\n"
    "  chain forward {\n"
    "    type filter hook forward priority filter; policy accept;\n"
    "    ip daddr 192.0.2.1 tcp dport 80 reject with tcp reset\n"
    "    ip daddr 192.0.2.1 reject with icmp type host-unreachable\n"
    "    ip daddr 192.0.2.2 drop\n"
    "  }\n"
    "  chain prerouting {\n"
    "    type nat hook prerouting priority dstnat; policy accept;\n"
    "    tcp dport 443 redirect to :8443\n"
    "  }\n"
    "}\n"
)
# In order: later trials use the link the first one makes. They run in a throwaway network
# namespace (`unshare --net`) that disappears with the trial, so nothing is left behind.
KERNEL_FEATURES: tuple[KernelFeature, ...] = (
    KernelFeature(
        "veth pairs",
        ("veth",),
        ("ip", "link", "add", "name", TRIAL_LINK, "type", "veth", "peer", "name", "crprobe1"),
    ),
    KernelFeature(
        "bridges", ("bridge",), ("ip", "link", "add", "name", "crprobe2", "type", "bridge")
    ),
    KernelFeature(
        "nftables (reject, NAT redirect)",
        ("nf_tables", "nft_reject_inet", "nft_chain_nat", "nft_redir"),
        ("nft", "-f", "-"),
        TRIAL_NFT,
    ),
    KernelFeature(
        "the iptables string match",
        ("xt_string", "nft_compat", "ipt_REJECT"),
        (
            "iptables",
            "-w",
            "-A",
            "FORWARD",
            "-p",
            "tcp",
            "-m",
            "string",
            "--algo",
            "bm",
            "--icase",
            "--hex-string",
            "|63|",
            "-j",
            "REJECT",
            "--reject-with",
            "tcp-reset",
        ),
    ),
    KernelFeature(
        "the htb qdisc",
        ("sch_htb",),
        (
            "tc",
            "qdisc",
            "replace",
            "dev",
            TRIAL_LINK,
            "root",
            "handle",
            "1:",
            "htb",
            "default",
            "1",
        ),
    ),
    KernelFeature(
        "the tbf qdisc",
        ("sch_tbf",),
        (
            "tc",
            "qdisc",
            "replace",
            "dev",
            "crprobe1",
            "root",
            "handle",
            "2:",
            "tbf",
            "rate",
            "1gbit",
            "burst",
            "2000",
            "limit",
            "9000",
        ),
    ),
    KernelFeature(
        "the u32 classifier",
        ("cls_u32",),
        (
            "tc",
            "filter",
            "add",
            "dev",
            TRIAL_LINK,
            "parent",
            "1:",
            "protocol",
            "ip",
            "prio",
            "1",
            "u32",
            "match",
            "ip",
            "src",
            "192.0.2.1/32",
            "flowid",
            "1:1",
        ),
    ),
)
TRIAL_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Requirements:
    """What one command needs: tools on PATH, libpcap, capabilities, kernel features."""

    tools: tuple[Tool, ...]
    needs_libpcap: bool
    capabilities: tuple[str, ...]
    kernel: tuple[KernelFeature, ...]


BUILD = Requirements(LAB_TOOLS, True, BUILD_CAPABILITIES, KERNEL_FEATURES)
TEARDOWN = Requirements(TEARDOWN_TOOLS, False, TEARDOWN_CAPABILITIES, ())


def missing_tools(tools: Iterable[Tool], which: Callable[[str], str | None]) -> list[Tool]:
    """Return the tools `which` cannot find, in table order."""
    return [tool for tool in tools if which(tool.command) is None]


def missing_packages(tools: Sequence[Tool], *, libpcap_found: bool | None) -> list[str]:
    """Return the packages providing the missing `tools` (and libpcap if not found), once each."""
    packages = [tool.package for tool in tools]
    if libpcap_found is False:
        packages.append(LIBPCAP_PACKAGE)
    return list(dict.fromkeys(packages))


def install_command(packages: Sequence[str], *, is_root: bool, has_apt: bool) -> str:
    """Return the command line that installs `packages` (apt-get; sudo when not root)."""
    command = f"apt-get install -y {' '.join(packages)}"
    if not is_root:
        command = "sudo " + command
    if not has_apt:
        return f"your distribution's package manager (on Debian or Ubuntu: {command})"
    return command


def software_message(
    tools: Sequence[Tool], *, libpcap_found: bool | None, is_root: bool, has_apt: bool
) -> str:
    """Return the one-line complaint about missing software ("" when nothing is missing)."""
    names = [f"{tool.package} (`{tool.command}`)" for tool in tools]
    if libpcap_found is False:
        names.append(f"libpcap ({LIBPCAP_PACKAGE})")
    if not names:
        return ""
    packages = missing_packages(tools, libpcap_found=libpcap_found)
    them = "it" if len(packages) == 1 else "them"
    line = (
        f"missing {', '.join(names)}; install {them} with: "
        f"{install_command(packages, is_root=is_root, has_apt=has_apt)}"
    )
    if not is_root:
        line += ", then run crenel-lab as root"
    return line


def effective_capabilities(status: str) -> int:
    """Return the effective capability mask from the text of /proc/PID/status (0 if absent)."""
    for line in status.splitlines():
        if line.startswith("CapEff:"):
            return int(line.split(":", 1)[1].strip(), 16)
    return 0


def missing_capabilities(mask: int, needed: Iterable[str]) -> list[str]:
    """Return the capabilities of `needed` that `mask` lacks, in the given order."""
    return [name for name in needed if not mask & (1 << CAPABILITIES[name])]


def privilege_message(
    *, euid: int, missing_caps: Sequence[str], argv: Sequence[str], in_container: bool
) -> str:
    """Return the one-line complaint about privileges ("" when they suffice)."""
    if euid != 0:
        return "the lab builds network namespaces and needs root; run it as root: " + shlex.join(
            ["sudo", *argv]
        )
    if not missing_caps:
        return ""
    flags = " ".join(f"--cap-add {name.removeprefix('CAP_')}" for name in missing_caps)
    where = (
        f"start the container with {flags} (or --privileged)"
        if in_container
        else "run it as full root, not in a restricted shell"
    )
    return f"root lacks {', '.join(missing_caps)}; {where}"


def trial_script(features: Sequence[KernelFeature]) -> str:
    """Return a POSIX shell script that tries each feature and prints "INDEX STATUS" per trial."""
    lines = []
    for index, feature in enumerate(features):
        command = shlex.join(feature.command)
        if feature.stdin:
            command = f"printf '%s' {shlex.quote(feature.stdin)} | {command}"
        lines.append(f"{command} >/dev/null 2>&1; echo {index} $?")
    return "\n".join(lines) + "\n"


def failed_features(output: str, features: Sequence[KernelFeature]) -> list[KernelFeature]:
    """Return the features whose trial failed or did not report, read from `trial_script` output."""
    status: dict[int, int] = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
            status[int(parts[0])] = int(parts[1])
    return [f for index, f in enumerate(features) if status.get(index, 1) != 0]


def kernel_message(features: Sequence[KernelFeature], *, is_root: bool, has_modules: bool) -> str:
    """Return the one-line complaint about missing kernel features ("" when none is missing)."""
    if not features:
        return ""
    modules = list(dict.fromkeys(module for f in features for module in f.modules))
    command = ("" if is_root else "sudo ") + "modprobe " + " ".join(modules)
    where = "load" if has_modules else "this kernel has no loadable modules here; on the host, load"
    return f"the kernel lacks {', '.join(f.name for f in features)}; {where} them with: {command}"


def trial_kernel(features: Sequence[KernelFeature]) -> tuple[int, str, str]:
    """Return (exit status, stdout, stderr) of the trial script in a throwaway network namespace.

    Nothing outlives it: the namespace holds no process once the script ends, so the kernel
    removes it with every link, rule and qdisc the trial made.
    """
    try:
        result = subprocess.run(
            ["unshare", "--net", "--", "sh", "-c", trial_script(features)],
            capture_output=True,
            text=True,
            timeout=TRIAL_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return -1, "", f"timed out after {TRIAL_TIMEOUT_S} s"
    return result.returncode, result.stdout, result.stderr


def _in_container() -> bool:
    """Return whether this process looks like it runs in a container (Docker, Podman)."""
    return Path("/.dockerenv").exists() or Path("/run/.containerenv").exists()


def check_host(requirements: Requirements, argv: Sequence[str] | None = None) -> None:
    """Return when the host has everything `requirements` lists.

    Software is checked first (it needs no privilege, and installing it is the first step),
    then privileges, then the kernel features by trial.

    Raises:
        SoftwareMissing: a command, libpcap or a kernel feature is missing.
        PrivilegeMissing: not root, or root without the capabilities.
    """
    argv = list(argv if argv is not None else sys.argv)
    euid = os.geteuid()
    has_apt = shutil.which("apt-get") is not None
    tools = missing_tools(requirements.tools, shutil.which)
    libpcap = ctypes.util.find_library("pcap") is not None if requirements.needs_libpcap else None
    software = software_message(tools, libpcap_found=libpcap, is_root=euid == 0, has_apt=has_apt)
    if software:
        raise SoftwareMissing(software)
    status = Path("/proc/self/status").read_text()
    caps = missing_capabilities(effective_capabilities(status), requirements.capabilities)
    privilege = privilege_message(
        euid=euid, missing_caps=caps, argv=argv, in_container=_in_container()
    )
    if privilege:
        raise PrivilegeMissing(privilege)
    if not requirements.kernel:
        return
    returncode, output, errors = trial_kernel(requirements.kernel)
    if not output.strip():
        detail = errors.strip().splitlines()[-1] if errors.strip() else f"exit {returncode}"
        raise PrivilegeMissing(f"cannot create a network namespace here ({detail})")
    has_modules = Path("/lib/modules", os.uname().release).is_dir()
    failed = failed_features(output, requirements.kernel)
    kernel = kernel_message(failed, is_root=euid == 0, has_modules=has_modules)
    if kernel:
        raise SoftwareMissing(kernel)
