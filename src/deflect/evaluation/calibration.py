"""Fit the confidence model and choose the answer threshold for a target wrong-answer rate (risk).

Label of a case: 1 when answering would be right (it should not escalate and the top source is expected),
0 otherwise. Risk-topic cases are left out: escalating them is the policy's job, not the confidence's.
The fit uses one half of the cases (split by a stable hash of their group) and reports the other half.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deflect.answer.confidence import LEGACY_FEATURES as FEATURES
from deflect.answer.confidence import Calibration
from deflect.calibrate.fit import Sample, choose_threshold, fit_logistic, fold_of, risk_coverage

__all__ = ["Sample", "choose_threshold", "fit_calibration", "fit_logistic", "risk_coverage", "split"]

RISK_TAGS = frozenset({"high_risk"})


def split(samples: Sequence[Sample], salt: str = "deflect") -> tuple[list[Sample], list[Sample]]:
    """Stable ~50/50 split by group."""
    fit: list[Sample] = []
    check: list[Sample] = []
    for s in samples:
        (fit if fold_of(s.group, 2, salt) == 0 else check).append(s)
    return fit, check


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
