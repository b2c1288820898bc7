"""Open a stopped collector's database for the commands that work on its data directory."""

from __future__ import annotations

from typing import TYPE_CHECKING

from collector.cli.errors import EXIT_LOCKED, EXIT_STORAGE, CliError

if TYPE_CHECKING:
    from collector.config import CollectorConfig
    from collector.storage import Storage

REMOTE_REMEDY = "or use --url URL --admin-token-file FILE"
"""What works instead for the commands that can ask a running collector with the admin token."""


def open_storage(config: CollectorConfig, remedy: str = REMOTE_REMEDY) -> Storage:
    """Return the open database of `config`'s data directory; the caller closes it.

    `remedy` ends the error when a running collector holds the directory: what works instead
    for this command.

    Raises:
        CliError: a running collector holds the data directory (exit code 75), or it cannot
            be made (exit code 74).
    """
    from collector.core.errors import DataDirLocked
    from collector.storage import database_url, open_backend

    try:
        return open_backend(
            config.store or database_url(config.database_path),
            memory_mb=config.limits.db_memory_mb,
            threads=config.limits.db_threads,
        )
    except DataDirLocked as exc:
        raise CliError(f"{exc.detail}; stop it first, {remedy}", EXIT_LOCKED) from exc
    except OSError as exc:  # e.g. --data-dir names a file
        where = config.database_path.parent
        raise CliError(
            f"cannot use {where} as the data directory: {exc.strerror}", EXIT_STORAGE
        ) from exc
