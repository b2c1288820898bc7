"""A throw-away PostgreSQL 15 cluster for tests: initdb into a temporary directory, served on
127.0.0.1 at a free port by an unprivileged user, stopped and removed afterwards.

initdb and postgres refuse to run as root, so as root the cluster belongs to the `postgres`
user (Debian's package creates it) or, failing that, `nobody`. Without root and without the
server binaries, `pg_skip_reason` says why the PostgreSQL tests skip.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PG_BIN_DIRS = (
    *sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True
    ),
    Path("/usr/local/bin"),
)
START_TIMEOUT_S = 30


def _binary(name: str) -> str | None:
    for directory in PG_BIN_DIRS:
        if (directory / name).is_file():
            return str(directory / name)
    return shutil.which(name)  # Debian puts the server's binaries off PATH: usually None


def _server_user() -> pwd.struct_passwd | None:
    """Return the unprivileged user the cluster runs as (None: the current, non-root user)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("no unprivileged user (postgres or nobody) to run PostgreSQL as")


def pg_skip_reason() -> str | None:
    """Return why a PostgreSQL cluster cannot be started here, or None if it can."""
    missing = [n for n in ("initdb", "pg_ctl", "postgres") if _binary(n) is None]
    if missing:
        return f"PostgreSQL server binaries not found ({', '.join(missing)}): apt install postgresql-15"
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        return "needs setpriv (util-linux) to run PostgreSQL as an unprivileged user"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresCluster:
    """A running throw-away cluster: its directory, port and superuser."""

    root: Path
    port: int
    user: str

    def url(self, database: str = "postgres") -> str:
        """Return a libpq URL of `database` on this cluster."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "crenel") -> str:
        """Create an empty database; return its URL."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _as_user(user: pwd.struct_passwd | None, argv: list[str]) -> list[str]:
    if user is None:
        return argv
    return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", *argv]


def _start(root: Path, user: pwd.struct_passwd | None, env: dict[str, str]) -> PostgresCluster:
    """Initialise and start a cluster in `root`; return it."""
    data = root / "data"
    if user is not None:
        os.chown(root, user.pw_uid, user.pw_gid)
    superuser = "crenel"
    subprocess.run(
        _as_user(user, [str(_binary("initdb")), "-D", str(data), "-U", superuser,
                        "--auth=trust", "-E", "UTF8", "--no-instructions"]),
        check=True, capture_output=True, env=env, timeout=120, cwd=root,
    )  # fmt: skip
    port = _free_port()
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c max_connections=200"
    subprocess.run(
        _as_user(user, [str(_binary("pg_ctl")), "-D", str(data), "-l", str(root / "log"),
                        "-o", options, "-w", "-t", str(START_TIMEOUT_S), "start"]),
        check=True, capture_output=True, env=env, timeout=START_TIMEOUT_S + 10, cwd=root,
    )  # fmt: skip
    return PostgresCluster(root=root, port=port, user=superuser)


def _stop(root: Path, user: pwd.struct_passwd | None, env: dict[str, str]) -> None:
    subprocess.run(
        _as_user(user, [str(_binary("pg_ctl")), "-D", str(root / "data"), "-m", "immediate",
                        "-w", "stop"]),
        capture_output=True, env=env, timeout=60, cwd=root, check=False,
    )  # fmt: skip


def kept_cluster(prefix: str) -> PostgresCluster:
    """Start a cluster in a new temporary directory and leave it running (for a bench that
    reuses its data across runs); return it. `remove_cluster` stops and removes it."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        return _start(root, _server_user(), {**os.environ, "LC_ALL": "C", "TZ": "UTC"})
    except BaseException:
        remove_cluster(root)
        raise


def remove_cluster(root: Path) -> None:
    """Stop the cluster in `root` (if running) and remove its directory."""
    _stop(root, _server_user(), {**os.environ, "LC_ALL": "C", "TZ": "UTC"})
    shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def running_cluster(prefix: str = "crenel-pg-") -> Iterator[PostgresCluster]:
    """Start a cluster in a new temporary directory; stop it and remove the directory on exit,
    even when the body fails."""
    user = _server_user()
    root = Path(tempfile.mkdtemp(prefix=prefix))
    env = {**os.environ, "LC_ALL": "C", "TZ": "UTC"}
    started = False
    try:
        cluster = _start(root, user, env)
        started = True
        yield cluster
    finally:
        if started:
            _stop(root, user, env)
        shutil.rmtree(root, ignore_errors=True)
