"""crenel-collector's entry point: parse flags, run the chosen command, map errors to exit codes.

Commands: `serve` (the whole API), `helper` (the control alone), `testlists import`,
`reanalyse`, `export`, `report`, `import-ooni`, `migrate` (schema migrations alone) and
`copy` (DuckDB into PostgreSQL). The five before `migrate` work on a stopped collector's data
directory, or (the imports and reanalyse with the admin token, report and import-ooni without)
on a running one over HTTP.

Exit codes: 0 done, 2 bad input, 3 the collector (for --url) is unreachable, 4 a required
privilege is missing, 69 the address is in use, 70 a bug (traceback only with --debug), 74 the
database cannot be opened or written, 75 the data directory is in use by a running collector,
130 interrupted.

Parsing imports only argparse and the light command modules; each handler imports its heavy
modules (trio, hypercorn, DuckDB, pyarrow) when it runs, so `--help` stays fast.
"""

from __future__ import annotations

import argparse
import errno
import inspect
import sys
from collections.abc import Sequence

from collector.cli import (
    copy_store,
    export,
    import_ooni,
    migrate,
    reanalyse,
    report,
    serve,
    testlists,
)
from collector.cli.errors import EXIT_LOCKED, EXIT_STORAGE, CliError
from collector.core.errors import CollectorError, DataDirLocked, StorageUnavailable
from probe.commandline import add_completion_command, add_version_flag
from probe.errors import first_leaf


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="crenel-collector", description="Crenel's central service and test helper."
    )
    add_version_flag(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve.add_parsers(sub)
    testlists.add_parser(sub)
    reanalyse.add_parser(sub)
    export.add_parser(sub)
    report.add_parser(sub)
    import_ooni.add_parser(sub)
    migrate.add_parser(sub)
    copy_store.add_parser(sub)
    completion = add_completion_command(sub, build_parser, "crenel-collector")
    completion.set_defaults(handler=lambda args: args.print_completion(args))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run crenel-collector and return its exit code."""
    args = build_parser().parse_args(argv)
    import logging
    import traceback

    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "debug", False) else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        try:
            if inspect.iscoroutinefunction(args.handler):
                import trio

                trio.run(args.handler, args)
            else:
                args.handler(args)
        except BaseExceptionGroup as group:
            raise first_leaf(group) from group
        return 0
    except CliError as exc:
        print(f"crenel-collector: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except DataDirLocked as exc:
        print(f"crenel-collector: error: {exc.detail}", file=sys.stderr)
        return EXIT_LOCKED
    except StorageUnavailable as exc:
        print(f"crenel-collector: error: {exc.detail}", file=sys.stderr)
        return EXIT_STORAGE
    except CollectorError as exc:
        print(f"crenel-collector: error: {exc.detail}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 2))
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(f"crenel-collector: error: cannot listen: {exc.strerror}", file=sys.stderr)
            return 69
        if exc.errno in (errno.EACCES, errno.EPERM):
            print(f"crenel-collector: error: not permitted: {exc.strerror}", file=sys.stderr)
            return 4
        raise
    except Exception as exc:  # the edge of the program: a bug is reported, never hidden
        if getattr(args, "debug", False):
            traceback.print_exc()
        print(
            f"crenel-collector: error: internal error ({type(exc).__name__}); this is a bug",
            file=sys.stderr,
        )
        return 70


def console_script() -> None:
    """Entry point of the `crenel-collector` command."""
    sys.exit(main())
