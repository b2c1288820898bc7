"""The regional model's arithmetic over whole columns: many networks, many domains at once.

Pure (numpy, no I/O). The product's only implementation of the model's decisions: reports call
it for every network of a country (or of each day) in one go. The model is documented in
docs/methodology.md ("Regional verdicts"); the thresholds are `regional.model.ModelSettings`;
tests/collector/regional_oracle.py is the same model one value at a time, for property tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from collector.regional.incomplete_beta import beta_survival
from collector.regional.model import ModelSettings, RegionalVerdict, verdict_code

Z_95 = 1.959964
WEIGHT_DIGITS = 9
"""Weighted counts are exact to this many decimals (the stores sum them exactly and round
them so): below it, a count's last bits are float noise that must not decide its rounding."""

BLOCKED = verdict_code(RegionalVerdict.BLOCKED)
NOT_BLOCKED = verdict_code(RegionalVerdict.NOT_BLOCKED)
MIXED = verdict_code(RegionalVerdict.MIXED)
INSUFFICIENT = verdict_code(RegionalVerdict.INSUFFICIENT)

Floats = npt.NDArray[np.float64]

_DISTINCT_FROM = 64
"""From this many tails, `posterior_above` evaluates each distinct one once."""
Ints = npt.NDArray[np.int64]
Codes = npt.NDArray[np.int8]


def posterior_above(successes: Floats, failures: Floats, threshold: Floats) -> Floats:
    """Return P(share > threshold) under Beta(1 + successes, 1 + failures) posteriors.

    Counts are rounded first (capped weights make them fractional), to `WEIGHT_DIGITS`
    decimals and then half to even, so a count of exactly 5.5 is 6 whatever its last bits:
    P(Beta(a, b) > x) is the regularised incomplete beta I_{1-x}(b, a), a binomial tail for
    these whole counts.
    """
    a = 1.0 + np.rint(np.round(successes, WEIGHT_DIGITS))
    b = 1.0 + np.rint(np.round(failures, WEIGHT_DIGITS))
    a, b, threshold = np.broadcast_arrays(a, b, np.asarray(threshold, dtype=np.float64))
    if a.size < _DISTINCT_FROM or not (np.isfinite(a).all() and np.isfinite(b).all()):
        return beta_survival(a, b, threshold)
    # Reports ask for few distinct (count, count, threshold) triples (254,000 tails of the
    # overview are 6,000 triples): evaluate each once. Same values, elementwise.
    levels, level_at = np.unique(threshold, return_inverse=True)
    high_a, high_b = float(a.max()), float(b.max())
    if min(a.min(), b.min()) < 0.0 or (high_a + 1.0) * (high_b + 1.0) * len(levels) >= 2.0**62:
        return beta_survival(a, b, threshold)
    key = (a.astype(np.int64) * (int(high_b) + 1) + b.astype(np.int64)) * len(levels) + level_at
    _, first, where = np.unique(key, return_index=True, return_inverse=True)
    return beta_survival(a[first], b[first], threshold[first])[where]


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


def decision_levels(enough: npt.NDArray[np.bool_], group: Ints, settings: ModelSettings) -> Floats:
    """Return each network's decision level: `decide_at` corrected for the k networks of its
    domain (`group`) with enough data to decide, 1 - (1 - decide_at) / k (Bonferroni: among 150
    small networks, a few look blocked by chance)."""
    groups = int(group.max()) + 1 if len(group) else 0
    k = np.bincount(group, weights=enough, minlength=groups)[group] if groups else np.empty(0)
    return np.asarray(1.0 - (1.0 - settings.decide_at) / np.maximum(k, 1.0), dtype=np.float64)


