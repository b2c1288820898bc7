"""`crenel-collector testlists import`: replace the test lists probes get at check-in, in the data
directory or on a running collector."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from collector.cli.options import (
    add_json_flag,
    add_remote_flags,
    add_storage_flags,
    collector_config,
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `testlists` and its `import` action; return nothing."""
    lists = sub.add_parser("testlists", help="manage the test lists probes get at check-in")
    actions = lists.add_subparsers(dest="action", required=True, metavar="ACTION")
    importer = actions.add_parser(
        "import", help="replace the test lists with a Citizen Lab test-lists checkout"
    )
    importer.add_argument("path", metavar="PATH", help="the checkout, or its lists/ directory")
    add_storage_flags(importer)
    add_remote_flags(importer, "import")
    add_json_flag(importer, "the counts")
    importer.set_defaults(handler=run_import)


def run_import(args: argparse.Namespace) -> None:
    """Replace the test lists with those of a checkout."""
    import msgspec
    import trio

    from collector.api.routes import API
    from collector.api.schemas import TestListImport, TestListImportReply
    from collector.cli.admin import post_admin
    from collector.cli.datadir import open_storage
    from collector.ingest.test_lists import read_checkout

    urls = read_checkout(Path(args.path))
    origin = str(Path(args.path).resolve())
    if args.url:
        body = msgspec.json.encode(TestListImport(origin=origin, urls=urls))
        reply = trio.run(
            post_admin, args.url, args.admin_token_file, f"{API}/admin/test-lists", body
        )
        stored = msgspec.json.decode(reply, type=TestListImportReply).stored
    else:
        store = open_storage(collector_config(args))
        try:
            stored = store.replace_test_lists(urls, origin)
        finally:
            store.close()
    countries = len({u.cc for u in urls if u.cc})
    if args.json:
        print(json.dumps({"imported": stored, "countries": countries, "source": args.path}))
        return
    print(f"imported {stored} URLs (global and {countries} country lists) from {args.path}")
