"""`crenel-probe config show|set KEY VALUE|path`: read and change the settings file."""

from __future__ import annotations

import argparse

import tomli_w

from probe.cli import render
from probe.cli.options import add_common_flags
from probe.config import ConfigFile, ProbeConfig


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `config` and its actions."""
    parser = subparsers.add_parser("config", help="show or change settings")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = actions.add_parser("show", help="print the settings file")
    add_common_flags(show)
    path = actions.add_parser("path", help="print where the settings file is")
    add_common_flags(path)
    setter = actions.add_parser("set", help="set a setting (`none` removes it)")
    setter.add_argument("key", metavar="KEY", help=", ".join(sorted(ConfigFile.KEYS)))
    setter.add_argument("value", metavar="VALUE")
    add_common_flags(setter)
    parser.set_defaults(handler=handle, is_async=False, needs_consent=False)


def handle(args: argparse.Namespace, config: ProbeConfig) -> int:
    """Perform the config action and return the exit code."""
    settings = ConfigFile(config.config_path)
    out = render.console()
    if args.action == "path":
        out.print(str(config.config_path))
    elif args.action == "show":
        out.print(tomli_w.dumps(settings.read()) or "(no settings yet)", markup=False)
    else:
        settings.set(args.key, args.value)
        out.print(f"{args.key} saved to {config.config_path}", markup=False)
    return 0
