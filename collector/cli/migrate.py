"""`crenel-collector migrate`: bring a database to this collector's schema and stop (before
starting several instances on a new PostgreSQL database, or after an upgrade)."""

from __future__ import annotations

import argparse
import json
from urllib.parse import urlsplit, urlunsplit

from collector.cli.options import add_json_flag, add_storage_flags, collector_config


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `migrate`; return nothing."""
    p = sub.add_parser(
        "migrate", help="apply the database's missing schema migrations (--store or --data-dir)"
    )
    add_storage_flags(p)
    add_json_flag(p, "the database migrated")
    p.set_defaults(handler=run_migrate)


def shown_url(url: str) -> str:
    """Return `url` without its password (what the command prints)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def run_migrate(args: argparse.Namespace) -> None:
    """Open the database (which applies the missing migrations) and close it."""
    from collector.cli.datadir import open_storage
    from collector.storage import database_url

    config = collector_config(args)
    url = config.store or database_url(config.database_path)
    open_storage(config, remedy="it migrates the database itself").close()
    if args.json:
        print(json.dumps({"store": shown_url(url), "migrated": True}))
        return
    print(f"{shown_url(url)} has the current schema")
