"""A fresh virtual environment with `pip install crenel` (the probe alone) measures a loopback
site and stays small; the collector and lab programs name their extra until it is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest
import trio

from lab.servers import Route, Site, html_page, serve_web
from probe.model import Measurement
from probe.references import BUNDLED_FILES, BUNDLED_VERSION

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
PROBE_ONLY_LIMIT_MB = 120
INSTALL_TIMEOUT_S = 600
RUN_TIMEOUT_S = 60
# The extras' distributions: none of them may reach a probe-only environment.
EXTRA_DISTRIBUTIONS = {
    "starlette",
    "hypercorn",
    "duckdb",
    "pyarrow",
    "zstandard",
    "prometheus-client",
    "numpy",
    "scipy",
    "mmdb-writer",
}
NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    "artifacts",
)
OFFLINE = ["--no-system-resolver", "--resolver", "off", "--doh", "off"]


@dataclass(frozen=True)
class ProbeVenv:
    """A virtual environment with the probe alone, and the wheel it was installed from."""

    path: Path
    wheel: Path
    size_mb: float

    def program(self, name: str) -> str:
        return str(self.path / "bin" / name)


def run(command: Sequence[str | Path], timeout_s: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def run_ok(command: Sequence[str | Path], timeout_s: float) -> str:
    done = run(command, timeout_s)
    assert done.returncode == 0, f"{command} exited {done.returncode}: {done.stderr[-3000:]}"
    return done.stdout


def disk_mb(path: Path) -> float:
    """Return the disk space under `path` in MiB, as `du -sk` counts it."""
    return int(run_ok(["du", "-sk", path], RUN_TIMEOUT_S).split()[0]) / 1024


def pip_install(venv: Path, requirement: str) -> None:
    run_ok(
        [venv / "bin" / "python", "-m", "pip", "install", "--quiet", requirement], INSTALL_TIMEOUT_S
    )


@pytest.fixture(scope="module")
def probe_venv(tmp_path_factory: pytest.TempPathFactory) -> ProbeVenv:
    """Build a wheel from a copy of the source (the worktree stays clean) and install it alone."""
    work = tmp_path_factory.mktemp("packaging")
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    venv = work / "venv"
    run_ok([sys.executable, "-m", "venv", venv], RUN_TIMEOUT_S)
    wheels = work / "wheels"
    run_ok(
        [
            venv / "bin" / "python",
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            wheels,
            source,
        ],
        INSTALL_TIMEOUT_S,
    )
    (wheel,) = wheels.glob("crenel-*.whl")
    pip_install(venv, str(wheel))
    return ProbeVenv(path=venv, wheel=wheel, size_mb=disk_mb(venv))


def test_the_probe_alone_installs_no_extra_and_fits_in_120_mb(probe_venv: ProbeVenv) -> None:
    listing = run_ok(
        [
            probe_venv.path / "bin" / "python",
            "-c",
            "import importlib.metadata as m; print('\\n'.join(d.metadata['Name'] for d in m.distributions()))",
        ],
        RUN_TIMEOUT_S,
    )
    installed = {name.strip().lower().replace("_", "-") for name in listing.splitlines()}
    assert "crenel" in installed and "scapy" in installed
    assert installed.isdisjoint(EXTRA_DISTRIBUTIONS), installed & EXTRA_DISTRIBUTIONS
    assert probe_venv.size_mb <= PROBE_ONLY_LIMIT_MB


def test_the_wheel_ships_the_license(probe_venv: ProbeVenv) -> None:
    with zipfile.ZipFile(probe_venv.wheel) as wheel:
        shipped = wheel.read(f"crenel-{VERSION}.dist-info/licenses/LICENSE")
    assert shipped == (ROOT / "LICENSE").read_bytes()


def test_the_wheel_ships_the_fingerprint_set_with_its_attribution(probe_venv: ProbeVenv) -> None:
    with zipfile.ZipFile(probe_venv.wheel) as wheel:
        names = set(wheel.namelist())
        notice = wheel.read("probe/fingerprints/NOTICE").decode()
    for name in (*(f for f, _ in BUNDLED_FILES), "NOTICE", "LICENSE-Apache-2.0"):
        assert f"probe/fingerprints/{name}" in names
    assert "Apache License, Version 2.0" in notice and "censoredplanet-analysis" in notice
    assert not any("fingerprints_http" in n or "fingerprints_dns" in n for n in names)


async def test_the_probe_alone_measures_a_loopback_site_as_json(
    probe_venv: ProbeVenv, nursery: trio.Nursery, tmp_path: Path
) -> None:
    page = html_page("Packaging check", "Served on loopback for the probe-only install. " * 5)
    site = Site(host="127.0.0.1", routes={"/": Route(body=page)})
    port = await nursery.start(serve_web, [site])
    url = f"http://127.0.0.1:{port}/"
    env = {name: value for name, value in os.environ.items() if not name.startswith("CRENEL_")}
    env |= {
        "CRENEL_CONFIG": str(tmp_path / "probe.toml"),
        "CRENEL_DATA_DIR": str(tmp_path / "data"),
    }
    command = [probe_venv.program("crenel-probe"), "measure", "--yes", "--json", *OFFLINE, url]
    with trio.fail_after(RUN_TIMEOUT_S):
        done = await trio.run_process(
            command, capture_stdout=True, capture_stderr=True, check=False, env=env
        )
    assert done.returncode == 0, done.stderr.decode()
    lines = done.stdout.decode().strip().splitlines()
    assert len(lines) == 1
    measurement = msgspec.json.decode(lines[0], type=Measurement)
    assert measurement.input == url
    response = measurement.http[0].response
    assert response is not None and response.status_code == 200
    assert "Packaging check" in (response.body_prefix or "")
    # The shipped fingerprint set was found and used without any extra file.
    used = measurement.analysis.fingerprint_set
    assert used is not None and used.version == BUNDLED_VERSION


def assert_names_extra(program: str, extra: str) -> None:
    done = run([program, "--help"], RUN_TIMEOUT_S)
    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    name = Path(program).name
    assert line.startswith(f"{name} needs the {extra} extra (no module named ")
    assert line.endswith(f"pip install 'crenel[{extra}]'")


def assert_runs(program: str) -> None:
    done = run([program, "--help"], RUN_TIMEOUT_S)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: ")


def test_collector_and_lab_name_their_extra_until_it_is_installed(probe_venv: ProbeVenv) -> None:
    collector, lab = probe_venv.program("crenel-collector"), probe_venv.program("crenel-lab")
    assert_names_extra(collector, "collector")
    assert_names_extra(lab, "lab")

    pip_install(probe_venv.path, f"{probe_venv.wheel}[collector]")
    assert_runs(collector)
    assert_names_extra(lab, "lab")

    pip_install(probe_venv.path, f"{probe_venv.wheel}[lab]")
    assert_runs(lab)
    assert_runs(collector)
