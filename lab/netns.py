"""Network namespaces, veth pairs, addresses and routes, driven through iproute2.

Thin I/O: every function runs one bounded command. Namespace names carry a per-world prefix so
several worlds can coexist and teardown finds everything it made.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

import trio

from lab.errors import CommandFailed, PrivilegeMissing, SoftwareMissing

COMMAND_TIMEOUT_S = 10.0
NETNS_ETC = Path("/etc/netns")


def require_privileges() -> None:
    """Return when namespaces can be created here (the CLI checks more, in `prerequisites`).

    Raises:
        PrivilegeMissing: not root.
        SoftwareMissing: `ip` is missing.
    """
    if os.geteuid() != 0:
        raise PrivilegeMissing()
    if shutil.which("ip") is None:
        raise SoftwareMissing(
            "missing iproute2 (`ip`); install it with: apt-get install -y iproute2"
        )


def in_namespace(namespace: str | None, command: Sequence[str]) -> list[str]:
    """Return `command` prefixed to run inside `namespace` (unchanged for the root namespace)."""
    if namespace is None:
        return list(command)
    return ["ip", "netns", "exec", namespace, *command]


async def run(
    command: Sequence[str],
    *,
    namespace: str | None = None,
    stdin: bytes | None = None,
    check: bool = True,
    timeout_s: float = COMMAND_TIMEOUT_S,
) -> subprocess.CompletedProcess[bytes]:
    """Return the finished command (run inside `namespace` if given), within `timeout_s`.

    Raises:
        CommandFailed: it exited non-zero (with `check`) or ran out of time.
    """
    full = in_namespace(namespace, command)
    with trio.move_on_after(timeout_s) as scope:
        result = await trio.run_process(
            full, stdin=stdin, capture_stdout=True, capture_stderr=True, check=False
        )
    if scope.cancelled_caught:
        raise CommandFailed(full, -1, f"timed out after {timeout_s} s")
    if check and result.returncode != 0:
        raise CommandFailed(full, result.returncode, result.stderr.decode(errors="replace"))
    return result


async def add_namespace(name: str) -> None:
    """Create a namespace with loopback up and IPv6 off (link-local IPv6 only adds noise).

    Raises:
        CommandFailed: `ip netns add` failed.
    """
    await run(["ip", "netns", "add", name])
    await run(["ip", "link", "set", "lo", "up"], namespace=name)
    for key in ("net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6"):
        await run(["sysctl", "-qw", f"{key}=1"], namespace=name, check=False)


async def set_sysctl(namespace: str, key: str, value: str) -> None:
    """Set a sysctl inside a namespace.

    Raises:
        CommandFailed: sysctl failed.
    """
    await run(["sysctl", "-qw", f"{key}={value}"], namespace=namespace)


async def add_veth(ns_a: str, if_a: str, ns_b: str, if_b: str) -> None:
    """Create a veth pair with one end in each namespace, both up.

    Raises:
        CommandFailed: the link could not be made.
    """
    await run(
        [
            "ip",
            "link",
            "add",
            if_a,
            "netns",
            ns_a,
            "type",
            "veth",
            "peer",
            "name",
            if_b,
            "netns",
            ns_b,
        ]
    )
    await run(["ip", "link", "set", if_a, "up"], namespace=ns_a)
    await run(["ip", "link", "set", if_b, "up"], namespace=ns_b)


async def add_dummy(namespace: str, name: str) -> None:
    """Create a dummy interface (a home for service addresses) and bring it up.

    Raises:
        CommandFailed: the link could not be made.
    """
    await run(["ip", "link", "add", name, "type", "dummy"], namespace=namespace)
    await run(["ip", "link", "set", name, "up"], namespace=namespace)


async def add_address(namespace: str, interface: str, cidr: str) -> None:
    """Add an address to an interface (no duplicate-address detection delay).

    Raises:
        CommandFailed: iproute2 refused the address.
    """
    command = ["ip", "address", "add", cidr, "dev", interface]
    if ":" in cidr:
        command.append("nodad")
    await run(command, namespace=namespace)


async def add_route(namespace: str, destination: str, via: str) -> None:
    """Route `destination` through the gateway `via`.

    Raises:
        CommandFailed: iproute2 refused the route.
    """
    await run(["ip", "route", "add", destination, "via", via], namespace=namespace)


async def list_namespaces(prefix: str) -> list[str]:
    """Return the existing namespaces whose names start with `prefix`."""
    result = await run(["ip", "netns", "list"], check=False)
    names = [line.split()[0] for line in result.stdout.decode().splitlines() if line.strip()]
    return [n for n in names if n.startswith(prefix)]


async def namespace_pids(namespace: str) -> list[int]:
    """Return the pids of processes living in `namespace`."""
    result = await run(["ip", "netns", "pids", namespace], check=False)
    return [int(p) for p in result.stdout.decode().split() if p.isdigit()]


async def kill_namespace_processes(namespace: str, *, grace_s: float = 2.0) -> None:
    """Stop every process in `namespace`: SIGTERM, then SIGKILL after `grace_s`."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = await namespace_pids(namespace)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                continue
        with trio.move_on_after(grace_s):
            # Foreign processes give no exit event to wait on; poll, bounded by grace_s.
            while await namespace_pids(namespace):  # noqa: ASYNC110
                await trio.sleep(0.05)


async def delete_namespace(namespace: str) -> None:
    """Kill what runs in `namespace`, delete it and its /etc/netns directory (idempotent)."""
    await kill_namespace_processes(namespace)
    await run(["ip", "netns", "delete", namespace], check=False)
    etc = NETNS_ETC / namespace
    if etc.is_dir():
        shutil.rmtree(etc, ignore_errors=True)


def write_resolv_conf(namespace: str, nameserver: str) -> Path:
    """Write /etc/netns/NS/resolv.conf so getaddrinfo inside `namespace` uses `nameserver`."""
    directory = NETNS_ETC / namespace
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "resolv.conf"
    path.write_text(f"nameserver {nameserver}\noptions timeout:2 attempts:1\n")
    return path
