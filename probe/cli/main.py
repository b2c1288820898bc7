"""crenel-probe's entry point: parse flags, resolve settings, dispatch, map errors to exit codes.

Exit codes: 0 done (even when blocking was found), 2 bad input, 3 collector unreachable, 4 a
required privilege is missing, 70 a bug (traceback only with --debug), 130 interrupted.

Parsing imports only argparse and the subcommand modules, which import their heavy modules
(trio, httpx, dnspython, scapy, rich) when their handler runs: `--help` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from probe.cli import listing, measure, run, settings, upload
from probe.cli.options import flags_of
from probe.commandline import add_completion_command, add_version_flag
from probe.errors import ProbeError, first_leaf

EXIT_BUG = 70
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="crenel-probe",
        description="Measure whether websites are blocked from this network, and how.",
    )
    add_version_flag(parser)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    measure.add_parser(subparsers)
    run.add_parser(subparsers)
    upload.add_parser(subparsers)
    listing.add_parsers(subparsers)
    settings.add_parser(subparsers)
    completion = add_completion_command(subparsers, build_parser, "crenel-probe")
    completion.set_defaults(handler=lambda args: args.print_completion(args), needs_config=False)
    return parser


def _dispatch(args: argparse.Namespace) -> int:
    from probe.cli.consent import ensure_consent
    from probe.config import ConfigFile, environment, load_config, read_resolv_conf

    if getattr(args, "needs_config", True) is False:
        return int(args.handler(args))
    config = load_config(flags_of(args), environment(), resolv_conf=read_resolv_conf())
    if args.needs_consent:
        ensure_consent(
            ConfigFile(config.config_path),
            assume_yes=args.yes,
            interactive=sys.stdin.isatty() and sys.stdout.isatty(),
            ask=input,
            say=print,
        )
    handler: Any = args.handler
    if args.is_async:
        import trio

        return int(trio.run(handler, args, config))
    return int(handler(args, config))


def main(argv: Sequence[str] | None = None) -> int:
    """Run crenel-probe and return its exit code."""
    args = build_parser().parse_args(argv)
    import logging
    import traceback

    from probe.cli import render

    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "debug", False) else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        try:
            return _dispatch(args)
        except BaseExceptionGroup as group:
            raise first_leaf(group) from group
    except ProbeError as exc:
        print(render.error_line(exc.message), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(render.error_line("interrupted"), file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # the edge of the program: a bug is reported, never hidden
        if getattr(args, "debug", False):
            traceback.print_exc()
        print(
            render.error_line(
                f"internal error ({type(exc).__name__}): this is a bug; rerun with --debug and "
                "report it"
            ),
            file=sys.stderr,
        )
        return EXIT_BUG


def console_script() -> None:
    """Entry point of the `crenel-probe` command."""
    sys.exit(main())


if __name__ == "__main__":
    console_script()
