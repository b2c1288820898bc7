"""The regional model's arithmetic over whole columns: many networks, many domains at once.

Pure (numpy, no I/O). `collector.regional.model` calls it for one network or one domain;
reports call it for every network of a country in one go. The model is documented in
docs/methodology.md ("Regional verdicts"); the thresholds are `regional.ModelSettings`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from collector.regional.incomplete_beta import beta_survival

if TYPE_CHECKING:
    from collector.regional.model import ModelSettings

Z_95 = 1.959964

BLOCKED, NOT_BLOCKED, MIXED, INSUFFICIENT = 0, 1, 2, 3
"""Verdict codes of the columns (`regional.RegionalVerdict` by index)."""

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Codes = npt.NDArray[np.int8]


def posterior_above(successes: Floats, failures: Floats, threshold: Floats) -> Floats:
    """Return P(share > threshold) under Beta(1 + successes, 1 + failures) posteriors.

    Counts are rounded first (capped weights make them fractional): P(Beta(a, b) > x) is the
    regularised incomplete beta I_{1-x}(b, a), a binomial tail for these whole counts.
    """
    return beta_survival(1.0 + np.rint(successes), 1.0 + np.rint(failures), threshold)


def wilson_interval(successes: Floats, trials: Floats, z: float = Z_95) -> tuple[Floats, Floats]:
    """Return the Wilson score intervals of proportions ((0, 1) where there are no trials)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        p = successes / trials
        denominator = 1 + z * z / trials
        centre = (p + z * z / (2 * trials)) / denominator
        half = z * np.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    empty = trials <= 0
    low = np.where(empty, 0.0, np.maximum(0.0, centre - half))
    high = np.where(empty, 1.0, np.minimum(1.0, centre + half))
    return low, high


@dataclass(frozen=True)
class NetworkColumns:
    """The model's inputs, one entry per (domain, network): weighted and raw counts."""

    blocked_w: Floats
    ok_w: Floats
    informative: Ints
    informative_probes: Ints
    confirmed: Ints
    """Measurements confirmed by a blockpage fingerprint or by packet evidence."""
    baseline: Floats
    """The domain's noise baseline from other countries (NaN: none)."""


@dataclass(frozen=True)
class NetworkDecisions:
    """One verdict per network; share and interval are NaN where the data is insufficient."""

    verdict: Codes
    confidence: Floats
    share: Floats
    low: Floats
    high: Floats


def raised_by_baseline(share: float, baseline: Floats, settings: ModelSettings) -> Floats:
    """Return `share` raised, where a domain's noise baseline is known, to at least the
    baseline plus `baseline_margin` (at most 0.95)."""
    raised = np.maximum(share, np.minimum(0.95, baseline + settings.baseline_margin))
    return np.where(np.isnan(baseline), share, raised)


