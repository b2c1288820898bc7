"""Open a stopped collector's database for the commands that work on its data directory."""

from __future__ import annotations

from collector.cli.errors import EXIT_LOCKED, CliError
from collector.config import CollectorConfig
from collector.errors import DataDirLocked
from collector.storage import DuckDBStorage


def open_storage(config: CollectorConfig) -> DuckDBStorage:
    """Return the open database of `config`'s data directory; the caller closes it.

    Raises:
        CliError: a running collector holds the data directory (exit code 75).
    """
    try:
        return DuckDBStorage(config.database_path)
    except DataDirLocked as exc:
        raise CliError(
            f"{exc.detail}; stop it first, or use --url URL --admin-token-file FILE",
            EXIT_LOCKED,
        ) from exc
