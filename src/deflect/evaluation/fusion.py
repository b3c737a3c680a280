"""Measure retrieval variants on the same candidates: BM25 alone, dense alone, and weighted fusions."""

from __future__ import annotations

from collections.abc import Sequence

from deflect.evaluation.golden import GoldenCase
from deflect.evaluation.metrics import mean, recall_at_k, reciprocal_rank
from deflect.retrieval.hybrid import HybridRetriever, fuse, rank_sources

DEFAULT_WEIGHTS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)


def sweep(
    retriever: HybridRetriever, cases: Sequence[GoldenCase], weights: Sequence[float] = DEFAULT_WEIGHTS
) -> dict[str, dict[str, float | None]]:
    """R@1, R@5 and MRR@10 for `bm25`, `dense` (w=0) and `fused@w` for each weight, over answerable cases."""
    runs: dict[str, list[list[str]]] = {"bm25": []}
    runs.update({f"fused@{w:g}": [] for w in weights})
    scored = [c for c in cases if c.expected_sources]
    for case in scored:
        dense, keyword = retriever.candidates(case.question, case.audience.visible())
        runs["bm25"].append([h.source_id for h in rank_sources(fuse([], keyword, 1.0), 10)])
        for w in weights:
            runs[f"fused@{w:g}"].append([h.source_id for h in rank_sources(fuse(dense, keyword, w), 10)])
    table = {}
    for name, ranked in runs.items():
        table["dense" if name == "fused@0" else name] = {
            "R@1": mean([recall_at_k(r, c.expected_sources, 1) for r, c in zip(ranked, scored, strict=True)]),
            "R@5": mean([recall_at_k(r, c.expected_sources, 5) for r, c in zip(ranked, scored, strict=True)]),
            "MRR@10": mean([reciprocal_rank(r, c.expected_sources, 10) for r, c in zip(ranked, scored, strict=True)]),
        }
    return table
