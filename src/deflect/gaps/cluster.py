"""Average-linkage agglomerative clustering over unit vectors, stopped at a cosine threshold. Deterministic.

Average linkage: the similarity of two clusters is the mean cosine over every pair of their members, so a cluster
grows only while its members are, on average, as close as the threshold asks; a single chaining pair cannot glue
two topics together (as it can with single linkage). Updates follow Lance-Williams, O(n^2) memory and about
O(n^3) time in the worst case: fine for the few thousand questions a window holds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def cluster(
    questions: Sequence[str], vectors: Sequence[Sequence[float]] | np.ndarray, threshold: float
) -> list[list[int]]:
    """Group question indexes whose average pairwise cosine is at least `threshold`.

    Clusters come largest first (ties: earliest text), members in input order; the result does not depend on the
    input order of the questions.
    """
    if len(questions) != len(vectors):
        raise ValueError("one vector per question is required")
    n = len(questions)
    if n == 0:
        return []
    # A canonical order, so ties (duplicate questions, equal similarities) break the same way on every run.
    order = sorted(range(n), key=lambda i: (questions[i], i))
    mat = np.asarray([vectors[i] for i in order], dtype=np.float64)
    sim = mat @ mat.T
    np.fill_diagonal(sim, -np.inf)
    sizes = np.ones(n)
    alive = np.ones(n, dtype=bool)
    members: list[list[int]] = [[i] for i in range(n)]
    while alive.sum() > 1:
        flat = int(np.argmax(sim))
        a, b = divmod(flat, n)
        if sim[a, b] < threshold:
            break
        a, b = min(a, b), max(a, b)
        # Lance-Williams for average linkage: the merged row is the size-weighted mean of the two rows.
        merged = (sizes[a] * sim[a] + sizes[b] * sim[b]) / (sizes[a] + sizes[b])
        sim[a], sim[:, a] = merged, merged
        sim[b], sim[:, b] = -np.inf, -np.inf
        sim[a, a] = -np.inf
        sizes[a] += sizes[b]
        alive[b] = False
        members[a].extend(members[b])
        members[b] = []
    groups = [sorted(order[i] for i in members[k]) for k in range(n) if alive[k]]
    groups.sort(key=lambda g: (-len(g), min(questions[i] for i in g), g[0]))
    return groups
