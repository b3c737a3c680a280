"""Measure an embedding model's cosine scale (deflect.domain.cosine) on deflect's own out-of-domain questions.

The questions are written by us, unrelated to each other and to any KB, and self-calibration embeds them anyway, so
measuring costs nothing. e5 measured 0.783, MiniLM 0.073 (the reference); at MiniLM's raw 0.8 under e5 every FAQ of
a Portuguese KB "said the same" as every other, left-out probes lost every other source, and the threshold fitted
on them answered 96% of the questions that had to escalate (docs/retrieval.md, session 15).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deflect.domain.cosine import CosineScale
from deflect.domain.ports import Embedder


def measure(embedder: Embedder, unrelated_questions: Sequence[str]) -> CosineScale:
    """The scale of `embedder`, from questions unrelated to each other (the reference with fewer than two)."""
    if len(unrelated_questions) < 2:
        return CosineScale()
    vectors = np.asarray(embedder.embed_questions(list(unrelated_questions)), dtype=np.float64)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)
    pairs = (vectors @ vectors.T)[np.triu_indices(len(vectors), 1)]
    # Rounded, so that float noise never moves MiniLM off the reference (0.07298 is 0.0005 from a rounding edge);
    # capped below 1 (a model that maps everything to one vector would divide by zero).
    return CosineScale(min(round(float(np.median(pairs)), 3), 0.95))