def decide_networks(
    columns: NetworkColumns, settings: ModelSettings, group: Ints | None = None
) -> NetworkDecisions:
    """Return each network's verdict, confidence, capped blocked share and Wilson interval
    (`group[i]`: network i's domain; all one domain when None).

    `blocked` when P(share > τ) clears the network's decision level (`decision_levels`), or the
    share is at least τ and a measurement is confirmed; `not blocked` when P(share > τ) is at
    most 1 - `decide_at`; `mixed` when P(`partial_share` < share < 1 - `partial_share`) clears
    the decision level (some attempts, not all, are blocked); else `insufficient data`, as
    without enough data: no verdict is given below the confidence floor. τ is `blocked_share`
    raised by the baseline.
    """
    bw, ow = columns.blocked_w, columns.ok_w
    trials = bw + ow
    enough = (
        (columns.informative >= settings.min_measurements)
        & (columns.informative_probes >= settings.min_probes)
        & (trials > 0)
    )
    level = decision_levels(
        enough, np.zeros(len(bw), np.int64) if group is None else group, settings
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        share: Floats = np.where(enough, bw / trials, np.nan).astype(np.float64)
    block_at = raised_by_baseline(settings.blocked_share, columns.baseline, settings)
    # The three tails in one call (elementwise, so the same values; one call costs less).
    n = len(bw)
    tails = posterior_above(
        np.tile(bw, 3),
        np.tile(ow, 3),
        np.concatenate(
            [
                block_at,
                raised_by_baseline(settings.partial_share, columns.baseline, settings),
                np.full(n, 1.0 - settings.partial_share),
            ]
        ),
    )
    above = tails[:n]
    partly = tails[n : 2 * n] - tails[2 * n :]
    blocked = enough & ((above >= level) | ((share >= block_at) & (columns.confirmed > 0)))
    clear = enough & ~blocked & (above <= 1.0 - settings.decide_at)
    mixed = enough & ~blocked & ~clear & (partly >= level)
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
    mixed_networks: Ints
    clear_networks: Ints


def _group_extreme(
    ufunc: np.ufunc,
    start: float,
    group: Ints,
    mask: npt.NDArray[np.bool_],
    values: Floats,
    *,
    groups: int,
) -> Floats:
    out = np.full(groups, start)
    ufunc.at(out, group[mask], values[mask])
    return out


def _set_rule(blocked_n: Ints, mixed_n: Ints, clear_n: Ints) -> Codes:
    decided = blocked_n + mixed_n + clear_n
    return np.select(
        [decided == 0, blocked_n == decided, clear_n == decided],
        [INSUFFICIENT, BLOCKED, NOT_BLOCKED],
        MIXED,
    ).astype(np.int8)


def combine_verdicts(
    group: Ints, groups: int, verdict: Codes, confidence: Floats
) -> DomainDecisions:
    """Return each domain's verdict from its networks' verdicts (`group[i]` is network i's
    domain, 0 to `groups` - 1): a function of those verdicts alone, so the two never disagree.

    Networks with `insufficient data` are set aside. `blocked` when every other network blocks
    (confidence: that at least one truly does, 1 - Π(1 - cᵢ)); `not blocked` when every other
    network is clear (the weakest clear one's confidence); `mixed` otherwise, that is blocked or
    partly blocked in some networks and not in others (confidence: that at least one of the
    blocked or mixed networks truly blocks); `insufficient data` when no network is decided.
    """
    is_blocked = verdict == BLOCKED
    is_mixed = verdict == MIXED
    is_clear = verdict == NOT_BLOCKED
    blocked_n = np.bincount(group, weights=is_blocked, minlength=groups).astype(np.int64)
    mixed_n = np.bincount(group, weights=is_mixed, minlength=groups).astype(np.int64)
    clear_n = np.bincount(group, weights=is_clear, minlength=groups).astype(np.int64)
    out = _set_rule(blocked_n, mixed_n, clear_n)
    blocking = is_blocked | is_mixed
    with np.errstate(divide="ignore"):
        log_free = np.where(blocking, np.log1p(-np.minimum(confidence, 1.0)), 0.0)
    some_blocked = 1.0 - np.exp(np.bincount(group, weights=log_free, minlength=groups))
    weakest_clear = _group_extreme(np.minimum, np.inf, group, is_clear, confidence, groups=groups)
    out_confidence = np.select(
        [out == BLOCKED, out == MIXED, out == NOT_BLOCKED],
        [some_blocked, some_blocked, weakest_clear],
        0.0,
    )
    return DomainDecisions(
        verdict=out,
        confidence=np.round(np.minimum(0.999, out_confidence), 3),
        blocked_networks=blocked_n,
        mixed_networks=mixed_n,
        clear_networks=clear_n,
    )


def reconcile(
    verdict: Codes, confidence: Floats, member_of: Ints, days: Codes, day_confidence: Floats
) -> tuple[Codes, Floats]:
    """Return each network's window verdict made to agree with its daily verdicts
    (`member_of[j]`: the window network of daily verdict j).

    The window's and the days' verdicts of a network go through the same set rule as networks
    do in `combine_verdicts`: a network blocked on some days and clear on others (or over the
    window) is `mixed`. The confidence stays the window's where its verdict stands; else it is
    the strongest blocked or mixed day's for `mixed` and `blocked`, the weakest clear day's for
    `not blocked`.
    """
    n = len(verdict)
    group = np.concatenate([np.arange(n, dtype=np.int64), member_of.astype(np.int64)])
    every = np.concatenate([verdict, days]).astype(np.int8)
    conf = np.concatenate([confidence, day_confidence]).astype(np.float64)
    is_blocked, is_mixed, is_clear = every == BLOCKED, every == MIXED, every == NOT_BLOCKED
    counts = [
        np.bincount(group, weights=m, minlength=n).astype(np.int64)
        for m in (is_blocked, is_mixed, is_clear)
    ]
    out = _set_rule(*counts)
    strongest_blocking = _group_extreme(
        np.maximum, 0.0, group, is_blocked | is_mixed, conf, groups=n
    )
    strongest_blocked = _group_extreme(np.maximum, 0.0, group, is_blocked, conf, groups=n)
    weakest_clear = _group_extreme(np.minimum, 1.0, group, is_clear, conf, groups=n)
    changed = np.select(
        [out == MIXED, out == BLOCKED, out == NOT_BLOCKED],
        [strongest_blocking, strongest_blocked, weakest_clear],
        0.0,
    )
    return out, np.where(out == verdict, confidence, changed)
