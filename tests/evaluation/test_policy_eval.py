"""Trigger evaluation: per-trigger and overall counts on a tiny hand-made set, checked against hand arithmetic."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from deflect.config import Settings
from deflect.errors import SourceError
from deflect.evaluation.policy_eval import (
    Counts,
    Detector,
    Miss,
    TriggerCase,
    TriggerReport,
    best_threshold,
    case_scores,
    compare_methods,
    evaluate_policy,
    evaluate_triggers,
    load_trigger_cases,
    render_comparison,
    render_markdown,
    rule_detector,
    tune_thresholds,
)
from deflect.policy.loader import load_policy
from deflect.policy.rules import TriggerRules
from deflect.policy.semantic import PrototypeScorer
from deflect.policy.triggers import trigger_reasons
from deflect.testing import HashEmbedder

H, F, R = "human_requested", "frustration", "repeat_contact"
REASONS = [H, F, R]
ROOT = Path(__file__).resolve().parents[2]

# id -> (labels, what the scripted detector fires)
TINY: dict[str, tuple[list[str], list[str]]] = {
    "c1": ([H], [H]),  # H true positive
    "c2": ([H], []),  # H false negative
    "c3": ([], [H]),  # H false positive, and a false alarm on a negative
    "c4": ([F, R], [F]),  # F true positive, R false negative
    "c5": ([], []),  # a quiet negative
    "c6": ([R], [R, "low_confidence"]),  # R true positive; the KB reason is not a trigger and is not scored
}


def scripted(fired: Mapping[str, Sequence[str]]) -> Detector:
    return lambda case: fired[case.id]


@pytest.fixture
def tiny() -> list[TriggerCase]:
    return [TriggerCase(id=i, message=f"message {i}", labels=labels) for i, (labels, _) in TINY.items()]


@pytest.fixture
def report(tiny: list[TriggerCase]) -> TriggerReport:
    return evaluate_triggers(tiny, scripted({i: fired for i, (_, fired) in TINY.items()}), REASONS)


def test_per_trigger_counts_and_scores(report: TriggerReport) -> None:
    h, f, r = (report.per_trigger[x] for x in REASONS)

    assert (h.tp, h.fp, h.fn, h.support) == (1, 1, 1, 2)
    assert (h.precision, h.recall, h.f1) == (0.5, 0.5, 0.5)
    assert (f.tp, f.fp, f.fn, f.support) == (1, 0, 0, 1)
    assert (f.precision, f.recall, f.f1) == (1.0, 1.0, 1.0)
    assert (r.tp, r.fp, r.fn, r.support) == (1, 0, 1, 2)
    assert r.precision == 1.0 and r.recall == 0.5
    assert r.f1 == pytest.approx(2 / 3)  # 2 * 1 * 0.5 / 1.5


def test_overall_is_micro_averaged(report: TriggerReport) -> None:
    overall = report.overall

    assert (overall.tp, overall.fp, overall.fn) == (3, 1, 2)
    assert overall.precision == 0.75
    assert overall.recall == 0.6
    assert overall.f1 == pytest.approx(2 * 0.75 * 0.6 / 1.35)
    assert report.macro_f1 == pytest.approx((0.5 + 1.0 + 2 / 3) / 3)


def test_negatives_false_alarms_and_misses(report: TriggerReport) -> None:
    assert (report.cases, report.negatives, report.false_alarms) == (6, 2, 1)
    assert report.misses == [
        Miss("c2", (H,), ()),
        Miss("c3", (), (H,)),
        Miss("c4", (F, R), (F,)),
    ]


def test_undefined_scores_are_none_not_zero() -> None:
    never_fired = Counts(tp=0, fp=0, fn=3)
    no_support = Counts(tp=0, fp=2, fn=0)
    all_wrong = Counts(tp=0, fp=1, fn=1)

    assert never_fired.precision is None and never_fired.recall == 0.0 and never_fired.f1 is None
    assert no_support.recall is None and no_support.precision == 0.0 and no_support.f1 is None
    assert all_wrong.f1 == 0.0


def test_a_label_outside_the_reasons_gets_its_own_row(tiny: list[TriggerCase]) -> None:
    cases = [*tiny, TriggerCase(id="typo", message="m", labels=["risk_topic:legl"])]

    report = evaluate_triggers(cases, scripted({**{i: f for i, (_, f) in TINY.items()}, "typo": []}), REASONS)

    assert list(report.per_trigger) == [*REASONS, "risk_topic:legl"]
    assert report.per_trigger["risk_topic:legl"] == Counts(tp=0, fp=0, fn=1)


def test_render_markdown(report: TriggerReport) -> None:
    text = render_markdown(report, "Tiny")

    assert text.startswith("## Tiny\n")
    assert "| human_requested | 0.500 | 0.500 | 0.500 | 2 | 1 | 1 | 1 |" in text
    assert "| repeat_contact | 1.000 | 0.500 | 0.667 | 2 | 1 | 0 | 1 |" in text
    assert "| **overall (micro)** | 0.750 | 0.600 | 0.667 | 5 | 3 | 1 | 2 |" in text
    assert "1 of 2 hard negatives fired a trigger" in text


def test_render_markdown_shows_undefined_as_na(tiny: list[TriggerCase]) -> None:
    report = evaluate_triggers(tiny, scripted({i: [] for i in TINY}), REASONS)

    assert "| human_requested | n/a | 0.000 | n/a | 2 | 0 | 0 | 2 |" in render_markdown(report)


@pytest.mark.parametrize(
    ("scores", "gold", "expected"),
    [
        # halfway between the lowest score fired on and the next below it
        pytest.param([0.9, 0.8, 0.7, 0.2], [True, False, True, False], 0.45, id="best-f1"),  # F1 .67 .5 .8 .67
        pytest.param([0.9, 0.8, 0.7, 0.6], [True, False, False, True], 0.85, id="tie-takes-the-highest"),
        pytest.param([0.9, 0.7], [True, True], 0.7, id="nothing-below-the-lowest"),
        pytest.param([0.3, 0.1], [False, False], None, id="no-positives"),
    ],
)
def test_best_threshold(scores: list[float], gold: list[bool], expected: float | None) -> None:
    assert best_threshold(scores, gold) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("min_precision", "expected"),
    [
        # thresholds 0.9 / 0.8 / 0.7 / 0.6 / 0.2: precision 1 / 1 / .67 / .75 / .6, recall .33 / .67 / .67 / 1 / 1
        pytest.param(0.95, 0.75, id="most-recall-at-full-precision"),  # between 0.8 and 0.7
        pytest.param(0.7, 0.4, id="looser-precision-buys-recall"),  # between 0.6 and 0.2
        pytest.param(None, 0.4, id="f1"),  # F1 .5 / .8 / .67 / .86 / .75
    ],
)
def test_best_threshold_with_a_precision_floor(min_precision: float | None, expected: float) -> None:
    scores = [0.9, 0.8, 0.7, 0.6, 0.2]
    gold = [True, True, False, True, False]

    assert best_threshold(scores, gold, min_precision) == pytest.approx(expected)


def test_best_threshold_when_nothing_is_precise_enough() -> None:
    assert best_threshold([0.9, 0.8], [False, True], min_precision=0.95) is None


def test_tune_thresholds_per_semantic_reason() -> None:
    rules = TriggerRules.model_validate(
        {"semantic_model": "any", "semantic": {"human_requested": {"threshold": 0.0, "prototypes": ["x"]}}}
    )
    cases = [
        TriggerCase(id="a", message="m", labels=[H]),
        TriggerCase(id="b", message="m", labels=[]),
        TriggerCase(id="c", message="m", labels=[H]),
    ]
    scores = {"a": {H: 0.9}, "b": {H: 0.7}, "c": {H: 0.6}}

    assert tune_thresholds(cases, scores, rules, min_precision=0.95) == {H: pytest.approx(0.8)}  # 0.9 and 0.7
    assert tune_thresholds(cases, scores, rules, min_precision=0.6) == {H: 0.6}


def test_compare_methods_on_given_scores() -> None:
    rules = TriggerRules.model_validate(
        {
            "human_requested": {"patterns": [r"\bhuman\b"]},
            "semantic_model": "any",
            "semantic": {"human_requested": {"threshold": 0.5, "prototypes": ["talk to a person"]}},
        }
    )
    cases = [
        TriggerCase(id="pattern-only", message="talk to a human", labels=[H]),
        TriggerCase(id="score-only", message="someone please", labels=[H]),
        TriggerCase(id="false-alarm", message="hello", labels=[]),
    ]
    scores = {"pattern-only": {H: 0.2}, "score-only": {H: 0.7}, "false-alarm": {H: 0.6}}

    reports = compare_methods(cases, rules, scores)

    assert reports["patterns"].per_trigger[H] == Counts(tp=1, fp=0, fn=1)
    assert reports["prototypes"].per_trigger[H] == Counts(tp=1, fp=1, fn=1)
    assert reports["either"].per_trigger[H] == Counts(tp=2, fp=1, fn=0)
    assert reports["policy"].per_trigger[H] == Counts(tp=2, fp=1, fn=0)
    table = render_comparison(reports, "Tiny")
    assert "| human_requested | 2 | 1.000 / 0.500 / 0.667 | 0.500 / 0.500 / 0.500 |" in table
    assert "| hard negatives that fired | 1 | 0 | 1 | 1 | 1 |" in table


def test_rule_detector_passes_conversation_and_contacts() -> None:
    rules = TriggerRules.model_validate(
        {"frustration": {"negative": {"patterns": [r"\bbroken\b"]}, "min_negative_messages": 2}}
    )
    detector = rule_detector(rules)

    assert detector(TriggerCase(id="a", message="broken", conversation=["broken"])) == ["frustration"]
    assert detector(TriggerCase(id="b", message="broken")) == []
    assert detector(TriggerCase(id="c", message="hi", recent_similar_contacts=1)) == ["repeat_contact"]


class TestLoading:
    def test_reads_cases_and_skips_blank_lines(self, tmp_path: Path) -> None:
        path = tmp_path / "t.jsonl"
        line = {"id": "a", "message": "m", "conversation": ["x"], "recent_similar_contacts": 2, "labels": [H]}
        path.write_text(json.dumps(line) + "\n\n" + json.dumps({"id": "b", "message": "n"}) + "\n")

        cases = load_trigger_cases(path)

        assert [c.id for c in cases] == ["a", "b"]
        assert cases[0].conversation == ["x"] and cases[0].recent_similar_contacts == 2
        assert cases[1].labels == [] and cases[1].conversation == []

    @pytest.mark.parametrize(
        ("second_line", "problem"),
        [
            pytest.param("{not json", "bad trigger case", id="bad-json"),
            pytest.param('{"id": "b"}', "bad trigger case", id="no-message"),
            pytest.param('{"id": "b", "message": "m", "recent_similar_contacts": -1}', "bad trigger case", id="neg"),
            pytest.param('{"id": "a", "message": "again"}', "duplicate case id 'a'", id="duplicate-id"),
        ],
    )
    def test_a_bad_line_names_the_file_and_line(self, tmp_path: Path, second_line: str, problem: str) -> None:
        path = tmp_path / "t.jsonl"
        path.write_text('{"id": "a", "message": "m"}\n' + second_line + "\n")

        with pytest.raises(SourceError, match=problem) as caught:
            load_trigger_cases(path)
        assert caught.value.line == 2


# eval/policy/triggers.jsonl keeps the shape the issue asks for, and the shipped patterns keep working on it.


@pytest.fixture(scope="module")
def shipped_cases() -> list[TriggerCase]:
    return load_trigger_cases(ROOT / "eval" / "policy" / "triggers.jsonl")


@pytest.fixture(scope="module")
def shipped_rules() -> TriggerRules:
    return load_policy(ROOT / "config" / "policy.yaml").triggers


def test_shipped_set_size_positives_per_trigger_and_hard_negatives(
    shipped_cases: list[TriggerCase], shipped_rules: TriggerRules
) -> None:
    positives = {reason: sum(reason in c.labels for c in shipped_cases) for reason in trigger_reasons(shipped_rules)}

    assert len(shipped_cases) >= 140
    assert min(positives.values()) >= 12, positives
    assert sum(not c.labels for c in shipped_cases) >= 40
    assert {lab for c in shipped_cases for lab in c.labels} <= set(positives)


def test_shipped_patterns_stay_precise_on_the_labelled_set(
    shipped_cases: list[TriggerCase], shipped_rules: TriggerRules
) -> None:
    # A regression floor for pattern edits, not a quality claim: the patterns were written against this set.
    report = evaluate_triggers(shipped_cases, rule_detector(shipped_rules), trigger_reasons(shipped_rules))

    assert report.false_alarms == 0
    assert (report.overall.precision or 0) >= 0.95
    assert (report.overall.recall or 0) >= 0.9


# How far one message's e5 score may move between machines (measured: at least 0.00014; allowed: 0.001).
E5_WOBBLE = 0.001


@pytest.mark.parametrize("name", ["triggers.jsonl", "triggers-pt.jsonl"])
def test_the_e5_variant_fires_no_hard_negative_of_the_sets_it_was_tuned_on(name: str, settings: Settings) -> None:
    # A regression floor for edits of the e5 phrases or thresholds (the real packaged model), not a quality claim:
    # the thresholds are the lowest at 95% precision on these two sets; the held-out numbers are in the README.
    from deflect.offline import offline_environment
    from deflect.wiring import build_embedder

    offline_environment()
    e5 = build_embedder(settings.model_copy(update={"embedding_model": "e5"}))
    rules = load_policy(ROOT / "config" / "policy.yaml").for_model(e5.name).triggers
    cases = load_trigger_cases(ROOT / "eval" / "policy" / name)
    scores = case_scores(cases, PrototypeScorer.from_triggers(e5, rules))
    # e5's 4-bit engine scores the same message a little differently on another machine (a case 0.00014 over a
    # threshold on one CPU was under it on another, session 18): a case within that wobble of a threshold is the
    # machine's, not an edit's, so the floor is checked with every threshold raised by it.
    wobble = {
        reason: rule.model_copy(update={"threshold": rule.threshold + E5_WOBBLE})
        for reason, rule in rules.semantic.items()
    }
    report = evaluate_triggers(
        cases, rule_detector(rules.model_copy(update={"semantic": wobble}), scores), trigger_reasons(rules)
    )

    assert rules.semantic_model == "e5"
    assert report.false_alarms == 0
    assert (report.overall.precision or 0) >= 0.95


def test_evaluate_policy_without_an_embedder_runs_patterns_only() -> None:
    rules = TriggerRules.model_validate(
        {
            "human_requested": {"patterns": [r"\bhuman\b"]},
            "semantic_model": "any",
            "semantic": {"human_requested": {"threshold": 0.5, "prototypes": ["talk to a person"]}},
        }
    )
    cases = [TriggerCase(id="a", message="a human please", labels=[H]), TriggerCase(id="b", message="talk to a person")]

    result = evaluate_policy(cases, rules)

    assert result.embedder is None and result.compared == {}
    assert result.policy.per_trigger[H] == Counts(tp=1, fp=0, fn=0)
    assert "patterns only" in result.markdown("tiny")


def test_evaluate_policy_with_an_embedder_compares_methods() -> None:
    rules = TriggerRules.model_validate(
        {
            "semantic_model": "hash-256",
            "semantic": {"human_requested": {"threshold": 0.99, "prototypes": ["talk to a person"]}},
        }
    )
    cases = [
        TriggerCase(id="same", message="talk to a person", labels=[H]),  # identical to the prototype: cosine 1
        TriggerCase(id="other", message="invoice download", labels=[]),
    ]

    result = evaluate_policy(cases, rules, HashEmbedder())

    assert set(result.compared) == {"patterns", "prototypes", "either", "policy"}
    assert result.policy.per_trigger[H] == Counts(tp=1, fp=0, fn=0)
    assert result.compared["patterns"].per_trigger[H] == Counts(tp=0, fp=0, fn=1)
    assert "Detection methods compared on tiny" in result.markdown("tiny")
