"""The Dockerfile, checked without an engine: stages, copied paths, users, entrypoints, ports.

Its instructions are read with a small parser (comments, line continuations, JSON or shell form)
and held against the repository: pyproject's console scripts and extras, the collector's own
settings parser and health route, the probe's data directory, and .dockerignore.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from collector.api.routes import API, ENDPOINTS
from collector.config import DEFAULT_LISTEN, load_collector_config
from probe.config.sources import default_data_dir

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
RUNTIME_EXTRAS = {"collector", "lab", "all", "postgres"}
IMAGES = {
    "probe": ("crenel-probe", ()),
    "collector": ("crenel-collector", ("collector", "postgres")),
}


@dataclass
class Stage:
    """One FROM ... AS name block: its base and its instructions in order."""

    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for key, args in self.instructions if key == keyword]

    def last(self, keyword: str) -> str:
        found = self.all(keyword)
        assert found, f"stage {self.name} has no {keyword}"
        return found[-1]


def parse_instructions(text: str) -> list[tuple[str, str]]:
    """Return (KEYWORD, arguments) per instruction, continuations joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        keyword, _, args = whole.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def parse_stages(text: str) -> dict[str, Stage]:
    """Return the stages by name (every FROM must be named)."""
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for keyword, args in parse_instructions(text):
        if keyword == "FROM":
            match = re.fullmatch(r"(\S+) AS (\S+)", args, re.IGNORECASE)
            assert match, f"unnamed stage: FROM {args}"
            current = Stage(name=match.group(2), base=match.group(1))
            stages[current.name] = current
        elif current is not None:
            current.instructions.append((keyword, args))
        else:
            assert keyword == "ARG", f"{keyword} before the first FROM"
    return stages


def command_words(args: str) -> list[str]:
    """Return an ENTRYPOINT/CMD/RUN argument list, JSON (exec) form or shell form."""
    return list(json.loads(args)) if args.startswith("[") else shlex.split(args)


def env_of(stage: Stage) -> dict[str, str]:
    """Return the ENV a stage sets (KEY=VALUE pairs; $PATH left as written)."""
    env: dict[str, str] = {}
    for args in stage.all("ENV"):
        for word in shlex.split(args):
            key, _, value = word.partition("=")
            env[key] = value
    return env


def chain(stages: dict[str, Stage], name: str) -> list[Stage]:
    """Return the stage and the named stages it is built FROM, nearest first."""
    found = [stages[name]]
    while found[-1].base in stages:
        found.append(stages[found[-1].base])
    return found


STAGES = parse_stages(DOCKERFILE.read_text())


def test_every_stage_and_the_two_targets_exist() -> None:
    assert {"probe", "collector"} <= set(STAGES)
    assert all(s.base in STAGES or s.base.startswith("${PYTHON_IMAGE}") for s in STAGES.values())
    default_base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE)
    assert default_base and default_base.group(1).startswith("python:3.11-slim")


def _ignored(path: str, patterns: list[str]) -> bool:
    """Return whether .dockerignore leaves `path` out of the build context (last match wins)."""
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        glob = pattern.removeprefix("!").rstrip("/")
        if fnmatch.fnmatch(path, glob) or path.startswith(glob + "/"):
            ignored = not negated
    return ignored


def test_every_copied_path_exists_and_is_in_the_build_context() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copies = [(s, args) for s in STAGES.values() for args in s.all("COPY")]
    assert copies
    for stage, args in copies:
        words = args.split()
        sources = words[:-1]
        origin = [w for w in sources if w.startswith("--from=")]
        if origin:
            assert origin[0].removeprefix("--from=") in STAGES, args
            continue
        for source in sources:
            assert (ROOT / source).exists(), f"{stage.name}: COPY {source} does not exist"
            assert not _ignored(source.rstrip("/"), patterns), f".dockerignore drops {source}"
    assert _ignored(".venv", patterns) and _ignored("tests", patterns)


def _installed_extras(stage: Stage) -> tuple[str, ...]:
    [install] = [a for a in stage.all("RUN") if "pip install" in a]
    target = command_words(install.split("pip install", 1)[1])[-1]
    match = re.fullmatch(r"\.(?:\[([a-z,]+)\])?", target)
    assert match, f"{stage.name} installs {target!r}, not this checkout"
    return tuple(match.group(1).split(",")) if match.group(1) else ()


@pytest.mark.parametrize("image", sorted(IMAGES))
def test_image_runs_an_installed_console_script_as_a_non_root_user(image: str) -> None:
    stage = STAGES[image]
    script, extras = IMAGES[image]
    user = stage.last("USER").split(":")[0]
    assert user not in {"root", "0"}
    assert re.search(rf"useradd [^&]*--uid [1-9]\d* [^&]* {user}\b", STAGES["base"].last("RUN"))
    [entrypoint] = command_words(stage.last("ENTRYPOINT"))
    assert entrypoint == script and script in PYPROJECT["project"]["scripts"]
    [copy] = [a for a in stage.all("COPY") if a.startswith("--from=")]
    build = STAGES[copy.split()[0].removeprefix("--from=")]
    assert _installed_extras(build) == extras
    venv = copy.split()[-1]
    assert env_of(stage)["PATH"].startswith(f"{venv}/bin:")


def test_extras_the_images_install_are_declared() -> None:
    declared = set(PYPROJECT["project"].get("optional-dependencies", {}))
    if not declared & RUNTIME_EXTRAS:
        pytest.skip("pyproject declares no runtime extras yet (packaging lands separately)")
    for _, extras in IMAGES.values():
        assert set(extras) <= declared


def test_collector_listens_on_all_addresses_at_the_exposed_port_and_keeps_data_in_its_volume() -> (
    None
):
    stage = STAGES["collector"]
    env = {k: v for k, v in env_of(stage).items() if k.startswith("CRENEL_")}
    config = load_collector_config({}, env)
    [port] = stage.all("EXPOSE")
    assert config.listen == ("0.0.0.0", int(port))
    assert int(port) == DEFAULT_LISTEN[1]
    assert [str(config.data_dir)] == json.loads(stage.last("VOLUME"))
    assert command_words(stage.last("CMD")) == ["serve"]


def test_collector_healthcheck_asks_the_health_route_on_the_exposed_port() -> None:
    stage = STAGES["collector"]
    healthcheck = stage.last("HEALTHCHECK")
    words = command_words(healthcheck.split(" CMD ", 1)[1])
    url = f"http://127.0.0.1:{stage.last('EXPOSE')}{API}/health"
    assert url in " ".join(words)
    assert any(e.path == f"{API}/health" and e.method == "GET" for e in ENDPOINTS)
    assert words[0] == "python3"  # the slim base has no curl or wget


def test_probe_keeps_its_store_in_its_volume_and_has_libpcap() -> None:
    stage = STAGES["probe"]
    assert [str(default_data_dir(env_of(stage)))] == json.loads(stage.last("VOLUME"))
    assert any("libpcap0.8" in run for run in stage.all("RUN"))


def test_readme_documents_both_targets_and_the_packet_evidence_capabilities() -> None:
    section = (ROOT / "README.md").read_text().split("## Container images", 1)[1]
    section = section.split("\n## ", 1)[0]
    assert "--target probe" in section and "--target collector" in section
    assert "--cap-add NET_RAW --cap-add NET_ADMIN" in section
    assert f"-p {DEFAULT_LISTEN[1]}:{DEFAULT_LISTEN[1]}" in section
