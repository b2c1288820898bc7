"""How fast the probe's address is scrubbed from bodies, and how long compiling its pattern takes.

Scrubs 1 MiB of HTML-like text, 1 MiB of dense digits and separators, and 1 MiB of NULs (the
worst cases a hostile page can send) for one IPv4 and one IPv6 address, median of N runs each,
and a whole measurement with eleven 1 MiB bodies through scrubbing and the size budget.

Usage: python bench/scrub.py [--quick] [--runs 5]
Prints its headline on the last line: `scrub: N MiB/s (HTML-like text)`.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.probe.analysis.build

from probe.measure.budget import fit_budget
from probe.privacy import Scrubber, scrub_measurement
from probe.privacy.scrub import scrubbable
from probe.privacy.spellings import spelling_pattern
from tests.probe.analysis.build import healthy

ADDRESSES = ["192.0.2.2", "2001:db8:5c::2"]
MIB = 1 << 20


def _timed(action: object, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer runs (under a minute)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    runs = 2 if args.quick else args.runs
    compile_s = _timed(lambda: spelling_pattern(scrubbable(ADDRESSES)), runs)
    print(f"compile the pattern for {ADDRESSES}: {compile_s * 1000:.0f} ms")
    scrubber = Scrubber(ADDRESSES)
    rnd = random.Random(1)
    html_line = '<div class="x">Lorem ipsum 2024-01-02 12:34:56 v1.2.3 192.0.2.20</div>\n'
    texts = {
        "HTML-like text": (html_line * (MIB // len(html_line) + 1))[:MIB],
        "digits and separators": "".join(rnd.choice("0123456789.:-_ ") for _ in range(MIB)),
        "NULs": "\x00" * MIB,
    }
    rates = {}
    for name, text in texts.items():
        seconds = _timed(lambda text=text: scrubber.text(text), runs)
        rates[name] = 1 / seconds
        print(f"scrub 1 MiB of {name}: {seconds * 1000:.0f} ms ({1 / seconds:.1f} MiB/s)")
    m = healthy().build()
    response = m.http[0].response
    assert response is not None
    big = msgspec.structs.replace(response, body_prefix="\x00" * MIB, body_length=MIB)
    hops = [msgspec.structs.replace(m.http[0], id=i + 1, depth=i, response=big) for i in range(11)]
    heavy = msgspec.structs.replace(m, http=hops)
    seconds = _timed(lambda: fit_budget(scrub_measurement(heavy, ADDRESSES)), runs)
    print(f"scrub and fit a measurement with 11 x 1 MiB NUL bodies: {seconds:.2f} s")
    print(f"scrub: {rates['HTML-like text']:.1f} MiB/s (HTML-like text)")


if __name__ == "__main__":
    main()
