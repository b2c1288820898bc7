"""Property: one uploader network cannot change a verdict the honest data determines with confidence.

Stated precisely (docs/methodology.md, "Poisoning"). Let H be honest counts of one domain in one
country: every network of H has either no informative measurements or at least `min_probes`
uploader networks and `min_measurements` informative measurements (so whether a network can be
decided does not depend on one more uploader). Let V(D) be the verdicts of data D: the domain's,
and each network's of H. For a network n of H let X⁺(n) add, from one new uploader network, one
probe with `uploader_weight_cap` blocked measurements (all fingerprint-confirmed) in n, and X⁻(n)
one with `uploader_weight_cap` ok measurements. H *determines V with confidence* when
V(H + X) = V(H) for each of these 2N single-network extremes.

Then for ANY data A from one uploader network (any number of probe ids, any counts, any
networks, existing or invented, with or without a working control), V(H + A) = V(H), and a
network only A claims is `insufficient data`.

Why it holds: the uploader's weight is capped at `uploader_weight_cap` over all its probes and
networks; `blocked` and `not blocked` are monotone in the weight added to a network's blocked and
ok sides (a Beta posterior is stochastically increasing in successes, decreasing in failures;
rounding keeps the order), while the `mixed` band P(0.3 < share < 0.7) is not, so for it this
test is the evidence; the set of decidable networks cannot change (above), so the Bonferroni
level is fixed; and the country verdict is a function of the network verdicts. The model here is
the oracle (tests/collector/regional_oracle.py) the product is held to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from collector.regional.model import ModelSettings, RegionalVerdict
from tests.collector.regional_oracle import ProbeCounts, estimate_region

S = ModelSettings()
EVIL = "evil-uploader"
INVENTED = 999_999

Networks = dict[int, list[ProbeCounts]]


@st.composite
def honest_data(draw: st.DrawFn) -> Networks:
    """Up to four networks, each with 2-6 honest uploader networks around a true share."""
    networks: Networks = {}
    for asn in range(1, draw(st.integers(1, 4)) + 1):
        share = draw(st.sampled_from([0.0, 0.05, 0.3, 0.5, 0.7, 0.95, 1.0]))
        probes = []
        for i in range(draw(st.integers(S.min_probes, 6))):
            total = draw(st.integers(2, 12))
            blocked = draw(st.integers(0, total)) if 0 < share < 1 else round(share * total)
            if 0 < share < 1:
                blocked = round((blocked + share * total) / 2)
            probes.append(
                ProbeCounts(
                    probe_id=f"h{asn}-{i}",
                    uploader=f"honest-{asn}-{i}",
                    blocked=blocked,
                    ok=total - blocked,
                    confirmed=draw(st.integers(0, blocked)) if blocked else 0,
                )
            )
        networks[asn] = probes
    return networks


@st.composite
def one_uploader(draw: st.DrawFn, asns: Sequence[int]) -> Networks:
    """Any measurements from one uploader network: many ids, any networks, any volumes."""
    attack: Networks = {}
    claimed = st.sampled_from([*asns, INVENTED, INVENTED + 1])
    for i in range(draw(st.integers(1, 30))):
        asn = draw(claimed)
        blocked = draw(st.integers(0, 10_000))
        attack.setdefault(asn, []).append(
            ProbeCounts(
                probe_id=f"sybil-{i}",
                uploader=EVIL,
                blocked=blocked,
                blocked_no_control=draw(st.integers(0, 10_000)),
                ok=draw(st.integers(0, 10_000)),
                down=draw(st.integers(0, 100)),
                inconclusive=draw(st.integers(0, 100)),
                confirmed=draw(st.integers(0, blocked)),
            )
        )
    return attack


def combined(honest: Networks, extra: Mapping[int, list[ProbeCounts]]) -> Networks:
    out = {asn: list(probes) for asn, probes in honest.items()}
    for asn, probes in extra.items():
        out.setdefault(asn, []).extend(probes)
    return out


def verdicts(data: Networks, baseline: float | None) -> tuple[RegionalVerdict, dict[int, str]]:
    region = estimate_region(data, S, baseline=baseline)
    return region.verdict, {n.asn: n.verdict.value for n in region.networks}


def extremes(honest: Networks) -> list[Networks]:
    cap = int(S.uploader_weight_cap)
    out = []
    for asn in honest:
        pushed = ProbeCounts(probe_id="x", uploader=EVIL, blocked=cap, confirmed=cap)
        pulled = ProbeCounts(probe_id="x", uploader=EVIL, ok=cap)
        out += [combined(honest, {asn: [pushed]}), combined(honest, {asn: [pulled]})]
    return out


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(data=st.data(), baseline=st.one_of(st.none(), st.sampled_from([0.0, 0.1, 0.4])))
def test_one_uploader_network_cannot_change_a_confident_verdict(
    data: st.DataObject, baseline: float | None
) -> None:
    honest = data.draw(honest_data())
    before = verdicts(honest, baseline)
    for extreme in extremes(honest):
        domain, networks = verdicts(extreme, baseline)
        assume(domain is before[0] and {a: networks[a] for a in honest} == before[1])
    attack = data.draw(one_uploader(sorted(honest)))
    domain, networks = verdicts(combined(honest, attack), baseline)
    assert domain is before[0]
    assert {a: networks[a] for a in honest} == before[1]
    assert all(networks[a] == "insufficient data" for a in networks if a not in honest)


def test_the_property_is_not_vacuous_and_the_old_rule_fails_it() -> None:
    honest = {
        asn: [ProbeCounts(probe_id=f"h{asn}-{i}", uploader=f"u{asn}-{i}", ok=5) for i in range(3)]
        for asn in (1, 2, 3)
    }
    before = verdicts(honest, None)
    assert before[0] is RegionalVerdict.NOT_BLOCKED
    assert all(verdicts(x, None) == before for x in extremes(honest))
    sybils = {
        asn: [ProbeCounts(probe_id=f"s{asn}-{i}", uploader=EVIL, blocked=1) for i in range(50)]
        for asn in (1, 2, 3)
    }
    assert verdicts(combined(honest, sybils), None) == before
    # The same measurements weighed per probe id (uploader unknown) flip the country.
    per_id = {
        asn: [ProbeCounts(probe_id=p.probe_id, blocked=1) for p in ps] for asn, ps in sybils.items()
    }
    assert verdicts(combined(honest, per_id), None)[0] is RegionalVerdict.BLOCKED
