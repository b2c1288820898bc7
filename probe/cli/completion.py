"""`crenel-probe completion bash|zsh`: print a shell completion script made from the parser.

shtab writes the script from the argparse parser, so it always matches the flags.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

SHELLS = ("bash", "zsh")


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    build_parser: Callable[[], argparse.ArgumentParser],
) -> None:
    """Register `completion`; `build_parser` makes the whole parser the script describes."""
    parser = subparsers.add_parser(
        "completion",
        help="print a shell completion script (e.g. crenel-probe completion bash > "
        "~/.local/share/bash-completion/completions/crenel-probe)",
    )
    parser.add_argument("shell", choices=SHELLS)
    parser.set_defaults(
        handler=lambda args: print_script(build_parser(), args.shell),
        needs_config=False,
    )


def completion_script(parser: argparse.ArgumentParser, shell: str) -> str:
    """Return the completion script of `parser` for `shell` (bash or zsh)."""
    import shtab

    return str(shtab.complete(parser, shell=shell))


def print_script(parser: argparse.ArgumentParser, shell: str) -> int:
    """Print the completion script on stdout and return the exit code."""
    sys.stdout.write(completion_script(parser, shell))
    return 0
