"""Fitting the confidence model and choosing the operating threshold."""

from __future__ import annotations

import numpy as np
import pytest

from deflect.answer.confidence import FEATURES
from deflect.evaluation.calibration import (
    Sample,
    choose_threshold,
    fit_calibration,
    fit_logistic,
    risk_coverage,
    split,
)

# Hand example used below. Answering at threshold t answers every case with conf >= t:
#   t=0.5: 5 answered, 2 wrong -> risk 0.4      t=0.6: 4 answered, 1 wrong -> risk 0.25
#   t=0.7: 3 answered, 1 wrong -> risk 1/3     t=0.8: 2 answered, 0 wrong -> risk 0
CONF = [0.9, 0.8, 0.7, 0.6, 0.5]
LABELS = [1, 1, 0, 1, 0]


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_fit_logistic_recovers_the_sign_of_a_predictive_feature(sign: float) -> None:
    rng = np.random.default_rng(7)
    signal = rng.normal(size=400)
    noise = rng.normal(size=400)
    y = (sign * signal + 0.5 * rng.normal(size=400) > 0).astype(float)
    x = np.column_stack([signal, noise])

    weights, _ = fit_logistic(x, y)

    assert np.sign(weights[0]) == sign
    assert abs(weights[0]) > 1.0
    assert abs(weights[1]) < abs(weights[0]) / 5


def test_fit_logistic_learns_the_base_rate_in_the_bias() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(500, 1))
    y = (rng.random(500) < 0.8).astype(float)  # 80% positive, independent of x

    weights, bias = fit_logistic(x, y)

    assert 1 / (1 + np.exp(-bias)) == pytest.approx(0.8, abs=0.05)
    assert abs(weights[0]) < 0.3


@pytest.mark.parametrize(("target", "expected"), [(0.0, 0.8), (0.3, 0.6), (0.4, 0.5), (1.0, 0.5)])
def test_choose_threshold_returns_the_lowest_threshold_within_target_risk(target: float, expected: float) -> None:
    # At 0.3 the risk is not monotonic: 0.7 (risk 1/3) fails but the lower 0.6 (risk 0.25) meets it.
    assert choose_threshold(CONF, LABELS, target) == pytest.approx(expected)


def test_choose_threshold_returns_one_when_no_threshold_meets_the_target() -> None:
    assert choose_threshold([0.9, 0.4, 0.2], [0, 0, 1], target_risk=0.5) == 1.0


def test_risk_coverage_on_a_hand_example() -> None:
    risk, coverage, answered = risk_coverage(CONF, LABELS, 0.7)

    assert risk == pytest.approx(1 / 3)
    assert coverage == pytest.approx(2 / 3)  # 2 of the 3 right answers are given
    assert answered == 3


def test_risk_coverage_when_nothing_is_answered_or_nothing_is_right() -> None:
    assert risk_coverage(CONF, LABELS, 0.95) == (0.0, 0.0, 0)
    assert risk_coverage([0.9, 0.8], [0, 0], 0.5) == (pytest.approx(1.0), 0.0, 2)


def samples(groups: int, per_group: int, label: int | None = None) -> list[Sample]:
    return [
        Sample(
            group=f"thread-{g}",
            features=dict.fromkeys(FEATURES, float(i)),
            label=(g + i) % 2 if label is None else label,
        )
        for g in range(groups)
        for i in range(per_group)
    ]


def test_split_keeps_every_group_on_one_side() -> None:
    fit, check = split(samples(30, 4))

    fit_groups = {s.group for s in fit}
    check_groups = {s.group for s in check}
    assert fit and check
    assert not fit_groups & check_groups
    assert len(fit) + len(check) == 120


def test_split_is_stable_and_independent_of_order() -> None:
    data = samples(30, 3)

    first = split(data)
    again = split(data)
    reversed_fit, _ = split(list(reversed(data)))

    assert first == again
    assert {s.group for s in reversed_fit} == {s.group for s in first[0]}


def test_fit_calibration_refuses_single_class_data() -> None:
    with pytest.raises(ValueError, match="answerable and unanswerable"):
        fit_calibration(samples(30, 3, label=1), embedder="hash-256", target_risk=0.05, fitted_on=["x"])


def test_fit_calibration_learns_a_positive_weight_for_the_top_cosine() -> None:
    rng = np.random.default_rng(11)
    data = []
    for g in range(200):
        label = int(rng.random() < 0.5)
        top = rng.normal(0.65 if label else 0.35, 0.08)
        feats = {"top_dense": top, "top_score": top, "margin": rng.normal(0.1, 0.03), "overlap": rng.random()}
        data.append(Sample(group=f"g{g}", features=feats, label=label))

    cal, report = fit_calibration(data, embedder="hash-256", target_risk=0.1, fitted_on=["synthetic"])

    assert cal.weights["top_dense"] + cal.weights["top_score"] > 0
    assert 0.0 <= cal.threshold <= 1.0
    assert report["fit_risk"] <= 0.1
    assert report["fit_cases"] + report["check_cases"] == 200
    assert cal.embedder == "hash-256" and cal.fitted_on == ["synthetic"]
