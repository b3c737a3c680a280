"""Fit the confidence model and choose the answer threshold for a target wrong-answer rate (risk).

Label of a case: 1 when answering would be right (it should not escalate and the top source is expected),
0 otherwise. Risk-topic cases are left out: escalating them is the policy's job, not the confidence's.
The fit uses one half of the cases (split by a stable hash of their group) and reports the other half.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from deflect.answer.confidence import FEATURES, Calibration

RISK_TAGS = frozenset({"high_risk"})


@dataclass(frozen=True)
class Sample:
    group: str  # cases of one group (e.g. one StackFAQ thread) stay on the same side of the split
    features: dict[str, float]
    label: int


def split(samples: Sequence[Sample], salt: str = "deflect") -> tuple[list[Sample], list[Sample]]:
    """Stable ~50/50 split by group."""
    fit: list[Sample] = []
    check: list[Sample] = []
    for s in samples:
        (fit if int(hashlib.sha256((salt + s.group).encode()).hexdigest(), 16) % 2 == 0 else check).append(s)
    return fit, check


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
    """The lowest threshold whose risk is within target (most coverage); 1.0 if none is."""
    for t in sorted(set(conf)):
        if risk_coverage(conf, labels, t)[0] <= target_risk:
            return float(t)
    return 1.0


def fit_calibration(
    samples: Sequence[Sample], embedder: str, target_risk: float, fitted_on: list[str]
) -> tuple[Calibration, dict[str, float]]:
    """Fit on one half, choose the threshold there, and report how it behaves on the other half."""
    fit, check = split(samples)
    if not fit or not check or len({s.label for s in fit}) < 2:
        raise ValueError("calibration needs answerable and unanswerable cases on both sides of the split")
    x = np.array([[s.features[f] for f in FEATURES] for s in fit])
    y = np.array([s.label for s in fit], dtype=float)
    weights, bias = fit_logistic(x, y)
    positives = sorted(s.features["top_dense"] for s in fit if s.label == 1)
    floor = float(positives[max(0, int(0.02 * len(positives)) - 1)])  # 2nd percentile of right answers
    cal = Calibration(
        embedder=embedder,
        weights=dict(zip(FEATURES, map(float, weights), strict=True)),
        bias=bias,
        threshold=0.5,
        relevance_floor=round(floor, 4),
        target_risk=target_risk,
        fitted_on=fitted_on,
    )
    fit_conf = [cal.confidence(s.features) for s in fit]
    cal.threshold = round(choose_threshold(fit_conf, [s.label for s in fit], target_risk), 4)
    check_conf = [cal.confidence(s.features) for s in check]
    f_risk, f_cov, _ = risk_coverage(fit_conf, [s.label for s in fit], cal.threshold)
    c_risk, c_cov, _ = risk_coverage(check_conf, [s.label for s in check], cal.threshold)
    report = {
        "fit_cases": len(fit),
        "check_cases": len(check),
        "fit_risk": round(f_risk, 4),
        "fit_coverage": round(f_cov, 4),
        "check_risk": round(c_risk, 4),
        "check_coverage": round(c_cov, 4),
    }
    cal.notes = dict(report)
    return cal, report
