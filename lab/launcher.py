"""crenel-lab's console-script entry point: checks that the lab extra (which includes the
collector's) is installed before importing the command line, so a probe-only install gets one
line, not an ImportError."""

from __future__ import annotations

import sys
from importlib.util import find_spec

EXIT_BAD_INPUT = 2
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
)
NEEDS_EXTRA = "crenel-lab needs the lab extra (no module named {module}): pip install 'crenel[lab]'"


def missing_modules() -> list[str]:
    """Return the lab extra's modules that cannot be found, in EXTRA_MODULES order."""
    return [name for name in EXTRA_MODULES if find_spec(name) is None]


def console_script() -> None:
    """Run crenel-lab, or exit 2 with one line naming the extra to install."""
    missing = missing_modules()
    if missing:
        print(NEEDS_EXTRA.format(module=missing[0]), file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    from lab.cli import console_script as run_lab

    run_lab()
