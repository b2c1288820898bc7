"""crenel-lab's command line: run scenarios and compare verdicts, keep a world up, take worlds down.

Exit codes: 0 every verdict matched, 1 a verdict did not match (or a world failed), 2 bad
scenario or arguments, 4 missing privilege, 69 missing software (a command, libpcap or a kernel
feature), 70 a bug, 130 interrupted. Prerequisites are checked before anything is built.

Parsing imports only argparse and the light lab modules; each command imports trio, rich and the
world builder when it runs, so `--help` stays fast. Into a pipe, tables are tab-separated lines
(no cell wraps); `--json -` writes the JSON document on stdout and the table on stderr.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import signal
import statistics
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from lab.errors import LabError, ScenarioError, first_leaf
from probe.commandline import add_completion_command, add_version_flag

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from lab.check import ScenarioResult

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
LAB_FINGERPRINTS = Path(__file__).resolve().parent / "fingerprints" / "lab-blockpages.csv"


async def require(needs: Literal["build", "teardown"]) -> None:
    """Return when the host has what building (or tearing down) worlds needs.

    Checked in a worker thread; `lab.prerequisites` is imported here, not at start-up.

    Raises:
        SoftwareMissing: a command, libpcap or a kernel feature is missing.
        PrivilegeMissing: not root, or root without the capabilities.
    """
    import trio

    from lab.prerequisites import BUILD, TEARDOWN, check_host

    await trio.to_thread.run_sync(check_host, BUILD if needs == "build" else TEARDOWN)


def bundled_scenarios() -> list[Path]:
    """Return the scenario files shipped with Crenel, in id order."""
    return sorted(SCENARIO_DIR.glob("*.toml"))


def resolve_scenarios(names: Sequence[str], *, all_bundled: bool) -> list[Path]:
    """Return scenario paths for file paths, directories or bundled ids such as S05.

    Raises:
        ScenarioError: a name matches nothing.
    """
    paths: list[Path] = list(bundled_scenarios()) if all_bundled else []
    for name in names:
        path = Path(name)
        if path.is_dir():
            paths += sorted(path.glob("*.toml"))
        elif path.is_file():
            paths.append(path)
        else:
            matches = [p for p in bundled_scenarios() if p.name.split("-", 1)[0] == name.upper()]
            if not matches:
                raise ScenarioError(f"no scenario file or bundled scenario named {name!r}")
            paths += matches
    if not paths:
        raise ScenarioError(
            "name at least one scenario (a .toml file, a directory, an id), or pass --all"
        )
    return paths


def results_table(results: Sequence[ScenarioResult]) -> Table:
    """Return the comparison table: scenario, URL, expected, got, methods, confidence, result."""
    from rich.table import Table
    from rich.text import Text

    table = Table(show_lines=False)
    for column in ("scenario", "URL", "expected", "got", "methods", "conf.", "result"):
        table.add_column(column, overflow="fold")
    for result in results:
        if result.error is not None:
            table.add_row(
                result.scenario.id,
                "-",
                "-",
                "-",
                "-",
                "-",
                Text(f"ERROR: {result.error}", style="bold red"),
            )
            continue
        for outcome in result.outcomes:
            expected: str = outcome.expectation.verdict
            wanted = outcome.expectation.methods or outcome.expectation.any_of
            if wanted:
                joiner = "|" if outcome.expectation.any_of else ","
                expected += "[" + joiner.join(wanted) + "]"
            m = outcome.measurement
            got = m.analysis.verdict.value if m else "-"
            methods = ", ".join(x.value for x in m.analysis.methods) if m else "-"
            confidence = f"{m.analysis.confidence:.2f}" if m else "-"
            verdict = (
                Text("pass", style="green")
                if outcome.passed
                else Text("FAIL: " + "; ".join(outcome.problems), style="bold red")
            )
            label = (
                result.scenario.id
                if len({o.cc for o in result.outcomes}) == 1
                else (f"{result.scenario.id}/{outcome.cc}")
            )
            table.add_row(
                label, outcome.expectation.url, expected, got, methods or "-", confidence, verdict
            )
    return table


def _report(results: Sequence[ScenarioResult], wall_s: float) -> str:
    setups = [r.setup_s for r in results if r.setup_s]
    teardowns = [r.teardown_s for r in results if r.teardown_s]
    parts = [f"{len(results)} scenarios in {wall_s:.1f} s"]
    if setups:
        parts.append(f"set-up median {statistics.median(setups):.2f} s (max {max(setups):.2f})")
    if teardowns:
        parts.append(
            f"teardown median {statistics.median(teardowns):.2f} s (max {max(teardowns):.2f})"
        )
    failed = sum(not r.passed for r in results)
    parts.append("all verdicts matched" if not failed else f"{failed} scenarios FAILED")
    return "; ".join(parts)


def print_table(out: Console, table: Table) -> None:
    """Print `table` on `out`: drawn on a terminal, else tab-separated lines without wrapping."""
    if out.is_terminal:
        out.print(table)
        return
    from rich.text import Text

    def plain(cell: Any) -> str:
        text = cell.plain if isinstance(cell, Text) else str(cell)
        return " ".join(text.replace("\t", " ").splitlines())

    columns = [[plain(c.header), *(plain(cell) for cell in c.cells)] for c in table.columns]
    lines = ["\t".join(row) for row in zip(*columns, strict=True)]
    if table.title:
        lines.insert(0, plain(table.title))
    out.file.write("".join(line + "\n" for line in lines))
    out.file.flush()


async def write_json(target: str, document: bytes) -> None:
    """Write the JSON document to the file `target`, or to stdout when `target` is `-`."""
    import trio

    if target == "-":
        sys.stdout.write(document.decode() + "\n")
        sys.stdout.flush()
    else:
        await trio.Path(target).write_bytes(document)


def _json_document(results: Sequence[ScenarioResult]) -> bytes:
    import msgspec

    doc = [
        {
            "scenario": r.scenario.id,
            "title": r.scenario.title,
            "file": str(r.path),
            "error": r.error,
            "setup_s": round(r.setup_s, 3),
            "teardown_s": round(r.teardown_s, 3),
            "outcomes": [
                {
                    "url": o.expectation.url,
                    "client": o.client,
                    "cc": o.cc,
                    "expected": msgspec.to_builtins(o.expectation),
                    "passed": o.passed,
                    "problems": list(o.problems),
                    "measurement": msgspec.to_builtins(o.measurement),
                }
                for o in r.outcomes
            ],
        }
        for r in results
    ]
    return msgspec.json.encode(doc)


async def cmd_run(args: argparse.Namespace, out: Console) -> int:
    """Run scenarios one after the other and print the comparison."""
    from lab.check import check_scenario
    from lab.scenario import load_scenario

    paths = resolve_scenarios(args.scenarios, all_bundled=args.all)
    for path in paths:
        load_scenario(path)
    await require("build")
    fingerprints = [LAB_FINGERPRINTS, *(Path(f) for f in args.fingerprints or [])]
    results: list[ScenarioResult] = []
    started = time.monotonic()
    for path in paths:
        result = await check_scenario(path.absolute(), fingerprints=fingerprints)
        results.append(result)
        status = "ok" if result.passed else "FAILED"
        print(
            f"{result.scenario.id}: {status} (set-up {result.setup_s:.2f} s, measured in "
            f"{result.measure_s:.2f} s, teardown {result.teardown_s:.2f} s)",
            file=sys.stderr,
            flush=True,
        )
    print_table(out, results_table(results))
    out.print(_report(results, time.monotonic() - started))
    if args.json:
        await write_json(args.json, _json_document(results))
    return 0 if all(r.passed for r in results) else 1


async def cmd_up(args: argparse.Namespace, out: Console) -> int:
    """Build one world and keep it until interrupted (Ctrl-C or `crenel-lab down`)."""
    import trio

    from lab.scenario import load_scenario
    from lab.world import running_world

    [path] = resolve_scenarios([args.scenario], all_bundled=False)
    scenario = load_scenario(path)
    await require("build")
    async with running_world(scenario, path.absolute(), fingerprints=[LAB_FINGERPRINTS]) as world:
        out.print(
            f"world {world.plan.prefix} for {scenario.id} is up "
            f"(set-up {world.setup_s:.2f} s); files in {world.directory}"
        )
        for client in world.plan.clients:
            out.print(
                f"client {client.namespace} ({client.cc}, {client.network_name}, "
                f"{client.address}, resolver {client.resolver}):"
            )
            out.print(f"  enter it:   ip netns exec {client.namespace} bash")
            out.print(
                f"  measure:    ip netns exec {client.namespace} crenel-probe measure "
                f"--config {world.probe_config(client)} URL",
                soft_wrap=True,
            )
        out.print("Ctrl-C or `crenel-lab down` removes it.", soft_wrap=True)
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for _ in signals:
                break
    out.print("world removed")
    return 0


async def cmd_down(args: argparse.Namespace, out: Console) -> int:
    """Stop running `up` worlds and remove every lab namespace left behind."""
    import trio

    from lab.world import PREFIX_ROOT, STATE_DIR, teardown

    await require("teardown")
    prefix = args.prefix or PREFIX_ROOT
    for state in sorted(STATE_DIR.glob(f"{prefix}*.pid")) if STATE_DIR.is_dir() else []:
        pid = int(state.read_text().split()[0])
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            state.unlink(missing_ok=True)
            continue
        with trio.move_on_after(30):
            # `up` removes its state file when its world is gone; wait for that, bounded.
            while state.exists():  # noqa: ASYNC110
                await trio.sleep(0.1)
    removed = await teardown(None, prefix)
    if args.json:
        await write_json("-", json.dumps({"removed": sorted(removed)}).encode())
        return 0
    out.print(
        f"removed {len(removed)} leftover namespaces" if removed else "nothing left to remove"
    )
    return 0


async def cmd_demo(args: argparse.Namespace, out: Console) -> int:
    """Run the whole system in two simulated countries and check the reports."""
    await require("build")
    import msgspec
    from rich.table import Table
    from rich.text import Text

    from lab.demo import run_demo

    def say(text: str) -> None:
        out.print(text, markup=False, highlight=False, soft_wrap=True)

    lines = await run_demo(
        port=args.port, keep=not args.exit, say=say, fingerprints=[LAB_FINGERPRINTS]
    )
    table = Table(title="reports against the censors' configuration")
    for column in ("country", "domain", "expected", "reported", "methods", "result"):
        table.add_column(column, overflow="fold")
    for line in lines:
        result = Text("pass", style="green") if line.passed else Text("FAIL", style="bold red")
        table.add_row(
            line.cc,
            line.domain,
            line.expected,
            line.got,
            ", ".join(line.methods_got) or "-",
            result,
        )
    print_table(out, table)
    failed = [line for line in lines if not line.passed]
    out.print(
        "every report matches the censors' configuration"
        if not failed
        else f"{len(failed)} report lines do not match"
    )
    if args.json:
        await write_json(args.json, msgspec.json.encode(lines))
    return 0 if not failed else 1


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="crenel-lab", description="A simulated censored internet in network namespaces."
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    add_version_flag(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser("run", help="run scenarios and compare the probe's verdicts")
    run.add_argument(
        "scenarios",
        nargs="*",
        metavar="SCENARIO",
        help="scenario file, directory, or bundled id (S01..S35)",
    )
    run.add_argument("--all", action="store_true", help="run every bundled scenario")
    run.add_argument(
        "--json", metavar="FILE", help="write measurements and comparisons (`-`: stdout)"
    )
    run.add_argument(
        "--fingerprints",
        action="append",
        metavar="FILE",
        help="extra fingerprint files for the probe",
    )
    run.set_defaults(handler=cmd_run)
    up = sub.add_parser("up", help="build a world and keep it running")
    up.add_argument("scenario", metavar="SCENARIO")
    up.set_defaults(handler=cmd_up)
    down = sub.add_parser("down", help="remove running worlds and leftovers")
    down.add_argument("prefix", nargs="?", metavar="PREFIX")
    down.add_argument("--json", action="store_true", help="print what was removed as JSON")
    down.set_defaults(handler=cmd_down)
    demo = sub.add_parser(
        "demo", help="run collector, probes and censors in two simulated countries; report"
    )
    demo.add_argument(
        "--exit",
        action="store_true",
        help="finish after the reports (default: keep the dashboard up)",
    )
    demo.add_argument(
        "--port",
        type=int,
        default=8088,
        metavar="PORT",
        help="dashboard port on 127.0.0.1 (default 8088; 0 picks one)",
    )
    demo.add_argument(
        "--json", metavar="FILE", help="write the report checks as JSON (`-`: stdout)"
    )
    demo.set_defaults(handler=cmd_demo)
    listing = sub.add_parser("list", help="list the bundled scenarios")
    listing.add_argument("--json", action="store_true", help="print the list as JSON")
    listing.set_defaults(handler=cmd_list)
    completion = add_completion_command(sub, build_parser, "crenel-lab")
    completion.set_defaults(handler=cmd_completion)
    return parser


def cmd_completion(args: argparse.Namespace, out: Console) -> int:
    """Print the shell completion script and return the exit code."""
    return int(args.print_completion(args))


def cmd_list(args: argparse.Namespace, out: Console) -> int:
    """Print the bundled scenarios (id, title, file) and return the exit code."""
    from lab.scenario import load_scenario

    rows = [(load_scenario(path), path) for path in bundled_scenarios()]
    if args.json:
        doc = [{"id": s.id, "title": s.title, "file": str(p)} for s, p in rows]
        sys.stdout.write(json.dumps(doc) + "\n")
        return 0
    for scenario, path in rows:
        out.print(f"{scenario.id}  {scenario.title}  ({path.name})", soft_wrap=True, markup=False)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run crenel-lab and return its exit code."""
    args = build_parser().parse_args(argv)
    from rich.console import Console

    # With `--json -` stdout carries the JSON document alone; the human output goes to stderr.
    out = Console(highlight=False, stderr=getattr(args, "json", None) == "-")
    try:
        if not inspect.iscoroutinefunction(args.handler):
            return int(args.handler(args, out))
        try:
            import trio

            return int(trio.run(args.handler, args, out))
        except BaseExceptionGroup as group:
            raise first_leaf(group) from group
    except LabError as exc:
        print(f"crenel-lab: error: {exc}", file=sys.stderr)
        return exc.exit_code if exc.exit_code != 1 else 1
    except KeyboardInterrupt:
        print("crenel-lab: interrupted; the world was removed", file=sys.stderr)
        return 130
    except Exception as exc:  # the edge of the program: a bug is reported, never hidden
        if args.debug:
            traceback.print_exc()
        print(
            f"crenel-lab: error: internal error ({type(exc).__name__}); this is a bug, "
            "rerun with --debug",
            file=sys.stderr,
        )
        return 70


def console_script() -> None:
    """Entry point of the `crenel-lab` command."""
    sys.exit(main())


if __name__ == "__main__":
    console_script()
