"""`crenel-probe upload`: send every measurement still in the local outbox to the collector.

Exit 0 when everything pending went (or nothing was pending), 3 with one line when the
collector cannot be reached (the measurements stay pending), 2 without a collector. `--json`
prints what happened as one JSON object.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from probe.cli.options import add_collector_flag, add_common_flags, add_json_flag

if TYPE_CHECKING:
    from probe.config import ProbeConfig
    from probe.upload import UploadPolicy


def upload_policy() -> UploadPolicy:
    """Return the policy of `upload`: three tries a batch (waiting 1 s, then 2 s), so an
    unreachable collector is reported quickly."""
    from probe.upload import UploadPolicy

    return UploadPolicy(attempts=3, first_backoff_s=1.0, deadline_s=600.0)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    parser = subparsers.add_parser("upload", help="upload stored measurements not sent yet")
    add_collector_flag(parser)
    add_common_flags(parser)
    add_json_flag(parser, "the counts and refusals")
    parser.set_defaults(handler=handle_upload, is_async=True, needs_consent=False)


async def handle_upload(args: argparse.Namespace, config: ProbeConfig) -> int:
    """Upload the pending measurements and return the exit code.

    Raises:
        BadInputError: no collector is configured.
        CollectorUnreachable: the collector cannot be reached.
    """
    import trio

    from probe.cli import render
    from probe.errors import BadInputError
    from probe.store import Store
    from probe.upload import Uploader
    from probe.volunteer import collector_client

    if config.collector_url is None:
        raise BadInputError(
            "no collector configured: crenel-probe config set collector URL (or --collector URL)"
        )
    with Store(config.store_path) as store:
        client = collector_client(config)
        try:
            uploader = Uploader(store, config.collector_url, client, upload_policy())
            summary = await uploader.upload_pending()
        finally:
            with trio.move_on_after(5, shield=True):
                await client.aclose()
        pending = store.count(pending_only=True)
    if args.json:
        render.print_json(
            {
                "collector": config.collector_url,
                "uploaded": summary.uploaded,
                "pending": pending,
                "refused": [{"id": uid, "why": why} for uid, why in summary.refused],
            }
        )
        return 0
    out = render.console()
    line = f"uploaded {summary.uploaded} measurements to {config.collector_url}"
    out.print(line + (f"; {pending} still pending" if pending else ""), markup=False)
    for uid, why in summary.refused:
        out.print(render.warning_line(f"the collector refused {uid}: {why}"), markup=False)
    return 0
