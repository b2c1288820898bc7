"""nginx (Debian's package) as the round-robin front of collector instances on loopback, for
tests: a throw-away configuration in a directory of the test's own, nginx run in the foreground
until cancelled, and which instance served each request read from its access log."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import trio

LOOPBACK = "127.0.0.1"
START_TIMEOUT_S = 10.0

_CONFIG = """
{user}
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 256; }}
http {{
    log_format upstreams '$status $upstream_addr';
    access_log {root}/access.log upstreams;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    client_max_body_size 0;
    upstream collectors {{
{servers}
    }}
    server {{
        listen {LOOPBACK}:{port};
        location / {{
            proxy_pass http://collectors;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_next_upstream error timeout;
            proxy_request_buffering off;
        }}
    }}
}}
"""


def nginx_skip_reason() -> str | None:
    """Return why the nginx front cannot run here (no nginx binary), or None."""
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        return "nginx is not installed (Debian: apt-get install nginx-light)"
    return None


def _binary() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


class NginxFront:
    """nginx balancing over `ports` round-robin, its files under `root`."""

    def __init__(self, root: Path, ports: list[int]) -> None:
        self.root = root
        self.ports = ports

    async def serve(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Start nginx on a free loopback port, report the port once it accepts connections,
        and run it until cancelled (then it is terminated, killed if it lingers)."""
        self.root.mkdir(parents=True, exist_ok=True)
        port = _free_port()
        # max_fails=0: a killed instance is skipped per connection (refused), never benched.
        servers = "\n".join(f"        server {LOOPBACK}:{p} max_fails=0;" for p in self.ports)
        config = self.root / "nginx.conf"
        config.write_text(
            _CONFIG.format(
                user="user root root;" if os.geteuid() == 0 else "",  # workers read our files
                root=self.root,
                servers=servers,
                port=port,
                LOOPBACK=LOOPBACK,
            )
        )
        argv = [_binary(), "-p", str(self.root), "-c", str(config), "-e", str(self.root / "e.log")]
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio.run_process, argv)  # cancelled with the nursery: terminated
            with trio.fail_after(START_TIMEOUT_S):
                while True:
                    try:
                        stream = await trio.open_tcp_stream(LOOPBACK, port)
                    except OSError:
                        await trio.sleep(0.05)
                        continue
                    await stream.aclose()
                    break
            task_status.started(port)

    def served(self) -> dict[int, int]:
        """Return how many logged requests each instance's port answered (the last upstream
        nginx tried for a request is the one that answered)."""
        counts = dict.fromkeys(self.ports, 0)
        log = self.root / "access.log"
        for line in log.read_text().splitlines() if log.exists() else []:
            _, _, upstreams = line.partition(" ")
            port = upstreams.split(",")[-1].strip().rsplit(":", 1)[-1]
            if port.isdigit() and int(port) in counts:
                counts[int(port)] += 1
        return counts
