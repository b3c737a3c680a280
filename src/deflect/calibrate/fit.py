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


def risk_coverage(conf: Sequence[float], labels: Sequence[int], threshold: float) -> tuple[float, float, int]:
    """(risk = wrong among answered, coverage = right answered / all right, answered count) at a threshold."""
    answered = [lab for c, lab in zip(conf, labels, strict=True) if c >= threshold]
    positives = sum(labels)
    risk = (len(answered) - sum(answered)) / len(answered) if answered else 0.0
    coverage = sum(answered) / positives if positives else 0.0
    return risk, coverage, len(answered)


def choose_threshold(conf: Sequence[float], labels: Sequence[int], target_risk: float) -> float:
    """The lowest threshold whose risk is within target (most coverage); 1.0 if none is.

    One pass over the confidences sorted from high to low: the risk at each candidate threshold is the running
    share of wrong answers above it."""
    pairs = sorted(zip(conf, labels, strict=True), key=lambda p: -p[0])
    best = 1.0
    wrong = answered = 0
    i = 0
    while i < len(pairs):
        t = pairs[i][0]
        while i < len(pairs) and pairs[i][0] == t:  # ties are answered together
            answered += 1
            wrong += 1 - pairs[i][1]
            i += 1
        if wrong / answered <= target_risk:
            best = float(t)
    return best


def fold_of(group: str, folds: int, salt: str = "deflect") -> int:
    """A stable fold for a group, so cases of one source (or thread) never straddle a split."""
    return int(hashlib.sha256((salt + group).encode()).hexdigest(), 16) % folds
