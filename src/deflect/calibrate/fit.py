"""Fitting primitives: a regularised logistic model and a threshold chosen for a target wrong-answer rate.

Pure numpy, no I/O: both self-calibration (fitted on the KB itself) and golden-set calibration use them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Sample:
    """One calibration case: its features and whether answering with the top source would be right."""

    group: str  # cases of one group (one source, one StackFAQ thread) stay on the same side of a split
    features: dict[str, float]
    label: int
    kind: str = ""  # where it came from (escalation/title/heading/left_out/out_of_domain/golden), for reports


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, iters: int = 50) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression by Newton's method; returns (weights, bias)."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    reg = l2 * np.eye(xb.shape[1])
    reg[-1, -1] = 0.0  # the bias is not shrunk
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ w, -50, 50)))
        grad = xb.T @ (p - y) + reg @ w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + reg
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], float(w[-1])


def risk_coverage(
    conf: Sequence[float], labels: Sequence[int], threshold: float, weights: Sequence[float] | None = None
) -> tuple[float, float, int]:
    """(risk = wrong among answered, coverage = right answered / all right, answered count) at a threshold.

    With `weights`, each case counts that much in risk and coverage (the count stays a plain count)."""
    w = list(weights) if weights is not None else [1.0] * len(labels)
    answered = [(lab, wt) for c, lab, wt in zip(conf, labels, w, strict=True) if c >= threshold]
    mass = sum(wt for _, wt in answered)
    right = sum(wt for lab, wt in answered if lab)
    positives = sum(wt for lab, wt in zip(labels, w, strict=True) if lab)
    risk = (mass - right) / mass if mass else 0.0
    coverage = right / positives if positives else 0.0
    return risk, coverage, len(answered)


def choose_threshold(
    conf: Sequence[float], labels: Sequence[int], target_risk: float, weights: Sequence[float] | None = None
) -> float:
    """The lowest threshold whose risk is within target (most coverage); 1.0 if none is.

    One pass over the confidences sorted from high to low: the risk at each candidate threshold is the running
    (weighted) share of wrong answers above it."""
    w = list(weights) if weights is not None else [1.0] * len(labels)
    triples = sorted(zip(conf, labels, w, strict=True), key=lambda p: -p[0])
    best = 1.0
    wrong = answered = 0.0
    i = 0
    while i < len(triples):
        t = triples[i][0]
        while i < len(triples) and triples[i][0] == t:  # ties are answered together
            answered += triples[i][2]
            wrong += (1 - triples[i][1]) * triples[i][2]
            i += 1
        if answered > 0 and wrong / answered <= target_risk:
            best = float(t)
    return best


def fold_of(group: str, folds: int, salt: str = "deflect") -> int:
    """A stable fold for a group, so cases of one source (or thread) never straddle a split."""
    return int(hashlib.sha256((salt + group).encode()).hexdigest(), 16) % folds
