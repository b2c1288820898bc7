"""crenel-lab's console-script entry point: checks that the lab extra (which includes the
collector's) is installed before importing the command line, so a probe-only install gets one
line, not an ImportError."""

from __future__ import annotations

from importlib.util import find_spec

from probe.commandline import exit_unless_installed

# Import names of the `lab` extra in pyproject.toml, with the `collector` extra it pulls in: the
# lab's worlds run crenel-collector (tests/packaging/test_extras.py keeps this in step).
EXTRA_MODULES = (
    "mmdb_writer",
    "starlette",
    "hypercorn",
    "duckdb",
    "pyarrow",
    "zstandard",
    "prometheus_client",
    "numpy",
    "isal",
)
NEEDS_EXTRA = "crenel-lab needs the lab extra (no module named {module}): pip install 'crenel[lab]'"


def missing_modules() -> list[str]:
    """Return the lab extra's modules that cannot be found, in EXTRA_MODULES order."""
    return [name for name in EXTRA_MODULES if find_spec(name) is None]


def console_script() -> None:
    """Run crenel-lab, or exit 2 with one line naming the extra to install."""
    exit_unless_installed(EXTRA_MODULES, NEEDS_EXTRA)
    from lab.cli import console_script as run_lab

    run_lab()
