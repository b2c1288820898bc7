"""A three-namespace censored internet for the censor tests: client | censor | inet.

Built with `lab.netns` exactly as the world builder lays it out (documentation addresses only, no
default routes). Servers run in `inet` (serve_lab.py), the censor's rules and helper processes in
`censor`, and the real probe in `client`. `Lab.close` removes every process and namespace.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import trio

from lab import netns
from lab.censor.nft import censor_commands
from lab.censor.plan_file import encode_plan
from lab.censor.rules import CensorPlan
from probe.model import Measurement

PYTHON = sys.executable
PROBE = str(Path(sys.executable).parent / "crenel-probe")
REPO = Path(__file__).resolve().parents[3]
SERVE_LAB = Path(__file__).with_name("serve_lab.py")

CLIENT_NETWORK = "192.0.2.0/28"
CLIENT_ADDRESS = "192.0.2.2"
LAN_ADDRESS = "192.0.2.1"
WAN_ADDRESS = "198.51.100.1"
INET_ADDRESS = "198.51.100.2"
RESOLVER = "203.0.113.53"
WWW = "203.0.113.10"
NEWS = "203.0.113.20"
FILES = "203.0.113.30"
SERVICE_ADDRESSES = (RESOLVER, WWW, NEWS, FILES)
INTERCEPTOR_PORT = 10443
REAL_DNS_DELAY_MS = 200
"""How late the real answer for news.example.test leaves, so an injected one wins: the injector
(Python, on a loaded machine) must answer within half of it (test_injector.py), and the real
answer must still land within the probe's 0.5 s capture window after the forged one. At 50 ms
the injector had 25 ms, which a loaded machine sometimes missed."""
READY_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 3.0
PROBE_TIMEOUT_S = 40.0

NEWS_BODY = (
    "<!DOCTYPE html><html><head><title>Example News</title></head><body>real news</body></html>"
)
THROTTLED_BYTES = 32 * 1024


def server_config(ca_path: Path) -> dict[str, object]:
    """Return the serve_lab.py config: the ISP resolver and three web addresses."""
    return {
        "ca_path": str(ca_path),
        "resolvers": [
            {
                "address": RESOLVER,
                "records": [
                    ["www.example.test", "A", WWW],
                    ["news.example.test", "A", NEWS],
                    ["files.example.test", "A", FILES],
                ],
                "delays_ms": {"news.example.test": REAL_DNS_DELAY_MS},
            }
        ],
        "web": [WWW, NEWS, FILES],
        "sites": {
            "www.example.test": {
                "/": {"body": "<html><title>Example</title>www</html>"},
                "/forbidden-word/": {"body": "<html><title>Forbidden</title>words</html>"},
            },
            "news.example.test": {"/": {"body": NEWS_BODY}},
            "files.example.test": {"/big": {"body_size": THROTTLED_BYTES}},
        },
    }


@dataclass
class Lab:
    """One running three-namespace lab; the names carry a random per-lab prefix."""

    prefix: str
    directory: Path
    processes: list[trio.Process] = field(default_factory=list)

    @property
    def client(self) -> str:
        return self.prefix + "client"

    @property
    def censor(self) -> str:
        return self.prefix + "censor"

    @property
    def inet(self) -> str:
        return self.prefix + "inet"

    @property
    def lab_ca(self) -> Path:
        return self.directory / "lab-ca.pem"

    @property
    def censor_ca_dir(self) -> Path:
        return self.directory / "censor-ca"

    async def build(self) -> None:
        """Create the namespaces, links, addresses and routes."""
        for name in (self.client, self.censor, self.inet):
            await netns.add_namespace(name)
        await netns.add_veth(self.client, "eth0", self.censor, "lan")
        await netns.add_veth(self.censor, "wan", self.inet, "c1")
        await netns.add_address(self.client, "eth0", f"{CLIENT_ADDRESS}/28")
        await netns.add_address(self.censor, "lan", f"{LAN_ADDRESS}/28")
        await netns.add_address(self.censor, "wan", f"{WAN_ADDRESS}/30")
        await netns.add_address(self.inet, "c1", f"{INET_ADDRESS}/30")
        # This kernel has no dummy driver (CONFIG_DUMMY unset): service addresses live on lo.
        for address in SERVICE_ADDRESSES:
            await netns.add_address(self.inet, "lo", f"{address}/32")
        await netns.set_sysctl(self.censor, "net.ipv4.ip_forward", "1")
        for destination in ("203.0.113.0/24", "198.51.100.0/24"):
            await netns.add_route(self.client, destination, LAN_ADDRESS)
        await netns.add_route(self.censor, "203.0.113.0/24", INET_ADDRESS)
        await netns.add_route(self.inet, CLIENT_NETWORK, WAN_ADDRESS)

    async def start(self, namespace: str, argv: Sequence[str], *, name: str) -> trio.Process:
        """Start `argv` in `namespace` and return it once it printed READY.

        Raises:
            AssertionError: it exited or stayed silent for READY_TIMEOUT_S (with its stderr).
        """
        log_path = self.directory / f"{name}.log"
        with log_path.open("wb") as log:
            process = await trio.lowlevel.open_process(
                netns.in_namespace(namespace, argv),
                stdout=subprocess.PIPE,
                stderr=log,
                cwd=REPO,
            )
        self.processes.append(process)
        assert process.stdout is not None
        output = b""
        with trio.move_on_after(READY_TIMEOUT_S):
            while b"READY\n" not in output:  # each pass reads bytes or ends at EOF
                chunk = await process.stdout.receive_some(1024)
                if not chunk:
                    break
                output += chunk
        if b"READY\n" not in output:
            raise AssertionError(f"{name} did not start: {output!r} {log_path.read_text()}")
        return process

    async def start_servers(self) -> None:
        """Start the resolver and web servers in `inet`."""
        config = self.directory / "servers.json"
        config.write_text(json.dumps(server_config(self.lab_ca)))
        await self.start(self.inet, [PYTHON, str(SERVE_LAB), str(config)], name="servers")

    async def apply_censor(self, plan: CensorPlan) -> dict[str, trio.Process]:
        """Load the plan's rules into the censor namespace; return the helpers it started."""
        commands = censor_commands(plan, interceptor_port=INTERCEPTOR_PORT)
        if commands.nft_script:
            await netns.run(
                ["nft", "-f", "-"], namespace=self.censor, stdin=commands.nft_script.encode()
            )
        for command in commands.commands:
            await netns.run(command, namespace=self.censor)
        plan_path = self.directory / "plan.json"
        plan_path.write_bytes(encode_plan(plan))
        helpers: dict[str, trio.Process] = {}
        if commands.needs_injector:
            argv = [PYTHON, "-m", "lab.censor.injector", str(plan_path)]
            helpers["injector"] = await self.start(self.censor, argv, name="injector")
        if commands.needs_interceptor:
            argv = [
                PYTHON, "-m", "lab.censor.interceptor", str(plan_path),
                "--port", str(INTERCEPTOR_PORT), "--ca-dir", str(self.censor_ca_dir),
            ]  # fmt: skip
            helpers["interceptor"] = await self.start(self.censor, argv, name="interceptor")
        return helpers

    async def probe(
        self, *urls: str, timeouts: Sequence[str] = (), ca_bundle: Path | None = None
    ) -> list[Measurement]:
        """Run the real probe in `client` on `urls` and return its measurements, in order.

        `timeouts` are flag/value pairs overriding the step budgets; the probe trusts the lab
        CA unless `ca_bundle` names another PEM file.
        """
        home = self.directory / "probe"
        home.mkdir(exist_ok=True)
        config = home / "probe.toml"
        config.touch()
        step_timeouts = {"--dns-timeout": "2", "--tcp-timeout": "2", "--tls-timeout": "2"}
        step_timeouts["--http-timeout"] = "4"
        for flag, value in zip(timeouts[::2], timeouts[1::2], strict=True):
            step_timeouts[flag] = value
        argv = [
            PROBE, "measure", "--json", "--yes", "--config", str(config),
            "--no-system-resolver", "--resolver", RESOLVER, "--doh", "off",
            "--ca-bundle", str(ca_bundle or self.lab_ca),
            "--public-network", "203.0.113.0/24", "--public-network", "198.51.100.0/24",
            "--public-network", "192.0.2.0/24",
            *(item for pair in step_timeouts.items() for item in pair),
            *urls,
        ]  # fmt: skip
        env = {**os.environ, "CRENEL_CONFIG": str(config), "CRENEL_DATA_DIR": str(home)}
        with trio.fail_after(PROBE_TIMEOUT_S):
            result = await trio.run_process(
                netns.in_namespace(self.client, argv),
                capture_stdout=True,
                capture_stderr=True,
                check=False,
                env=env,
            )
        assert result.returncode == 0, (result.returncode, result.stdout[-2000:], result.stderr)
        lines = [line for line in result.stdout.splitlines() if line.startswith(b"{")]
        measurements = [msgspec.json.decode(line, type=Measurement) for line in lines]
        order = {url: index for index, url in enumerate(urls)}
        return sorted(measurements, key=lambda m: order.get(m.input, len(order)))

    async def stop(self, process: trio.Process) -> float:
        """Send SIGTERM, wait for the exit and return how long it took (SIGKILL after a wait)."""
        start = trio.current_time()
        if process.returncode is None:
            process.terminate()
            with trio.move_on_after(STOP_TIMEOUT_S):
                await process.wait()
            if process.returncode is None:
                process.kill()
                await process.wait()
        if process.stdout is not None:
            await process.stdout.aclose()
        return trio.current_time() - start

    async def close(self) -> None:
        """Stop every process, then delete the namespaces (idempotent)."""
        for process in reversed(self.processes):
            await self.stop(process)
        for name in (self.client, self.censor, self.inet):
            await netns.delete_namespace(name)


def new_lab(directory: Path) -> Lab:
    """Return an unbuilt lab with a fresh `crct-<random>-` prefix.

    Not "crl...": `crenel-lab down` sweeps every namespace starting with lab.world's "crl", and
    a sweep running beside this suite would delete its namespaces mid-test.
    """
    return Lab(prefix=f"crct-{secrets.token_hex(3)}-", directory=directory)
