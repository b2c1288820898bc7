"""Pure analysis: a measurement plus reference data in, an Analysis out (no trio, no I/O).

Modules:
- `analyse`: the entry point and the verdict.
- `rules`: the rule table (id, method, weight, why) and failure-to-method maps.
- `facts`: indexes over a measurement's observations.
- `dns`, `transport`, `chain`: DNS, TCP/TLS and HTTP rules.
- `packets`: packet-level rules (injected RSTs/FINs and DNS answers, DNS bait, the censor's hop).
- `compare`: OONI-compatible HTTP comparison with the control.
- `fingerprints`: blockpage / false-positive signatures (OONI CSV, Censored Planet JSONL).
- `fingerprint_index`: which fingerprints could match a page (plain-text signatures by word).
- `fingerprint_sets`: versioned fingerprint sets, their canonical bytes and digest.
- `addresses`: bogons (the shared special-purpose registry) with configurable public exceptions.
- `reference`: the reference data bundle and its digest.
- `evidence`: the accumulator rules write to.
"""

from probe.analysis.addresses import BogonPolicy, is_ip_literal
from probe.analysis.analyse import analyse
from probe.analysis.compare import compare_http, is_diff
from probe.analysis.fingerprint_sets import (
    MAX_SET_BYTES,
    VersionedSet,
    is_newer,
    make_versioned_set,
    read_versioned_set,
    version_key,
)
from probe.analysis.fingerprints import (
    Fingerprint,
    FingerprintError,
    FingerprintSet,
    build_fingerprint,
    parse_censoredplanet_jsonl,
    parse_ooni_csv,
)
from probe.analysis.packets import PACKET_RULE_IDS, is_packet_confirmed, judge_flow
from probe.analysis.reference import DEFAULT_THROTTLE_KBPS, ReferenceData
from probe.analysis.rules import RULES, RULES_VERSION, Rule, method_for_failure

__all__ = [
    "DEFAULT_THROTTLE_KBPS",
    "MAX_SET_BYTES",
    "PACKET_RULE_IDS",
    "RULES",
    "RULES_VERSION",
    "BogonPolicy",
    "Fingerprint",
    "FingerprintError",
    "FingerprintSet",
    "ReferenceData",
    "Rule",
    "VersionedSet",
    "analyse",
    "build_fingerprint",
    "compare_http",
    "is_diff",
    "is_ip_literal",
    "is_newer",
    "is_packet_confirmed",
    "judge_flow",
    "make_versioned_set",
    "method_for_failure",
    "parse_censoredplanet_jsonl",
    "parse_ooni_csv",
    "read_versioned_set",
    "version_key",
]
