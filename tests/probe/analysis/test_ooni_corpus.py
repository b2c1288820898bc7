"""The analysis against OONI's own verdicts on OONI's Web Connectivity corpus (../shared/data).

Crenel's full answer for each of the 56 scenarios is pinned in `ooni_corpus_answers.json`:
verdict, OONI-compatible `blocking` and `accessible`, methods, confidence and
`dns_consistency`. Any change in any answer fails the test, including in the scenarios where
Crenel and OONI disagree. After a deliberate change of the analysis, rewrite the pins and the
agreement block of docs/methodology.md with `CRENEL_PIN_OONI=1 pytest
tests/probe/analysis/test_ooni_corpus.py`, and review the diff.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

from probe.analysis import DEFAULT_THROTTLE_KBPS, ReferenceData, analyse
from probe.model import Blocking, Verdict
from probe.ooni import measurement_from_ooni
from probe.references import load_reference

ROOT = Path(__file__).resolve().parents[3]
PINS = Path(__file__).with_name("ooni_corpus_answers.json")
METHODOLOGY = ROOT / "docs" / "methodology.md"
BLOCK_START = "<!-- ooni-agreement: written by tests/probe/analysis/test_ooni_corpus.py -->"
BLOCK_END = "<!-- ooni-agreement: end -->"
UPDATE = os.environ.get("CRENEL_PIN_OONI") == "1"

# scenario -> (which side is right, why they differ)
DISAGREEMENTS = {
    "generated/cloudflareCAPTCHAWithHTTP": (
        "Crenel",
        "OONI reports http-diff (its known false positive, ooni/probe#2661); Censored Planet's "
        "false-positive signature recognises the challenge page, so Crenel says inconclusive.",
    ),
    "generated/cloudflareCAPTCHAWithHTTPS": (
        "Crenel",
        "OONI counts any HTTPS response as accessible; Crenel sees a challenge page instead of "
        "the site over verified TLS and says inconclusive (server-side, not censorship).",
    ),
    "generated/httpDiffWithInconsistentDNS": (
        "Crenel",
        "The forged answer is an ISP proxy that completes a valid TLS handshake for the name "
        "(control ip_info flag 8); like Censored Planet's Satellite (tls.validcert), Crenel "
        "counts it consistent and blames the injected blockpage (http-diff); OONI's classic "
        "summary ignores TLS validation and says dns.",
    ),
    "generated/tlsBlockingConnectionResetWithInconsistentDNS": (
        "Crenel",
        "Same TLS-valid proxy as above: Crenel reports the SNI reset (tls.reset, "
        "http-failure); OONI's classic summary says dns.",
    ),
    "manual/8844": (
        "Crenel",
        "An IP-address URL fetched over verified HTTPS: Crenel says ok; OONI's classic summary "
        "leaves it null although its own LTE flags record success (x_blocking_flags=32).",
    ),
    "manual/dnsgoogle80": (
        "Crenel",
        "Port 80 times out for the probe and the control alike: Crenel says down (the spec's "
        "'control failed too' case); OONI's summary left it null/null.",
    ),
}


def _expected(blocking: object, accessible: object) -> tuple[Verdict, Blocking | None]:
    if blocking is False:
        return (Verdict.OK if accessible else Verdict.DOWN), None
    if blocking is None:
        return Verdict.INCONCLUSIVE, None
    return Verdict.BLOCKED, Blocking(str(blocking))


def _reference(shared: Path) -> ReferenceData:
    """The set shipped with Crenel (Censored Planet's and Crenel's CDN challenges) plus OONI's
    fingerprints, which a user may add with --fingerprints (they are not shipped)."""
    fp = shared / "fingerprints"
    return load_reference(
        [fp / "fingerprints_http.csv", fp / "fingerprints_dns.csv"], (), DEFAULT_THROTTLE_KBPS
    )


def _cases(shared: Path) -> list[tuple[str, object, object]]:
    with (shared / "ooni-corpus" / "INDEX.csv").open() as f:
        return [
            (row["scenario"], json.loads(row["blocking"]), json.loads(row["accessible"]))
            for row in csv.DictReader(f)
        ]


def _answers(shared: Path) -> dict[str, dict[str, Any]]:
    ref = _reference(shared)
    answers: dict[str, dict[str, Any]] = {}
    for scenario, blocking, accessible in _cases(shared):
        doc = json.loads((shared / "ooni-corpus" / scenario / "measurement.json").read_text())
        result = analyse(measurement_from_ooni(doc), ref)
        verdict, reason = _expected(blocking, accessible)
        answers[scenario] = {
            "verdict": result.verdict.value,
            "blocking": getattr(result.blocking, "value", result.blocking),
            "accessible": result.accessible,
            "methods": [m.value for m in result.methods],
            "confidence": round(result.confidence, 3),
            "dns_consistency": getattr(result.dns_consistency, "value", None),
            "ooni": {"blocking": blocking, "accessible": accessible},
            "agrees": result.verdict is verdict and (reason is None or result.blocking == reason),
        }
    return answers


def _agreement_block(answers: dict[str, dict[str, Any]]) -> str:
    agreeing = sum(1 for a in answers.values() if a["agrees"])
    lines = [
        BLOCK_START,
        f"agreement with OONI: {agreeing} of {len(answers)}",
        "",
        "| scenario | OONI (blocking / accessible) | Crenel | right | why |",
        "|---|---|---|---|---|",
    ]
    for scenario, answer in answers.items():
        if answer["agrees"]:
            continue
        right, why = DISAGREEMENTS.get(scenario, ("?", "undocumented"))
        ooni = answer["ooni"]
        crenel = f"{answer['verdict']} {' '.join(answer['methods'])}".strip()
        lines.append(
            f"| {scenario} | {json.dumps(ooni['blocking'])} / {json.dumps(ooni['accessible'])} "
            f"| {crenel} | {right} | {why} |"
        )
    lines.append(BLOCK_END)
    return "\n".join(lines)


def test_every_answer_on_the_corpus_is_pinned(shared_data: Path) -> None:
    answers = _answers(shared_data)
    assert len(answers) == 56
    block = _agreement_block(answers)
    text = METHODOLOGY.read_text()
    before, _, rest = text.partition(BLOCK_START)
    _, _, after = rest.partition(BLOCK_END)
    # OONI's own verdicts stay in ../shared/data: the pins hold Crenel's answers only.
    ours = {k: {f: v for f, v in a.items() if f != "ooni"} for k, a in answers.items()}
    if UPDATE:
        PINS.write_text(json.dumps(ours, indent=1, sort_keys=True) + "\n")
        METHODOLOGY.write_text(before + block + after)
    pinned = json.loads(PINS.read_text())
    changed = {k: (pinned.get(k), v) for k, v in ours.items() if pinned.get(k) != v}
    assert not changed, json.dumps(changed, indent=1)
    assert block in METHODOLOGY.read_text(), "docs/methodology.md's agreement block is stale"


def test_every_disagreement_is_documented_with_the_side_that_is_right(shared_data: Path) -> None:
    answers = _answers(shared_data)
    disagreeing = {k for k, a in answers.items() if not a["agrees"]}
    assert disagreeing == set(DISAGREEMENTS)
