"""compose.yaml, checked without a container engine: every service's command is one the image
runs, volumes and healthchecks are named and declared, and the collector's environment is
complete (a store URL the settings accept, naming the database service and its credentials)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from collector.cli.program import build_parser
from collector.config import load_collector_config
from tests.test_dockerfile import STAGES, command_words, env_of

ROOT = Path(__file__).resolve().parents[1]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
PASSWORD = "compose-test-password"
_VARIABLE = re.compile(r"\$\{([A-Z_]+)(?::\?[^}]*)?\}")


def substituted(text: str) -> str:
    """Return `text` with ${VAR:?...} replaced as compose would, for a set password."""
    return _VARIABLE.sub(lambda m: PASSWORD if m.group(1) == "CRENEL_DB_PASSWORD" else "", text)


def collector_services() -> list[str]:
    return [n for n, s in SERVICES.items() if s.get("image") == "crenel-collector"]


def test_the_collector_image_is_built_from_the_dockerfile_collector_target() -> None:
    builds = [s["build"] for s in SERVICES.values() if "build" in s]
    assert builds == [{"context": ".", "target": "collector"}]
    assert "collector" in STAGES
    assert set(collector_services()) == {"migrate", "collector"}


@pytest.mark.parametrize("service", ["migrate", "collector"])
def test_each_collector_service_runs_a_command_the_image_has(service: str) -> None:
    command = SERVICES[service]["command"]
    [entrypoint] = command_words(STAGES["collector"].last("ENTRYPOINT"))
    assert entrypoint == "crenel-collector"
    args = build_parser().parse_args(command)
    assert args.command == command[0]


@pytest.mark.parametrize("service", ["migrate", "collector"])
def test_the_collector_environment_is_complete(service: str) -> None:
    env = {k: substituted(str(v)) for k, v in SERVICES[service]["environment"].items()}
    image_env = {k: v for k, v in env_of(STAGES["collector"]).items() if k.startswith("CRENEL_")}
    config = load_collector_config({}, {**image_env, **env})
    assert config.store is not None
    url = urlsplit(config.store)
    database = SERVICES["postgres"]["environment"]
    assert url.scheme == "postgresql" and url.hostname == "postgres" and url.port == 5432
    assert url.username == database["POSTGRES_USER"]
    assert url.path == "/" + database["POSTGRES_DB"]
    assert url.password == substituted(database["POSTGRES_PASSWORD"]) == PASSWORD
    if service == "collector":
        assert config.listen == ("0.0.0.0", 8080)


def test_every_volume_is_named_declared_and_mounted_where_the_image_keeps_data() -> None:
    declared = set(COMPOSE["volumes"])
    mounted = {
        volume.split(":")[0]: volume.split(":")[1]
        for service in SERVICES.values()
        for volume in service.get("volumes", [])
    }
    assert set(mounted) == declared
    assert all(not name.startswith(("/", ".")) for name in mounted)
    assert mounted["collector-data"] == "/data"  # the image's VOLUME and CRENEL_COLLECTOR_DATA_DIR
    assert mounted["postgres-data"] == "/var/lib/postgresql/data"


def test_long_running_services_have_healthchecks_and_start_in_order() -> None:
    for name in ("postgres", "collector"):
        test = SERVICES[name]["healthcheck"]["test"]
        assert test[0] == "CMD" and len(test) > 1
    collector_check = " ".join(SERVICES["collector"]["healthcheck"]["test"])
    assert "/api/v1/health" in collector_check and ":8080/" in collector_check
    assert SERVICES["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert SERVICES["collector"]["depends_on"] == {
        "migrate": {"condition": "service_completed_successfully"}
    }
    assert SERVICES["collector"]["ports"] == ["8080:8080"]
    assert "ports" not in SERVICES["postgres"]  # the database is not published
