"""Bring a scenario's world up in network namespaces, and take it down completely.

`running_world` is the only entry point: it builds the namespaces, links, addresses and routes of
the plan, starts the servers, the control helper and each censor, and tears everything down in
`finally`, also after a failure or Ctrl-C.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import trio

from lab import netns
from lab.errors import LabError
from lab.plan import (
    CONTROL_ADDRESS,
    CONTROL_PORT,
    DNS_BAIT_ADDRESS,
    LAB_NETWORKS,
    PUBLIC_RESOLVER_ADDRESS,
    ClientPlan,
    WorldPlan,
    plan_world,
)
from lab.scenario import Scenario
from lab.servers.certs import CertificateAuthority

log = logging.getLogger(__name__)

PREFIX_ROOT = "crl"
READY_TIMEOUT_S = 20.0
STOP_GRACE_S = 3.0
INTERCEPTOR_PORT = 8443
STATE_DIR = Path("/run/crenel-lab")


@dataclass
class LabProcess:
    """A process the world started, with the file its output goes to."""

    name: str
    process: trio.Process
    log_path: Path


@dataclass
class World:
    """A running world: its plan, its directory and its processes."""

    plan: WorldPlan
    scenario_path: Path
    directory: Path
    processes: list[LabProcess] = field(default_factory=list)
    setup_s: float = 0.0
    fingerprints: tuple[Path, ...] = ()

    @property
    def ca_file(self) -> Path:
        """Return the PEM file of the lab CA that probes trust."""
        return self.directory / "lab-ca.pem"

    @property
    def control_url(self) -> str:
        """Return the control helper's endpoint."""
        return f"https://{CONTROL_ADDRESS}:{CONTROL_PORT}/api/v1/control"

    def probe_config(self, client: ClientPlan) -> Path:
        """Return the probe settings file for `client` (written at set-up)."""
        return self.directory / f"probe-{client.namespace}.toml"

    def probe_data_dir(self, client: ClientPlan) -> Path:
        """Return the probe's data directory for `client`."""
        return self.directory / f"data-{client.namespace}"


def new_prefix() -> str:
    """Return a fresh namespace-name prefix, unique among running worlds."""
    return f"{PREFIX_ROOT}{secrets.token_hex(2)}"


def executable(name: str) -> str:
    """Return the path of a console script installed beside this Python (else on PATH).

    Raises:
        LabError: it is not installed.
    """
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise LabError(f"{name} is not installed (pip install 'crenel[lab]' in this environment)")
    return found


async def _build_network(plan: WorldPlan) -> None:
    for namespace in plan.namespaces:
        await netns.add_namespace(namespace)
    for namespace in plan.forwarding:
        await netns.set_sysctl(namespace, "net.ipv4.ip_forward", "1")
        # Routers answer every expired packet: localisation sends bursts of them, and a vote
        # needs each answer (Linux otherwise allows about one per second per destination).
        await netns.set_sysctl(namespace, "net.ipv4.icmp_ratelimit", "0")
    for namespace, bridge in plan.bridges:
        await netns.run(["ip", "link", "add", bridge, "type", "bridge"], namespace=namespace)
        await netns.run(["ip", "link", "set", bridge, "up"], namespace=namespace)
    for link in plan.links:
        await netns.add_veth(link.ns_a, link.if_a, link.ns_b, link.if_b)
        if link.cidr_a:
            await netns.add_address(link.ns_a, link.if_a, link.cidr_a)
        if link.cidr_b:
            await netns.add_address(link.ns_b, link.if_b, link.cidr_b)
    for namespace, port, bridge in plan.bridge_ports:
        await netns.run(["ip", "link", "set", port, "master", bridge], namespace=namespace)
    for namespace, interface, cidr in plan.addresses:
        await netns.add_address(namespace, interface, cidr)
    # This kernel has no dummy interfaces: service addresses live on inet's loopback.
    for address in plan.service_addresses():
        await netns.add_address(plan.inet_namespace, "lo", f"{address}/32")
    for route in plan.routes:
        await netns.add_route(route.namespace, route.destination, route.via)
    for client in plan.clients:
        netns.write_resolv_conf(client.namespace, client.resolver)


