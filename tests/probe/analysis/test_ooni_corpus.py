"""The analysis against OONI's own verdicts on OONI's Web Connectivity corpus (../shared/data)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from probe.analysis import (
    FingerprintSet,
    ReferenceData,
    analyse,
    parse_censoredplanet_jsonl,
    parse_ooni_csv,
)
from probe.model import Blocking, Verdict
from probe.ooni import measurement_from_ooni

EXPECTED_DISAGREEMENTS = {
    "generated/cloudflareCAPTCHAWithHTTP": (
        "OONI reports http-diff (its known false positive, ooni/probe#2661); Censored Planet's "
        "false-positive signature recognises the challenge page, so Crenel says inconclusive."
    ),
    "generated/cloudflareCAPTCHAWithHTTPS": (
        "OONI counts any HTTPS response as accessible; Crenel sees a challenge page instead of the "
        "site over verified TLS and says inconclusive (server-side)."
    ),
    "generated/httpDiffWithInconsistentDNS": (
        "The forged answer is an ISP proxy that completes a valid TLS handshake for the name "
        "(control ip_info flag 8); like Censored Planet's Satellite (tls.validcert), Crenel counts "
        "it consistent and blames the injected blockpage (http-diff); OONI's classic summary "
        "ignores TLS validation and says dns."
    ),
    "generated/tlsBlockingConnectionResetWithInconsistentDNS": (
        "Same TLS-valid proxy as above: Crenel reports the SNI reset (tls.reset, http-failure); "
        "OONI's classic summary says dns."
    ),
    "manual/8844": (
        "An IP-address URL fetched over verified HTTPS: Crenel says ok; OONI's classic summary "
        "leaves it null although its own LTE flags record success (x_blocking_flags=32)."
    ),
    "manual/dnsgoogle80": (
        "Port 80 times out for the probe and the control alike: Crenel says down (the spec's "
        "'control failed too' case); OONI's summary left it null/null."
    ),
}


def _expected(blocking: object, accessible: object) -> tuple[Verdict, Blocking | None]:
    if blocking is False:
        return (Verdict.OK if accessible else Verdict.DOWN), None
    if blocking is None:
        return Verdict.INCONCLUSIVE, None
    return Verdict.BLOCKED, Blocking(str(blocking))


def _reference(shared: Path) -> ReferenceData:
    fp = shared / "fingerprints"
    items = [
        *parse_ooni_csv((fp / "fingerprints_http.csv").read_text(), "ooni-http"),
        *parse_ooni_csv((fp / "fingerprints_dns.csv").read_text(), "ooni-dns"),
        *parse_censoredplanet_jsonl(
            (fp / "censoredplanet_false_positive_signatures.json").read_text(),
            "cp-fp",
            false_positive=True,
        ),
        *parse_censoredplanet_jsonl(
            (fp / "censoredplanet_blockpage_signatures.json").read_text(),
            "cp-blockpage",
            false_positive=False,
        ),
    ]
    return ReferenceData(fingerprints=FingerprintSet(items))


def _cases(shared: Path) -> list[tuple[str, object, object]]:
    with (shared / "ooni-corpus" / "INDEX.csv").open() as f:
        return [
            (row["scenario"], json.loads(row["blocking"]), json.loads(row["accessible"]))
            for row in csv.DictReader(f)
        ]


def test_verdicts_agree_with_ooni_on_its_corpus(shared_data: Path) -> None:
    ref = _reference(shared_data)
    disagreements: dict[str, str] = {}
    cases = _cases(shared_data)
    assert len(cases) == 56
    for scenario, blocking, accessible in cases:
        doc = json.loads((shared_data / "ooni-corpus" / scenario / "measurement.json").read_text())
        result = analyse(measurement_from_ooni(doc), ref)
        verdict, reason = _expected(blocking, accessible)
        same = result.verdict is verdict and (reason is None or result.blocking == reason)
        if not same:
            disagreements[scenario] = (
                f"OONI {blocking}/{accessible}, Crenel {result.verdict.value} "
                f"{[m.value for m in result.methods]} blocking={result.blocking}"
            )
    unexpected = {k: v for k, v in disagreements.items() if k not in EXPECTED_DISAGREEMENTS}
    assert not unexpected, json.dumps(unexpected, indent=1)
    assert set(disagreements) == set(EXPECTED_DISAGREEMENTS), disagreements
