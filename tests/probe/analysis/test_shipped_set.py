"""The fingerprint set shipped with Crenel, used by default: real blockpages are recognised with
no extra file, and CDN challenge pages stay false positives (never blocked)."""

from __future__ import annotations

import json
from pathlib import Path

import probe.fingerprints as fingerprints
from probe.analysis import DEFAULT_THROTTLE_KBPS, BogonPolicy, ReferenceData, analyse
from probe.model import Analysis, Method, ResolverKind, Verdict
from probe.ooni import measurement_from_ooni
from probe.references import BUNDLED_VERSION, bundled_set, load_reference

from .build import SITE, World, page_response

LAB_PUBLIC = ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
SHIPPED = load_reference((), LAB_PUBLIC, DEFAULT_THROTTLE_KBPS)
FORTIGUARD = (
    b"<html><head><title>Web Filter Violation</title></head><body><h1>FortiGuard Web "
    b"Filtering</h1><p>The page you have requested has been blocked because the URL is "
    b"banned.</p></body></html>"
)
CLOUDFLARE = (
    b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body><noscript>"
    b"Enable JavaScript and cookies to continue</noscript><script>window._cf_chl_opt={};"
    b"</script></body></html>"
)
CHALLENGE_SCENARIOS = (
    "generated/cloudflareCAPTCHAWithHTTP",
    "generated/cloudflareCAPTCHAWithHTTPS",
)


def run(world: World, reference: ReferenceData = SHIPPED) -> Analysis:
    return analyse(world.build(), reference)


def test_a_fortiguard_page_is_a_blockpage_with_the_shipped_set_alone() -> None:
    w = World()
    w.lookup(ResolverKind.SYSTEM, SITE).connect(SITE)
    w.fetch(SITE, page_response(FORTIGUARD, status=403, title="Web Filter Violation"))
    result = run(w.with_control())
    assert result.verdict is Verdict.BLOCKED, result
    assert result.methods[0] is Method.HTTP_BLOCKPAGE
    assert {f.name for f in result.fingerprints} >= {"a_prod_fortinet_1"}
    assert result.fingerprint_set is not None
    assert result.fingerprint_set.version == BUNDLED_VERSION
    # Without the shipped set the same page is only a difference from the control.
    bare = run(w, ReferenceData(bogons=BogonPolicy(LAB_PUBLIC)))
    assert Method.HTTP_BLOCKPAGE not in bare.methods


def test_a_current_cloudflare_challenge_is_a_false_positive_not_a_blockpage() -> None:
    for url in ("https://cdn.example.test/", "http://cdn.example.test/"):
        w = World(url=url)
        w.lookup(ResolverKind.SYSTEM, SITE).connect(SITE)
        if url.startswith("https"):
            w.handshake(SITE)
        headers = (("Content-Type", "text/html"), ("cf-mitigated", "challenge"))
        w.fetch(
            SITE, page_response(CLOUDFLARE, status=403, title="Just a moment...", headers=headers)
        )
        result = run(w.with_control())
        assert result.verdict is Verdict.INCONCLUSIVE, (url, result)
        assert result.fingerprints and all(f.is_false_positive for f in result.fingerprints)
        assert "x_crenel_cloudflare_just_a_moment" in {f.name for f in result.fingerprints}


def test_the_ooni_corpus_cdn_challenges_stay_inconclusive_with_the_shipped_set_alone(
    shared_data: Path,
) -> None:
    for scenario in CHALLENGE_SCENARIOS:
        doc = json.loads((shared_data / "ooni-corpus" / scenario / "measurement.json").read_text())
        result = analyse(measurement_from_ooni(doc), load_reference((), (), DEFAULT_THROTTLE_KBPS))
        assert result.verdict is Verdict.INCONCLUSIVE, (scenario, result)
        assert any(f.is_false_positive for f in result.fingerprints), scenario
        assert not any(not f.is_false_positive for f in result.fingerprints), scenario


def test_no_page_ooni_calls_accessible_matches_a_shipped_blockpage_signature(
    shared_data: Path,
) -> None:
    reference = load_reference((), (), DEFAULT_THROTTLE_KBPS)
    index = (shared_data / "ooni-corpus" / "INDEX.csv").read_text().splitlines()[1:]
    accessible = [line.split(",")[0] for line in index if line.endswith("false,true")]
    assert len(accessible) >= 10
    for scenario in accessible:
        doc = json.loads((shared_data / "ooni-corpus" / scenario / "measurement.json").read_text())
        result = analyse(measurement_from_ooni(doc), reference)
        assert not any(not f.is_false_positive for f in result.fingerprints), scenario
        assert Method.HTTP_BLOCKPAGE not in result.methods, scenario


def test_the_shipped_set_is_censored_planets_files_unmodified_and_crenels_cdn_set(
    shared_data: Path,
) -> None:
    shipped = Path(fingerprints.__file__).parent
    for name in (
        "censoredplanet_blockpage_signatures.json",
        "censoredplanet_false_positive_signatures.json",
    ):
        assert (shipped / name).read_bytes() == (shared_data / "fingerprints" / name).read_bytes()
    sources = [f.source for f in bundled_set().fingerprints]
    assert sources.count("censoredplanet_blockpage_signatures.json") == 622
    assert sources.count("censoredplanet_false_positive_signatures.json") == 460
    cdn = [f for f in bundled_set().fingerprints if f.source == "crenel_cdn_challenges.json"]
    assert cdn and all(f.is_false_positive and f.name.startswith("x_") for f in cdn)