def _write_certificates(directory: Path, extra: Mapping[str, Sequence[str]] | None = None) -> None:
    for name, label in (
        ("lab-ca", "Crenel lab root CA"),
        ("untrusted-ca", "Crenel lab untrusted root CA"),
    ):
        ca = CertificateAuthority.create(label)
        (directory / f"{name}.pem").write_bytes(ca.cert_pem)
        key = directory / f"{name}.key"
        key.write_bytes(ca.key_pem)
        key.chmod(0o600)
        if name == "lab-ca":
            # The probe reaches the control over HTTPS, as it would across a real censor: a
            # cleartext request naming a blocked URL would be filtered itself.
            issued = ca.issue([CONTROL_ADDRESS, "control.lab.test"])
            (directory / "control.pem").write_bytes(issued.chain_pem)
            (directory / "control.key").write_bytes(issued.key_pem)
            for name_of_extra, hostnames in (extra or {}).items():
                issued = ca.issue(list(hostnames))
                (directory / f"{name_of_extra}.pem").write_bytes(issued.chain_pem)
                (directory / f"{name_of_extra}.key").write_bytes(issued.key_pem)


def _write_probe_configs(world: World, scenario: Scenario, fingerprints: Sequence[Path]) -> None:
    options = scenario.options
    for client in world.plan.clients:
        lines = [
            "consent_version = 1",
            f'control = "{world.control_url}"',
            f'resolver = "{client.resolver}"',
            f'doh = "https://{PUBLIC_RESOLVER_ADDRESS}/dns-query"',
            f"system_resolver = {'true' if options.system_resolver else 'false'}",
            f'ca_bundle = "{world.ca_file}"',
            "fingerprints = [" + ", ".join(f'"{p}"' for p in fingerprints) + "]",
            "public_networks = [" + ", ".join(f'"{n}"' for n in LAB_NETWORKS) + "]",
            f"capture_window_ms = {options.capture_window_ms}",
            f"dns_timeout_s = {options.dns_timeout_s}",
            f"tcp_timeout_s = {options.tcp_timeout_s}",
            f"tls_timeout_s = {options.tls_timeout_s}",
            f"http_timeout_s = {options.http_timeout_s}",
            f"control_timeout_s = {options.control_timeout_s}",
            f'packet_evidence = "{"required" if options.packet_evidence else "off"}"',
            f'locate_censor = "{"required" if options.locate_censor else "off"}"',
        ]
        if options.dns_bait:
            lines.append(f'dns_bait = "{DNS_BAIT_ADDRESS}"')
        world.probe_config(client).write_text("\n".join(lines) + "\n")


async def start_process(world: World, name: str, namespace: str, command: list[str]) -> LabProcess:
    """Return a process started in `namespace`, its output going to DIR/NAME.log; the world stops
    it at teardown."""
    log_path = world.directory / f"{name}.log"
    with log_path.open("wb") as log_file:
        process = await trio.lowlevel.open_process(
            netns.in_namespace(namespace, command),
            stdout=log_file,
            stderr=log_file,
            stdin=subprocess.DEVNULL,
        )
    started = LabProcess(name=name, process=process, log_path=log_path)
    world.processes.append(started)
    return started


async def wait_ready(started: LabProcess, marker: bytes, timeout_s: float) -> None:
    """Return once `marker` appears in the process's output.

    Raises:
        LabError: the process exited or `timeout_s` passed first (with its last output).
    """
    with trio.move_on_after(timeout_s):
        # The child writes to a file; poll it, bounded by the timeout.
        while True:
            if marker in started.log_path.read_bytes():
                return
            if started.process.returncode is not None:
                break
            await trio.sleep(0.02)
    tail = started.log_path.read_bytes()[-600:].decode(errors="replace").strip()
    raise LabError(f"lab process {started.name} did not start: {tail or 'no output'}")


async def _start_censor(world: World, index: int) -> list[tuple[LabProcess, bytes]]:
    country = world.plan.countries[index]
    plan = country.censor
    if not plan.rules:
        return []
    from lab.censor.nft import censor_commands
    from lab.censor.plan_file import encode_plan

    namespace = country.censor_namespace
    commands = censor_commands(plan, interceptor_port=INTERCEPTOR_PORT)
    if commands.nft_script.strip():
        await netns.run(["nft", "-f", "-"], namespace=namespace, stdin=commands.nft_script.encode())
    for command in commands.commands:
        await netns.run(list(command), namespace=namespace)
    waits: list[tuple[LabProcess, bytes]] = []
    plan_path = world.directory / f"censor-{index}.json"
    plan_path.write_bytes(encode_plan(plan))
    if commands.needs_injector:
        started = await start_process(
            world,
            f"injector-{index}",
            namespace,
            [sys.executable, "-m", "lab.censor.injector", str(plan_path)],
        )
        waits.append((started, b"READY"))
    if commands.needs_interceptor:
        started = await start_process(
            world,
            f"interceptor-{index}",
            namespace,
            [
                sys.executable,
                "-m",
                "lab.censor.interceptor",
                str(plan_path),
                "--port",
                str(INTERCEPTOR_PORT),
                "--ca-dir",
                str(world.directory),
            ],
        )
        waits.append((started, b"READY"))
    return waits


