"""Fitting: threshold for a target risk, out-of-fold cross-check, the relevance floor, KB fingerprints."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from deflect.calibrate.fit import (
    Sample,
    bootstrap_thresholds,
    choose_threshold,
    modelled_risk_threshold,
    risk_coverage,
)
from deflect.calibrate.selfcal import SHIPPED_FEATURES, changed_share, fit, kb_hash, mix_weights


def brute_force_threshold(conf: list[float], labels: list[int], target: float) -> float:
    for t in sorted(set(conf)):
        if risk_coverage(conf, labels, t)[0] <= target:
            return t
    return 1.0


@pytest.mark.parametrize("seed", range(20))
def test_one_pass_threshold_equals_the_brute_force_definition(seed: int) -> None:
    rng = random.Random(seed)
    conf = [round(rng.random(), 2) for _ in range(60)]
    labels = [int(rng.random() < c) for c in conf]

    assert choose_threshold(conf, labels, 0.1) == brute_force_threshold(conf, labels, 0.1)


@pytest.mark.parametrize("seed", range(10))
def test_weighted_threshold_equals_the_brute_force_definition(seed: int) -> None:
    rng = random.Random(seed)
    conf = [round(rng.random(), 2) for _ in range(60)]
    labels = [int(rng.random() < c) for c in conf]
    weights = [rng.choice([0.2, 1.0, 3.0]) for _ in conf]
    brute = next(
        (t for t in sorted(set(conf)) if risk_coverage(conf, labels, t, weights)[0] <= 0.1),
        1.0,
    )

    assert choose_threshold(conf, labels, 0.1, weights) == brute


def test_uncovered_probes_weigh_the_stated_share_of_the_mix() -> None:
    samples = separable(200, 0.1)
    weights = mix_weights(samples, 0.25)
    uncovered = sum(w for w, s in zip(weights, samples, strict=True) if s.kind in ("left_out", "out_of_domain"))

    assert uncovered / sum(weights) == pytest.approx(0.25)
    assert mix_weights(samples, None) == [1.0] * len(samples)


def test_desk_traffic_weighs_one_each_outside_the_probes_mix() -> None:
    samples = separable(200, 0.1)
    traffic = [Sample(f"t{i}", {"top_dense": 0.5}, i % 2, "traffic") for i in range(30)]
    weights = mix_weights([*samples, *traffic], 0.25)
    probe_weights, traffic_weights = weights[: len(samples)], weights[len(samples) :]

    assert traffic_weights == [1.0] * 30
    assert probe_weights == mix_weights(samples, 0.25)  # the probes' mix is what it was without the traffic


def test_fewer_uncovered_questions_expected_never_raise_the_threshold() -> None:
    # every wrong answer of this set is an uncovered probe: weighing them less can only lower the risk
    samples = separable(400, 0.15, seed=3)
    strict = fit(samples, "hash", 0.05, ("top_dense",), uncovered_share=0.6)
    relaxed = fit(samples, "hash", 0.05, ("top_dense",), uncovered_share=0.1)

    assert relaxed.threshold <= strict.threshold
    assert relaxed.notes["uncovered_share"] == 0.1


def test_undecidable_left_out_probes_neither_fit_nor_set_the_threshold() -> None:
    samples = separable(200, 0.1)
    # left-out probes answered by a related page (same-answer cosine 0.5-0.8), looking like sure answers
    related = [
        Sample(f"r{i}", {"top_dense": 0.8, "top_score": 0.8, "_same_answer": 0.65}, 0, "left_out") for i in range(40)
    ]

    plain = fit(samples, "hash", 0.05, ("top_dense",))
    with_related = fit([*samples, *related], "hash", 0.05, ("top_dense",))

    assert with_related.threshold == plain.threshold
    assert with_related.weights == plain.weights
    assert with_related.notes["undecidable_left_out"] == 40


def test_a_left_out_probe_answered_by_a_source_that_poses_it_too_is_undecidable() -> None:
    samples = separable(200, 0.1)
    # left out, a page whose own title holds the probe's words answers it: other words, unrelated quote (cosine 0.3)
    posed = [
        Sample(
            f"p{i}", {"top_dense": 0.8, "top_score": 0.8, "_same_answer": 0.3, "_posed_elsewhere": 1.0}, 0, "left_out"
        )
        for i in range(30)
    ]

    plain = fit(samples, "hash", 0.05, ("top_dense",))
    with_posed = fit([*samples, *posed], "hash", 0.05, ("top_dense",))

    assert with_posed.threshold == plain.threshold
    assert with_posed.weights == plain.weights
    assert with_posed.notes["undecidable_left_out"] == 30


def separable(n: int, noise: float, seed: int = 0) -> list[Sample]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        label = i % 2
        dense = (0.75 if label else 0.45) + rng.gauss(0, noise)
        kind = "title" if label else ("out_of_domain" if i % 4 == 0 else "left_out")
        feats = {"top_dense": dense, "top_score": dense, "margin_distinct": 0.1, "spread": dense - 0.3}
        out.append(Sample(f"g{i // 2}", feats, label, kind))
    return out


def test_the_fitted_threshold_keeps_the_cross_checked_risk_near_the_target() -> None:
    cal = fit(separable(400, 0.08), "hash-256", 0.05)
    answered = 400 * cal.notes["check_coverage"] / 2  # about: half the cases are answerable

    # The threshold is where the modelled rate reaches the target; the observed one is within its sampling error.
    assert cal.notes["check_risk"] <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / answered)
    assert 0.5 < cal.notes["check_coverage"] <= 1.0
    assert cal.features == list(SHIPPED_FEATURES)
    assert cal.weights["top_dense"] > 0  # higher cosine, more confidence


def test_a_stricter_target_never_answers_more() -> None:
    samples = separable(400, 0.15)

    loose, strict = fit(samples, "e", 0.1), fit(samples, "e", 0.01)

    assert strict.threshold >= loose.threshold
    assert strict.notes["check_coverage"] <= loose.notes["check_coverage"]


def test_the_relevance_floor_comes_from_off_topic_questions() -> None:
    samples = separable(400, 0.05)
    off_topic = sorted(s.features["top_dense"] for s in samples if s.kind == "out_of_domain")

    cal = fit(samples, "e", 0.05)

    assert off_topic[int(0.9 * len(off_topic))] <= cal.relevance_floor <= off_topic[-1]


def test_only_one_kind_of_case_cannot_be_fitted() -> None:
    only_right = [Sample(f"g{i}", {"top_dense": 0.9}, 1) for i in range(50)]

    with pytest.raises(ValueError, match="answerable and unanswerable"):
        fit(only_right, "e", 0.05)


def test_changed_share_counts_added_edited_and_removed_sources() -> None:
    old = {f"doc:{i}": "h" for i in range(10)}
    new = dict(old) | {"doc:0": "edited", "doc:new": "h"}
    del new["doc:9"]

    assert changed_share(old, new) == pytest.approx(3 / 10)
    assert changed_share(old, old) == 0.0
    assert kb_hash(old) != kb_hash(new)
    assert kb_hash(old) == kb_hash(dict(reversed(list(old.items()))))


def test_uncovered_questions_escalate_at_least_as_often_as_asked() -> None:
    samples = separable(400, 0.15)  # overlapping: the risk target alone would let many left-out probes through

    cal = fit(samples, "e", 0.2, min_escalated=0.95)

    left_out = [cal.confidence(s.features) for s in samples if s.kind == "left_out"]
    assert sum(c < cal.threshold for c in left_out) / len(left_out) >= 0.93  # fitted on all, chosen out of fold
    assert fit(samples, "e", 0.2, min_escalated=0.0).threshold <= cal.threshold


def test_a_calibration_that_answers_little_of_its_own_kb_says_so() -> None:
    from deflect.calibrate.calibrator import timid_warning

    timid = fit(separable(400, 0.3), "e", 0.01)  # heavy overlap and a strict target: little can be answered
    bold = fit(separable(400, 0.02), "e", 0.05)

    assert timid.notes["check_coverage"] < 0.3 and "WARNING" in timid_warning(timid)
    assert timid_warning(bold) == ""


def test_a_calibration_from_few_questions_of_the_kb_says_its_estimate_is_rough() -> None:
    from deflect.calibrate.calibrator import timid_warning

    cal = fit(separable(400, 0.02), "e", 0.05)
    cal.notes["probe_probes"] = 38
    firm = cal.model_copy(update={"notes": cal.notes | {"probe_probes": 400}})

    assert "only 38 questions" in timid_warning(cal)
    assert timid_warning(firm) == ""


def logistic_cases(n: int, seed: int, slope: float = 12.0, middle: float = 0.6) -> tuple[list[float], list[int]]:
    """Confidences spread evenly, right with a logistic chance in the confidence (steep around `middle`)."""
    rng = random.Random(seed)
    conf = [rng.random() for _ in range(n)]
    return conf, [int(rng.random() < 1 / (1 + math.exp(-slope * (c - middle)))) for c in conf]


@pytest.mark.parametrize("where", ["top", "above the threshold"])
def test_one_more_wrong_case_moves_the_modelled_threshold_less_far_than_the_running_rate(where: str) -> None:
    moved: dict[str, list[float]] = {"modelled": [], "running": []}
    for seed in range(30):
        conf, labels = logistic_cases(400, seed)
        for name, rule in (("modelled", modelled_risk_threshold), ("running", choose_threshold)):
            before = rule(conf, labels, 0.05)
            added = max(conf) if where == "top" else (max(conf) + before) / 2
            moved[name].append(abs(rule([*conf, added], [*labels, 0], 0.05) - before))

    # the largest jump over 30 KBs: the running rate's lowest crossing can skip a whole hump of its curve
    assert max(moved["modelled"]) < max(moved["running"])


def test_the_modelled_threshold_is_where_the_true_rate_of_what_is_answered_reaches_the_target() -> None:
    conf, labels = logistic_cases(4000, seed=7)
    # the true rate of what is answered at t: the mean chance of being wrong over the cases above t
    ranked = sorted(conf, reverse=True)
    wrong = [1 - 1 / (1 + math.exp(-12.0 * (c - 0.6))) for c in ranked]
    rates = np.cumsum(wrong) / np.arange(1, len(ranked) + 1)
    true = min(c for c, r in zip(ranked, rates, strict=True) if r <= 0.05)

    assert modelled_risk_threshold(conf, labels, 0.05) == pytest.approx(true, abs=0.03)


def test_the_modelled_threshold_falls_back_to_the_running_rate_when_confidence_does_not_rank() -> None:
    conf = [0.9, 0.8, 0.7, 0.3, 0.2, 0.1]
    labels = [0, 0, 0, 1, 1, 1]

    assert modelled_risk_threshold(conf, labels, 0.05) == choose_threshold(conf, labels, 0.05)


def test_bootstrap_resamples_keep_a_groups_cases_together_and_repeat_from_the_seed() -> None:
    groups = [f"g{i // 3}" for i in range(30)]  # ten groups of three cases
    seen: list[list[int]] = []

    def record(cases: np.ndarray) -> float:
        seen.append(sorted(cases.tolist()))
        return float(len(cases))

    first = bootstrap_thresholds(groups, record, resamples=20, seed=1)
    again = bootstrap_thresholds(groups, lambda cases: float(len(cases)), resamples=20, seed=1)

    assert first == again
    assert all(len(cases) == 30 for cases in seen)
    assert all(cases.count(i) == cases.count(i - i % 3) for cases in seen for i in cases)


def test_fewer_probes_give_a_wider_reported_spread() -> None:
    few, many = fit(separable(120, 0.12), "e", 0.05), fit(separable(1200, 0.12), "e", 0.05)

    def width(cal: object) -> float:
        return cal.notes["threshold_p95"] - cal.notes["threshold_p05"]  # type: ignore[attr-defined]

    assert few.notes["threshold_p05"] <= few.notes["threshold_p50"] <= few.notes["threshold_p95"]
    assert width(few) > width(many)


def test_desk_questions_that_miss_the_target_raise_the_threshold_over_them() -> None:
    probes = separable(400, 0.02)
    # the desk's questions look like the probes' right answers, but one in five was wrong: the probes alone would
    # answer them, and with them answered one answer in five would be wrong
    sure = {"top_dense": 0.75, "top_score": 0.75, "margin_distinct": 0.1, "spread": 0.45}
    desk = [Sample(f"t{i}", sure, int(i % 5 != 0), "traffic") for i in range(60)]
    alone = fit(probes, "e", 0.05)
    cal = fit([*probes, *desk], "e", 0.05)

    assert alone.confidence(sure) >= alone.threshold
    assert cal.confidence(sure) < cal.threshold
    assert (
        cal.threshold >= cal.notes["traffic_threshold"] > max(cal.notes["risk_threshold"], cal.notes["cover_threshold"])
    )
    assert cal.notes["traffic_check_answered"] == 0
    assert "traffic_threshold" not in alone.notes
    assert "traffic_check_risk" not in alone.notes


def test_desk_questions_within_the_target_leave_the_threshold_to_the_probes() -> None:
    probes = separable(400, 0.02)
    sure = {"top_dense": 0.75, "top_score": 0.75, "margin_distinct": 0.1, "spread": 0.45}
    desk = [Sample(f"t{i}", sure, 1, "traffic") for i in range(60)]
    cal = fit([*probes, *desk], "e", 0.05)

    assert cal.threshold == round(max(cal.notes["risk_threshold"], cal.notes["cover_threshold"]), 4)
    assert cal.notes["traffic_check_answered"] == 60
    assert cal.notes["traffic_check_risk"] == 0.0


def test_a_desk_estimate_above_the_target_is_a_warning() -> None:
    from deflect.calibrate.calibrator import timid_warning

    cal = fit(separable(400, 0.02), "e", 0.05)
    assert "on the desk's own labelled questions" not in timid_warning(cal)

    cal.notes["traffic_check_risk"] = 0.08  # the modelled threshold met the target, the cases answered did not
    assert "on the desk's own labelled questions" in timid_warning(cal)
