"""Remove what an earlier collector process left in the data directory: export files of
versions that wrote exports to disk first, and DuckDB's spill directory.

Runs before the database is opened (nothing else uses these paths then); never touches the
database or its WAL.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

logger = logging.getLogger(__name__)

EXPORT_PREFIX = "export-"
"""Temporary export directories (`export-XXXX`) of collectors that wrote exports to disk first."""


def remove_leftovers(data_dir: Path, database: Path) -> list[Path]:
    """Delete leftover export directories and the spill directory of `database`; return them."""
    if not data_dir.is_dir():
        return []
    found = [p for p in data_dir.iterdir() if p.name.startswith(EXPORT_PREFIX)]
    spill = database.with_name(database.name + ".tmp")  # DuckDB's default temp_directory
    if spill.exists():
        found.append(spill)
    for path in found:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        logger.info("removed %s left by an earlier run", path)
    return found
