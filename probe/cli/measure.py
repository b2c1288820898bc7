"""`crenel-probe measure URL...`: measure URLs now, print a table (or JSON lines), store them."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from probe.cli.options import add_measuring_flags

if TYPE_CHECKING:
    from probe.config import ProbeConfig
    from probe.model import Measurement
    from probe.testlists import ListEntry


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    parser = subparsers.add_parser("measure", help="measure one or more URLs now")
    parser.add_argument("urls", nargs="+", metavar="URL")
    add_measuring_flags(parser)
    parser.set_defaults(handler=handle_measure, is_async=True, needs_consent=True)


def validate(urls: list[str]) -> list[ListEntry]:
    """Return the URLs as list entries.

    Raises:
        BadInputError: a URL is not an absolute http(s) URL with a valid host.
    """
    from probe.errors import BadInputError
    from probe.net import parse_web_url
    from probe.testlists import ListEntry

    for url in urls:
        try:
            parse_web_url(url)
        except ValueError as exc:
            raise BadInputError(f"cannot measure {url!r}: {exc}") from exc
    return [ListEntry(url=u) for u in urls]


async def handle_measure(args: argparse.Namespace, config: ProbeConfig) -> int:
    """Measure the URLs and return the exit code."""
    import trio

    from probe.batch import measure_batch
    from probe.cli import render
    from probe.store import AsyncStore, Store
    from probe.volunteer import collector_client, locate, open_session

    def warn(line: str) -> None:
        print(render.warning_line(line), file=sys.stderr)

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    entries = validate(args.urls)
    client = collector_client(config) if config.collector_url else None
    try:
        # The public address (behind NAT it is no interface's) is scrubbed too.
        located = await locate(client, config, needed=False, warn=warn)
    finally:
        if client is not None:
            with trio.move_on_after(5, shield=True):
                await client.aclose()
    extra = [located.address] if located and located.address else []
    network = located.network if located else None
    out = render.console()
    done: list[Measurement] = []
    with Store(config.store_path) as store:
        saver = AsyncStore(store)

        async def keep(measurement: Measurement) -> None:
            await saver.add(measurement)
            done.append(measurement)
            if args.json:
                print(render.json_line(measurement), flush=True)

        async with open_session(config, say=say, network=network, extra_addresses=extra) as session:
            if not args.json and config.control_url is None:
                out.print(
                    "[dim]No control configured (--control URL): verdicts rest on this "
                    "probe's own observations.[/dim]",
                    highlight=False,
                )
            with trio.CancelScope():
                await measure_batch(
                    session,
                    entries,
                    concurrency=config.concurrency,
                    per_host=config.per_host,
                    max_runtime_s=config.max_runtime_s,
                    on_result=keep,
                )
    if not args.json:
        order = {e.url: i for i, e in enumerate(entries)}
        render.print_table(
            out, render.results_table(sorted(done, key=lambda m: order.get(m.input, 0)))
        )
        if done and all(render.nothing_answered(m) for m in done):
            out.print(
                "Nothing answered (no DNS answer, no connection): this machine seems to "
                "be offline, so nothing could be concluded."
            )
    return 0
