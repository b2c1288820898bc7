"""The console-script launchers check exactly the modules of the extras pyproject.toml declares,
and the extras nest as documented: lab includes collector, all includes both, test includes all."""

from __future__ import annotations

import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from collector import launcher as collector_launcher
from lab import launcher as lab_launcher

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
EXTRAS: dict[str, list[str]] = PYPROJECT["project"]["optional-dependencies"]


def extra_distributions(extra: str) -> set[str]:
    """Return the distributions an extra installs beyond the base, following crenel[...] links."""
    names: set[str] = set()
    for text in EXTRAS[extra]:
        requirement = Requirement(text)
        if canonicalize_name(requirement.name) == "crenel":
            for nested in requirement.extras:
                names |= extra_distributions(nested)
        else:
            names.add(canonicalize_name(requirement.name))
    return names


def distributions_of(modules: tuple[str, ...]) -> set[str]:
    owners = packages_distributions()
    return {canonicalize_name(owners[module][0]) for module in modules}


@pytest.mark.parametrize(
    ("extra", "modules"),
    [
        ("collector", collector_launcher.EXTRA_MODULES),
        ("lab", lab_launcher.EXTRA_MODULES),
    ],
    ids=["collector", "lab"],
)
def test_a_launcher_checks_every_distribution_of_its_extra(
    extra: str, modules: tuple[str, ...]
) -> None:
    assert distributions_of(modules) == extra_distributions(extra)


def test_the_lab_extra_includes_the_collector_extra_its_worlds_run() -> None:
    assert extra_distributions("collector") < extra_distributions("lab")


def test_all_is_every_extra_and_test_pulls_in_all() -> None:
    every = extra_distributions("collector") | extra_distributions("lab")
    assert extra_distributions("all") == every
    assert every < extra_distributions("test")


def test_the_base_install_has_none_of_the_extras() -> None:
    base = {
        canonicalize_name(Requirement(text).name) for text in PYPROJECT["project"]["dependencies"]
    }
    assert base.isdisjoint(extra_distributions("all"))


@pytest.mark.parametrize("launcher", [collector_launcher, lab_launcher], ids=["collector", "lab"])
def test_with_every_extra_installed_nothing_is_missing(launcher: ModuleType) -> None:
    assert launcher.missing_modules() == []


def test_the_console_scripts_start_at_the_launchers() -> None:
    scripts = PYPROJECT["project"]["scripts"]
    assert scripts["crenel-collector"] == "collector.launcher:console_script"
    assert scripts["crenel-lab"] == "lab.launcher:console_script"
