"""The evidence an analysis accumulates while its rules run: hits, notes, fingerprints, down signs.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from probe.analysis.rules import rule
from probe.model import FingerprintMatch, Method, RuleHit


@dataclass
class Evidence:
    """Mutable accumulator owned by one `analyse` call."""

    hits: list[RuleHit] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fingerprints: list[FingerprintMatch] = field(default_factory=list)
    down: list[str] = field(default_factory=list)
    unexplained: list[str] = field(default_factory=list)
    server_side: list[str] = field(default_factory=list)
    elsewhere: list[tuple[str, str, Method | None, float]] = field(default_factory=list)
    """Hits about endpoints the URL's own fetch did not use, held until its outcome is known."""

    def hit(
        self, rule_id: str, detail: str, *, method: Method | None = None, factor: float = 1.0
    ) -> None:
        """Record that a rule fired; a rule fires once per method, later details are dropped."""
        found = rule(rule_id)
        chosen = method if method is not None else found.method
        if any(h.rule == rule_id and h.method == chosen for h in self.hits):
            return
        weight = round(max(0.0, min(1.0, found.weight * factor)), 3)
        self.hits.append(RuleHit(rule=rule_id, method=chosen, weight=weight, detail=detail))

    def hit_elsewhere(
        self, rule_id: str, detail: str, *, method: Method | None = None, factor: float = 1.0
    ) -> None:
        """Hold a hit about an endpoint the URL's own fetch did not need; return nothing."""
        self.elsewhere.append((rule_id, detail, method, factor))

    def settle_elsewhere(self, *, fetch_succeeded: bool) -> None:
        """Keep the held hits as observations when the URL's fetch succeeded, else count them.

        A URL's verdict is about that URL: a handshake failing on an endpoint its fetch never
        needed (443 for an http:// URL that loaded) cannot make it blocked.
        """
        for rule_id, detail, method, factor in self.elsewhere:
            if fetch_succeeded:
                self.note(f"not needed by this URL's fetch, which succeeded: {detail}")
            else:
                self.hit(rule_id, detail, method=method, factor=factor)
        self.elsewhere.clear()

    def note(self, text: str) -> None:
        """Record an observation that does not change the verdict (once)."""
        if text not in self.notes:
            self.notes.append(text)

    def methods(self) -> list[Method]:
        """Return the distinct methods of the hits, strongest first."""
        best: dict[Method, float] = {}
        for h in self.hits:
            if h.method is not None:
                best[h.method] = max(best.get(h.method, 0.0), h.weight)
        return sorted(best, key=lambda m: (-best[m], m.value))

    def blocking_confidence(self) -> float:
        """Return 1 - product(1 - w) over the strongest hit per method, capped at 0.99."""
        best: dict[Method | None, float] = {}
        for h in self.hits:
            best[h.method] = max(best.get(h.method, 0.0), h.weight)
        remaining = 1.0
        for weight in best.values():
            remaining *= 1.0 - weight
        return round(min(0.99, 1.0 - remaining), 3)
