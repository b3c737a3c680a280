"""Named metrics: each takes per-case data and returns a float (per item) or an aggregate.

Conventions: a case with no expected source is skipped by retrieval metrics (it has no right answer to find);
ties in a ranking are broken by the ranking's own order, never in the metric's favour.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.token import Token

# Tokens whose `content` a reader sees as it is: prose, inline code, code blocks and raw HTML (the panel and the
# widget show an answer's HTML as text, never run it).
_SHOWN = frozenset({"text", "code_inline", "code_block", "fence", "html_inline", "html_block"})


def recall_at_k(retrieved: Sequence[str], expected: Sequence[str], k: int) -> float | None:
    """1.0 if any expected source is in the top k, else 0.0; None when nothing is expected."""
    if not expected:
        return None
    return 1.0 if set(retrieved[:k]) & set(expected) else 0.0


def reciprocal_rank(retrieved: Sequence[str], expected: Sequence[str], k: int = 10) -> float | None:
    """1/rank of the first expected source within the top k (0 if absent); None when nothing is expected."""
    if not expected:
        return None
    wanted = set(expected)
    for rank, sid in enumerate(retrieved[:k], start=1):
        if sid in wanted:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(retrieved: Sequence[str], expected: Sequence[str], k: int = 10) -> float | None:
    """Binary-relevance nDCG@k, each expected source counted once; None when nothing is expected."""
    if not expected:
        return None
    wanted = set(expected)
    seen: set[str] = set()
    dcg = 0.0
    for rank, sid in enumerate(retrieved[:k], start=1):
        if sid in wanted and sid not in seen:
            seen.add(sid)
            dcg += 1.0 / math.log2(rank + 1)
    ideal = sum(1.0 / math.log2(r + 1) for r in range(1, min(len(wanted), k) + 1))
    return dcg / ideal


def mean(values: Sequence[float | None]) -> float | None:
    """Mean of the defined values; None when there are none."""
    defined = [v for v in values if v is not None]
    return sum(defined) / len(defined) if defined else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile, q in [0, 100]."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def citation_precision(cited: Sequence[str], expected: Sequence[str]) -> float | None:
    """Share of distinct cited sources that are expected; None when nothing was cited or nothing is expected."""
    distinct = list(dict.fromkeys(cited))
    if not distinct or not expected:
        return None
    return sum(1 for c in distinct if c in set(expected)) / len(distinct)


def citation_recall(cited: Sequence[str], expected: Sequence[str]) -> float | None:
    """1.0 when at least one expected source is cited (any expected source is a correct one); None if none expected."""
    if not expected:
        return None
    return 1.0 if set(cited) & set(expected) else 0.0


def fact_recall(answer: str, facts: Sequence[str]) -> float | None:
    """Share of must-include facts found verbatim (case-insensitive, whitespace-folded) in the answer as a reader
    sees it (visible_text): "**CSV** or **JSON**" states the fact "CSV or JSON"."""
    if not facts:
        return None
    folded = " ".join(visible_text(answer).lower().split())
    return sum(1 for f in facts if " ".join(f.lower().split()) in folded) / len(facts)


def visible_text(markdown: str) -> str:
    """The text a reader sees when an answer's Markdown is rendered: emphasis, code-span backticks, link targets and
    escapes gone, code and raw HTML kept as written, blocks and line breaks as spaces. Facts and key terms are matched
    against this, not the Markdown source, where a bold word or an `Alt`+`S` splits the phrase being looked for."""
    out: list[str] = []
    _walk(_markdown().parse(markdown), out)
    return "".join(out)


def _walk(tokens: Sequence[Token], out: list[str]) -> None:
    for token in tokens:
        if token.children:
            _walk(token.children, out)
        elif token.type in _SHOWN:
            out.append(token.content)
        if token.type in ("softbreak", "hardbreak") or (token.block and token.nesting <= 0):
            out.append(" ")


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    """CommonMark plus the tables and strikethrough answers use (GFM); built once."""
    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


def auroc(scores: Sequence[float], labels: Sequence[int]) -> float | None:
    """Area under the ROC curve (probability a positive outranks a negative; ties count half)."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not pos or not neg:
        return None
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def risk_coverage_curve(scores: Sequence[float], labels: Sequence[int]) -> list[tuple[float, float, float]]:
    """(threshold, coverage, risk) when answering every case scoring >= threshold, for each distinct score.

    coverage = correct answers / all cases that could be answered correctly; risk = wrong / answered."""
    positives = sum(labels)
    points = []
    for t in sorted(set(scores), reverse=True):
        answered = [y for s, y in zip(scores, labels, strict=True) if s >= t]
        right = sum(answered)
        points.append((t, right / positives if positives else 0.0, (len(answered) - right) / len(answered)))
    return points


def coverage_at_risk(curve: Sequence[tuple[float, float, float]], max_risk: float) -> float:
    """Best coverage among operating points whose risk is at most max_risk (0 if none)."""
    return max((cov for _, cov, risk in curve if risk <= max_risk), default=0.0)