async def _start_services(world: World) -> None:
    plan = world.plan
    waits: list[tuple[LabProcess, bytes]] = []
    servers = await start_process(
        world,
        "servers",
        plan.inet_namespace,
        [
            sys.executable,
            "-m",
            "lab.server_process",
            str(world.scenario_path),
            "--prefix",
            plan.prefix,
            "--world-dir",
            str(world.directory),
        ],
    )
    waits.append((servers, b"READY"))
    helper_command = [
        executable("crenel-collector"),
        "helper",
        "--listen",
        f"{CONTROL_ADDRESS}:{CONTROL_PORT}",
        "--resolver",
        f"{PUBLIC_RESOLVER_ADDRESS}:53",
        "--ca-bundle",
        str(world.ca_file),
        "--tls-cert",
        str(world.directory / "control.pem"),
        "--tls-key",
        str(world.directory / "control.key"),
    ]
    for network in LAB_NETWORKS:
        helper_command += ["--allow-network", network]
    helper = await start_process(world, "control", plan.inet_namespace, helper_command)
    waits.append((helper, b"serving the control"))
    for index in range(len(plan.countries)):
        waits += await _start_censor(world, index)
    async with trio.open_nursery() as nursery:
        for started, marker in waits:
            nursery.start_soon(wait_ready, started, marker, READY_TIMEOUT_S)


async def _stop_processes(world: World) -> None:
    for started in world.processes:
        if started.process.returncode is None:
            started.process.send_signal(signal.SIGTERM)
    with trio.move_on_after(STOP_GRACE_S):
        for started in world.processes:
            await started.process.wait()
    for started in world.processes:
        if started.process.returncode is None:
            started.process.kill()
            with trio.move_on_after(1.0):
                await started.process.wait()


WORLD_NAME = re.compile(r"^crl[0-9a-f]{4}-")


async def teardown(plan: WorldPlan | None, prefix: str) -> list[str]:
    """Delete the namespaces of lab worlds whose prefix starts with `prefix` (all worlds for
    "crl"); return what was deleted. Other tools' namespaces are never touched."""
    names = set(plan.namespaces) if plan is not None else set()
    names |= {n for n in await netns.list_namespaces(prefix) if WORLD_NAME.match(n)}
    for name in sorted(names):
        await netns.delete_namespace(name)
    for leftover in netns.NETNS_ETC.glob(f"{prefix}*") if netns.NETNS_ETC.is_dir() else []:
        if WORLD_NAME.match(leftover.name):
            shutil.rmtree(leftover, ignore_errors=True)
    return sorted(names)


def _write_state(world: World) -> None:
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    state = STATE_DIR / f"{world.plan.prefix}.pid"
    state.write_text(f"{os.getpid()}\n{world.directory}\n")


def _remove_state(prefix: str) -> None:
    (STATE_DIR / f"{prefix}.pid").unlink(missing_ok=True)


@asynccontextmanager
async def running_world(
    scenario: Scenario,
    scenario_path: Path,
    *,
    fingerprints: Sequence[Path] = (),
    prefix: str | None = None,
    keep_directory: Path | None = None,
    extra_certificates: Mapping[str, Sequence[str]] | None = None,
) -> AsyncIterator[World]:
    """Yield a running world for `scenario`; on exit (however it happens) remove all of it.

    Raises:
        PrivilegeMissing: not root.
        LabError: a command failed or a lab process did not start.
    """
    netns.require_privileges()
    prefix = prefix or new_prefix()
    plan = plan_world(scenario, prefix)
    directory = Path(tempfile.mkdtemp(prefix=f"crenel-lab-{prefix}-"))
    world = World(
        plan=plan,
        scenario_path=scenario_path,
        directory=directory,
        fingerprints=tuple(fingerprints),
    )
    started = time.monotonic()
    try:
        _write_certificates(directory, extra_certificates)
        _write_probe_configs(world, scenario, fingerprints)
        _write_state(world)
        await _build_network(plan)
        await _start_services(world)
        world.setup_s = time.monotonic() - started
        yield world
    finally:
        with trio.move_on_after(30, shield=True):
            await _stop_processes(world)
            await teardown(plan, prefix)
            _remove_state(prefix)
            if keep_directory is not None:
                shutil.copytree(directory, keep_directory, dirs_exist_ok=True)
            shutil.rmtree(directory, ignore_errors=True)
