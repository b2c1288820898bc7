"""`crenel-collector reanalyse`: analyse stored measurements again, in the data directory or by
asking a running collector."""

from __future__ import annotations

import argparse
import json
import sys

from collector.cli.options import (
    add_analysis_flags,
    add_json_flag,
    add_remote_flags,
    add_storage_flags,
    collector_config,
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `reanalyse`; return nothing."""
    again = sub.add_parser("reanalyse", help="analyse stored measurements again")
    again.add_argument(
        "--all",
        dest="everything",
        action="store_true",
        help="every measurement (default: those analysed with other rules or fingerprints)",
    )
    add_storage_flags(again)
    add_analysis_flags(again)
    add_remote_flags(again, "ask for re-analysis")
    add_json_flag(again, "the counts")
    again.set_defaults(handler=run_reanalyse)


async def run_reanalyse(args: argparse.Namespace) -> None:
    """Analyse stored measurements again and report how many."""
    import msgspec

    from collector.analyse.analyser import Analyser
    from collector.api.routes import API
    from collector.api.schemas import ReanalyseReply
    from collector.cli.admin import post_admin
    from collector.cli.datadir import open_storage
    from collector.core.metrics import Metrics
    from collector.runtime import reference_source
    from collector.storage import ThreadedStorage

    if args.url:
        body = msgspec.json.encode({"everything": args.everything})
        reply = await post_admin(args.url, args.admin_token_file, f"{API}/admin/reanalyse", body)
        result = msgspec.json.decode(reply, type=ReanalyseReply)
        if args.json:
            print(json.dumps({"flagged": result.flagged, "rules": result.rules_version}))
            return
        print(
            f"flagged {result.flagged} measurements; the running collector analyses them "
            f"with rules {result.rules_version}"
        )
        return
    config = collector_config(args)
    store = open_storage(config)
    try:
        storage = ThreadedStorage(store)
        workers = config.analysis_workers
        with Analyser(storage, reference_source(config), Metrics(), workers=workers) as analyser:
            flagged = await analyser.request(everything=args.everything)
            done = 0
            for _ in range(1_000_000):
                batch = await analyser.drain(max_batches=50)
                done += batch
                if batch == 0:
                    break
                if not args.json:
                    print(f"analysed {done} of {flagged}", file=sys.stderr, flush=True)
    finally:
        store.close()
    if args.json:
        print(json.dumps({"analysed": done, "rules": analyser.rules_version}))
    else:
        print(f"re-analysed {done} measurements with rules {analyser.rules_version}")
