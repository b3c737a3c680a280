"""Named metrics: each takes per-case data and returns a float (per item) or an aggregate.

Conventions: a case with no expected source is skipped by retrieval metrics (it has no right answer to find);
ties in a ranking are broken by the ranking's own order, never in the metric's favour.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


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
