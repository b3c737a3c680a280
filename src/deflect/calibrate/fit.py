"""Fitting primitives: a regularised logistic model and a threshold chosen for a target wrong-answer rate.

Pure numpy, no I/O: both self-calibration (fitted on the KB itself) and golden-set calibration use them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Sample:
    """One calibration case: its features and whether answering with the top source would be right."""

    group: str  # cases of one group (one source, one StackFAQ thread) stay on the same side of a split
    features: dict[str, float]
    label: int
    kind: str = ""  # where it came from (escalation/title/heading/left_out/out_of_domain/golden), for reports


def fit_logistic(
    x: np.ndarray, y: np.ndarray, l2: float = 1e-2, iters: int = 50, sample_weight: np.ndarray | None = None
) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression by Newton's method; returns (weights, bias). `sample_weight`: how much
    each case counts (1 each when None)."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    sw = np.ones(len(x)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    w = np.zeros(xb.shape[1])
    reg = l2 * np.eye(xb.shape[1])
    reg[-1, -1] = 0.0  # the bias is not shrunk
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ w, -50, 50)))
        grad = xb.T @ (sw * (p - y)) + reg @ w
        hess = (xb * (sw * p * (1 - p))[:, None]).T @ xb + reg
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


def modelled_risk_threshold(
    conf: Sequence[float], labels: Sequence[int], target_risk: float, weights: Sequence[float] | None = None
) -> float:
    """The lowest threshold at which the modelled wrong-answer rate of what is answered is within target.

    `choose_threshold` reads the rate off the few cases at the top, where the running share of wrong answers hovers
    around the target and crosses it several times: one case more or less there moved the lowest crossing by up to
    0.05 (docs/confidence.md, session 11). Here P(right | confidence) is a logistic curve in the logit of the
    confidence (Platt scaling, weighted like the rate), fitted on every case, and the rate at a threshold is the
    weighted mean of 1 - P over the cases answered there; it only falls as the threshold rises, so it crosses the
    target once, and one case moves the curve a little instead of moving the crossing. Falls back to
    `choose_threshold` when the curve does not rise with confidence (nothing to smooth with)."""
    c = np.asarray(conf, dtype=float)
    y = np.asarray(labels, dtype=float)
    w = np.ones(len(c)) if weights is None else np.asarray(weights, dtype=float)
    if len(c) == 0 or len(set(y.tolist())) < 2:
        return choose_threshold(conf, labels, target_risk, weights)
    clipped = np.clip(c, 1e-6, 1 - 1e-6)
    logit = np.log(clipped / (1 - clipped))[:, None]
    slope, bias = fit_logistic(logit, y, l2=1e-3, sample_weight=w)
    if slope[0] <= 0:
        return choose_threshold(conf, labels, target_risk, weights)
    p_right = 1.0 / (1.0 + np.exp(-np.clip(logit[:, 0] * slope[0] + bias, -50, 50)))
    order = np.argsort(-c, kind="stable")
    c, p_right, w = c[order], p_right[order], w[order]
    risk = np.cumsum(w * (1 - p_right)) / np.maximum(np.cumsum(w), 1e-12)
    last_of_tie = np.r_[c[1:] != c[:-1], True]  # ties are answered together
    within = last_of_tie & (risk <= target_risk)
    return float(c[within].min()) if within.any() else 1.0


def bootstrap_thresholds(
    groups: Sequence[str], threshold_of: Callable[[np.ndarray], float], resamples: int = 100, seed: int = 0
) -> list[float]:
    """The threshold `threshold_of(indices)` picks on `resamples` resamples of the cases, drawn by group with
    replacement (cases of one source stay together), from a fixed seed: the same cases give the same spread."""
    names = sorted(set(groups))
    members: dict[str, list[int]] = {g: [] for g in names}
    for i, g in enumerate(groups):
        members[g].append(i)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(resamples):
        picked = rng.integers(0, len(names), len(names))
        out.append(threshold_of(np.array([i for j in picked for i in members[names[j]]], dtype=int)))
    return out


def fold_of(group: str, folds: int, salt: str = "deflect") -> int:
    """A stable fold for a group, so cases of one source (or thread) never straddle a split."""
    return int(hashlib.sha256((salt + group).encode()).hexdigest(), 16) % folds