def decide_networks(columns: NetworkColumns, settings: ModelSettings) -> NetworkDecisions:
    """Return each network's verdict, confidence, capped blocked share and Wilson interval.

    A `mixed` network's confidence is the probability that its blocked share exceeds
    `partial_share` (raised by the noise baseline): that some of its attempts really are
    blocked.
    """
    bw, ow = columns.blocked_w, columns.ok_w
    trials = bw + ow
    enough = (
        (columns.informative >= settings.min_measurements)
        & (columns.informative_probes >= settings.min_probes)
        & (trials > 0)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        share: Floats = np.where(enough, bw / trials, np.nan).astype(np.float64)
    block_at = raised_by_baseline(settings.blocked_share, columns.baseline, settings)
    above = posterior_above(bw, ow, block_at)
    partly = posterior_above(
        bw, ow, raised_by_baseline(settings.partial_share, columns.baseline, settings)
    )
    blocked = enough & (
        (above >= settings.decide_at) | ((share >= block_at) & (columns.confirmed > 0))
    )
    clear = enough & ~blocked & (above <= 1.0 - settings.decide_at)
    mixed = enough & ~blocked & ~clear
    verdict = np.full(len(bw), INSUFFICIENT, dtype=np.int8)
    verdict[blocked] = BLOCKED
    verdict[clear] = NOT_BLOCKED
    verdict[mixed] = MIXED
    confidence = np.select([blocked, clear, mixed], [above, 1.0 - above, partly], 0.0)
    low, high = wilson_interval(bw, trials)
    return NetworkDecisions(
        verdict=verdict,
        confidence=np.round(confidence, 3),
        share=np.round(share, 4),
        low=np.where(enough, np.round(low, 4), np.nan),
        high=np.where(enough, np.round(high, 4), np.nan),
    )


@dataclass(frozen=True)
class DomainDecisions:
    """One verdict per domain, from its networks' verdicts."""

    verdict: Codes
    confidence: Floats
    blocked_networks: Ints
    clear_networks: Ints


def _group_min(group: Ints, mask: npt.NDArray[np.bool_], values: Floats, groups: int) -> Floats:
    out = np.full(groups, np.inf)
    np.minimum.at(out, group[mask], values[mask])
    return out


def combine_domains(
    group: Ints,
    groups: int,
    columns: NetworkColumns,
    networks: NetworkDecisions,
    settings: ModelSettings,
) -> DomainDecisions:
    """Return each domain's verdict from its networks' decisions (`group[i]` is network i's
    domain, 0 to `groups` - 1).

    A blocking network is significant when its confidence clears the decision level corrected
    for the domain's k decided networks, 1 - (1 - decide_at) / k (Bonferroni: among 150 small
    networks, a few look blocked by chance). The domain is blocked when every decided network
    blocks (confidence: that at least one truly does), or when a significant one blocks and no
    network is clear (that confidence, scaled by the share of decided networks that block);
    mixed when a significant one blocks and another is clear (the weakest significant one's
    confidence); not blocked when no significant network blocks and one is clear (the weakest
    clear one's, scaled by the share of decided networks that are clear). When the decided
    networks are all undecided between the two, their pooled counts decide: mixed if some
    blocking is likely (P(share > partial_share, raised by the baseline) at least decide_at),
    else insufficient data, as when no network could be decided.
    """
    verdict = networks.verdict
    is_blocked = verdict == BLOCKED
    is_clear = verdict == NOT_BLOCKED
    is_decided = verdict != INSUFFICIENT
    blocked_n = np.bincount(group, weights=is_blocked, minlength=groups).astype(np.int64)
    clear_n = np.bincount(group, weights=is_clear, minlength=groups).astype(np.int64)
    decided_n = np.bincount(group, weights=is_decided, minlength=groups).astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        corrected = 1.0 - (1.0 - settings.decide_at) / decided_n[group]
    is_significant = is_blocked & (networks.confidence >= corrected)
    significant_n = np.bincount(group, weights=is_significant, minlength=groups)
    with np.errstate(divide="ignore"):
        log_free = np.where(is_blocked, np.log1p(-np.minimum(networks.confidence, 1.0)), 0.0)
    all_blocked = 1.0 - np.exp(np.bincount(group, weights=log_free, minlength=groups))
    weakest_significant = _group_min(group, is_significant, networks.confidence, groups)
    weakest_clear = _group_min(group, is_clear, networks.confidence, groups)
    with np.errstate(divide="ignore", invalid="ignore"):  # only where no network qualifies
        clear_share = clear_n / decided_n
        not_blocked = weakest_clear * clear_share
    with np.errstate(divide="ignore", invalid="ignore"):
        mostly_blocked = all_blocked * blocked_n / decided_n
    undecided = verdict == MIXED
    baseline = np.full(groups, np.nan)
    baseline[group] = columns.baseline
    partly = posterior_above(
        np.bincount(group, weights=columns.blocked_w * undecided, minlength=groups).astype(float),
        np.bincount(group, weights=columns.ok_w * undecided, minlength=groups).astype(float),
        raised_by_baseline(settings.partial_share, baseline, settings),
    )
    conditions = [
        decided_n == 0,
        (blocked_n > 0) & (blocked_n == decided_n),
        (significant_n > 0) & (clear_n == 0),
        significant_n > 0,
        clear_n > 0,
        partly >= settings.decide_at,
    ]
    out_verdict = np.select(
        conditions, [INSUFFICIENT, BLOCKED, BLOCKED, MIXED, NOT_BLOCKED, MIXED], INSUFFICIENT
    ).astype(np.int8)
    confidence = np.select(
        conditions,
        [0.0, all_blocked, mostly_blocked, weakest_significant, not_blocked, partly],
        0.0,
    )
    return DomainDecisions(
        verdict=out_verdict,
        confidence=np.round(np.minimum(0.999, confidence), 3),
        blocked_networks=blocked_n,
        clear_networks=clear_n,
    )


def daily_verdicts(blocked: Ints | Floats, ok: Ints | Floats, settings: ModelSettings) -> Codes:
    """Return a country's verdict for each day from that day's blocked and ok counts (weighted
    like the window's by the report SQL; see `regional.daily_verdict`)."""
    above = posterior_above(
        blocked.astype(np.float64),
        ok.astype(np.float64),
        np.full(len(blocked), settings.blocked_share),
    )
    return np.select(
        [
            blocked + ok < settings.min_measurements,
            above >= settings.decide_at,
            above <= 1.0 - settings.decide_at,
        ],
        [INSUFFICIENT, BLOCKED, NOT_BLOCKED],
        MIXED,
    ).astype(np.int8)
