"""Score results.jsonl against golden cases: per-case rows and aggregate tables, overall and per tag.

Definitions (also in eval/README.md):
- correct answer: decided `answer`, the case should not escalate, and a cited source is expected.
- answerable: the case should not escalate and has an expected source.
- risk-coverage uses each case's confidence and whether its top retrieved source is expected (what it would
  cite if answered), so the curve covers every operating point, not only the current threshold.
- answer support: share of answer pieces whose content words overlap >= 0.8 with the text of the sources they
  cite (token overlap, the method stated in the report). A piece is the text up to and including its citation
  markers: a quoted Markdown passage (a list, a code block, a table) spans lines and is cited once, at its end.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from deflect.answer.confidence import content_words
from deflect.evaluation.golden import GoldenCase
from deflect.evaluation.metrics import (
    auroc,
    citation_precision,
    citation_recall,
    coverage_at_risk,
    fact_recall,
    mean,
    ndcg_at_k,
    percentile,
    recall_at_k,
    reciprocal_rank,
    risk_coverage_curve,
)
from deflect.evaluation.runner import CaseResult

SUPPORT_OVERLAP = 0.8
_MARKERS = re.compile(r"\[(\d+)\]")
# One or more markers closing a piece: `... text. [1]`, `... [1][2]`, or `[1]` on its own line after a code block.
_PIECE_END = re.compile(r"(?:\s*\[\d+\])+(?=\s|$)")
SourceText = Callable[[str], str]


def answer_support(answer: str, cited: Sequence[str], source_text: SourceText) -> float | None:
    """Share of answer pieces (text up to its markers) supported by the sources their markers cite."""
    if not answer.strip():
        return None
    pieces = _pieces(answer)
    supported = 0
    for piece in pieces:
        numbers = [int(n) for n in _MARKERS.findall(piece) if 1 <= int(n) <= len(cited)]
        words = content_words(_MARKERS.sub("", piece))
        text_words = content_words(" ".join(source_text(cited[n - 1]) for n in numbers))
        if numbers and words and len(words & text_words) / len(words) >= SUPPORT_OVERLAP:
            supported += 1
    return supported / len(pieces)


def _pieces(answer: str) -> list[str]:
    """The answer cut after each group of citation markers; trailing text without a marker is a piece too."""
    pieces, pos = [], 0
    for m in _PIECE_END.finditer(answer):
        pieces.append(answer[pos : m.end()])
        pos = m.end()
    pieces.append(answer[pos:])
    return [p for p in pieces if p.strip()]


def score_case(case: GoldenCase, result: CaseResult, source_text: SourceText) -> dict[str, Any]:
    """Per-case metric values (None where a metric does not apply)."""
    answered = result.decision == "answer"
    expected = case.expected_sources
    answerable = (not case.should_escalate) and bool(expected)
    would_be_right = answerable and bool(result.retrieved) and result.retrieved[0] in set(expected)
    return {
        "id": case.id,
        "tags": case.tags,
        "answered": answered,
        "should_escalate": case.should_escalate,
        "answerable": answerable,
        "correct": answered and answerable and bool(set(result.citations) & set(expected)),
        "would_be_right": would_be_right,
        "confidence": result.confidence,
        "latency_ms": result.latency_ms,
        "recall@1": recall_at_k(result.retrieved, expected, 1),
        "recall@5": recall_at_k(result.retrieved, expected, 5),
        "mrr@10": reciprocal_rank(result.retrieved, expected, 10),
        "ndcg@10": ndcg_at_k(result.retrieved, expected, 10),
        "citation_precision": citation_precision(result.citations, expected) if answered else None,
        "citation_recall": citation_recall(result.citations, expected) if answered else None,
        "answer_support": answer_support(result.answer, result.citations, source_text) if answered else None,
        "fact_recall": fact_recall(result.answer, case.must_include) if answered and answerable else None,
    }


def aggregate(rows: Sequence[dict[str, Any]]) -> dict[str, float | int | None]:
    """Aggregate metrics over per-case rows."""
    n = len(rows)
    answered = [r for r in rows if r["answered"]]
    escalated = [r for r in rows if not r["answered"]]
    should = [r for r in rows if r["should_escalate"]]
    curve = risk_coverage_curve([r["confidence"] for r in rows], [int(r["would_be_right"]) for r in rows])
    latencies = [r["latency_ms"] for r in rows]
    return {
        "cases": n,
        "recall@1": mean([r["recall@1"] for r in rows]),
        "recall@5": mean([r["recall@5"] for r in rows]),
        "mrr@10": mean([r["mrr@10"] for r in rows]),
        "ndcg@10": mean([r["ndcg@10"] for r in rows]),
        "citation_precision": mean([r["citation_precision"] for r in rows]),
        "citation_recall": mean([r["citation_recall"] for r in rows]),
        "answer_support": mean([r["answer_support"] for r in rows]),
        "fact_recall": mean([r["fact_recall"] for r in rows]),
        "deflection_rate": len(answered) / n if n else None,
        "escalation_precision": (sum(r["should_escalate"] for r in escalated) / len(escalated)) if escalated else None,
        "escalation_recall": (sum(not r["answered"] for r in should) / len(should)) if should else None,
        "wrong_answer_rate": (sum(not r["correct"] for r in answered) / len(answered)) if answered else None,
        "correct_answer_rate": (
            sum(r["correct"] for r in rows if r["answerable"]) / max(1, sum(r["answerable"] for r in rows))
        ),
        "auroc": auroc([r["confidence"] for r in rows], [int(r["would_be_right"]) for r in rows]),
        "coverage@5%risk": coverage_at_risk(curve, 0.05),
        "coverage@10%risk": coverage_at_risk(curve, 0.10),
        "latency_p50_ms": percentile(latencies, 50),
        "latency_p95_ms": percentile(latencies, 95),
    }


def by_tag(rows: Sequence[dict[str, Any]], min_cases: int = 3) -> dict[str, dict[str, float | int | None]]:
    """Aggregates for every tag with at least `min_cases` cases."""
    tags = sorted({t for r in rows for t in r["tags"] if not t.startswith("thread:")})
    out = {}
    for tag in tags:
        subset = [r for r in rows if tag in r["tags"]]
        if len(subset) >= min_cases:
            out[tag] = aggregate(subset)
    return out
