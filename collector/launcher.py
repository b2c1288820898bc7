"""crenel-collector's console-script entry point: checks that the collector extra is installed
before importing the command line, so a probe-only install gets one line, not an ImportError."""

from __future__ import annotations

from importlib.util import find_spec

from probe.commandline import exit_unless_installed

# Import names of the `collector` extra in pyproject.toml (tests/packaging/test_extras.py).
EXTRA_MODULES = (
    "starlette",
    "hypercorn",
    "duckdb",
    "pyarrow",
    "zstandard",
    "prometheus_client",
    "numpy",
    "isal",
)
NEEDS_EXTRA = (
    "crenel-collector needs the collector extra (no module named {module}): "
    "pip install 'crenel[collector]'"
)


def missing_modules() -> list[str]:
    """Return the collector extra's modules that cannot be found, in EXTRA_MODULES order."""
    return [name for name in EXTRA_MODULES if find_spec(name) is None]


def console_script() -> None:
    """Run crenel-collector, or exit 2 with one line naming the extra to install."""
    exit_unless_installed(EXTRA_MODULES, NEEDS_EXTRA)
    from collector.cli import console_script as run_collector

    run_collector()
