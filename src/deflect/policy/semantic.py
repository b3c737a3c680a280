"""Embedding-prototype scores for the semantic trigger rules, computed by the caller and passed to decide().

The score of a message for a reason is its highest cosine with that reason's prototype phrases. The embedder is
a `deflect.domain.ports.Embedder` handed in (unit vectors, so a dot product is the cosine); this module loads no
model itself and keeps `decide()` pure: decide only compares the scores it is given with the configured thresholds.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np

from deflect.domain.ports import Embedder
from deflect.policy.rules import SemanticRule, TriggerRules, tuned_for

log = logging.getLogger(__name__)


class PrototypeScorer:
    """Embeds every rule's prototype phrases once; then scores messages by reason."""

    def __init__(self, embedder: Embedder, rules: Mapping[str, SemanticRule]) -> None:
        self._embedder = embedder
        phrases = [(reason, text) for reason, rule in rules.items() for text in rule.prototypes]
        vectors = embedder.embed_questions([text for _, text in phrases])
        by_reason: dict[str, list[Sequence[float]]] = {reason: [] for reason in rules}
        for (reason, _), vector in zip(phrases, vectors, strict=True):
            by_reason[reason].append(vector)
        # One matrix per reason: every ask scores against all of them, and a Python loop over ~400 dimensions per
        # prototype cost ~3 ms of each ask (benchmarks/scale.py).
        self._prototypes = {reason: np.asarray(vs, dtype=np.float32) for reason, vs in by_reason.items()}

    @classmethod
    def from_triggers(
        cls, embedder: Embedder, triggers: TriggerRules, include_inactive: bool = False
    ) -> PrototypeScorer:
        """A scorer for the rules' active semantic triggers (all of them when `include_inactive`, for evaluation).

        With an embedder other than `triggers.semantic_model` the scorer scores nothing (the thresholds would be
        meaningless), so only the patterns run; this is logged once, here."""
        rules = {r: rule for r, rule in triggers.semantic.items() if rule.active or include_inactive}
        if rules and not tuned_for(embedder.name, triggers.semantic_model):
            log.warning(
                "semantic trigger thresholds were tuned for %r, not for embedder %r: only patterns will run",
                triggers.semantic_model,
                embedder.name,
            )
            rules = {}
        return cls(embedder, rules)

    def score(self, message: str) -> dict[str, float]:
        """Highest prototype cosine per reason for one message (empty when no rule is semantic)."""
        return self.score_many([message])[0]

    def score_vector(self, vector: Sequence[float]) -> dict[str, float]:
        """Scores for a message already embedded by the same model (e.g. the retrieval query vector)."""
        return prototype_scores(vector, self._prototypes)

    def score_many(self, messages: Sequence[str]) -> list[dict[str, float]]:
        """Scores for many messages, embedded in one batch."""
        if not self._prototypes:
            return [{} for _ in messages]
        return [prototype_scores(vector, self._prototypes) for vector in self._embedder.embed_questions(list(messages))]


def prototype_scores(
    vector: Sequence[float], prototypes: Mapping[str, Sequence[Sequence[float]] | np.ndarray]
) -> dict[str, float]:
    """Highest cosine between a unit vector and each reason's unit prototype vectors (-1 when it has none)."""
    v = np.asarray(vector, dtype=np.float32)
    out: dict[str, float] = {}
    for reason, protos in prototypes.items():
        matrix = np.asarray(protos, dtype=np.float32)
        out[reason] = float((matrix @ v).max()) if matrix.size else -1.0
    return out
