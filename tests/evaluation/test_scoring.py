"""Per-case scoring and aggregates over results.jsonl, on hand-computed examples."""

from __future__ import annotations

import pytest

from deflect.evaluation.golden import GoldenCase
from deflect.evaluation.runner import CaseResult
from deflect.evaluation.scoring import aggregate, answer_support, by_tag, score_case

TEXTS = {
    "doc:a": "Invoices are listed under Settings Billing Invoices. Each invoice downloads as a PDF file.",
    "doc:b": "Reset links stay valid for sixty minutes after they are sent.",
}


def text(source_id: str) -> str:
    return TEXTS.get(source_id, "")


def result(
    case_id: str,
    decision: str,
    cited: list[str],
    retrieved: list[str],
    answer: str = "",
    confidence: float = 0.9,
    latency: float = 10.0,
) -> CaseResult:
    return CaseResult(
        id=case_id,
        decision=decision,
        confidence=confidence,
        reasons=[],
        citations=cited,
        retrieved=retrieved,
        answer=answer,
        latency_ms=latency,
    )


def case(
    case_id: str,
    expected: list[str],
    escalate: bool = False,
    facts: list[str] | None = None,
    tags: list[str] | None = None,
) -> GoldenCase:
    return GoldenCase(
        id=case_id,
        question="q",
        expected_sources=expected,
        should_escalate=escalate,
        must_include=facts or [],
        tags=tags or [],
    )


def test_answer_support_counts_sentences_found_in_their_cited_source() -> None:
    answer = "Each invoice downloads as a PDF file. [1] Reset links stay valid for sixty minutes. [1]"
    # The second sentence cites doc:a but its words are in doc:b: unsupported. 1 of 2.
    assert answer_support(answer, ["doc:a"], text) == pytest.approx(0.5)


def test_a_markdown_passage_spanning_lines_is_one_piece_cited_at_its_end() -> None:
    passage = "To download an invoice:\n\n1. Open Settings.\n2. Click Download PDF."
    code = "```\nqv invoices get\n```"
    texts = {"doc:a": f"{passage}\n\n{code}"}

    assert answer_support(f"**Invoices**\n\n{passage} [1]\n\n{code}\n\n[1]", ["doc:a"], texts.__getitem__) == 1.0
    # Text after the last marker cites nothing: an unsupported piece of its own.
    assert answer_support(f"{passage} [1]\n\nReset links stay valid.", ["doc:a"], texts.__getitem__) == 0.5


def test_answer_support_of_a_sentence_without_a_marker_is_zero() -> None:
    assert answer_support("Each invoice downloads as a PDF file.", ["doc:a"], text) == 0.0


def test_answer_support_is_undefined_for_an_empty_answer() -> None:
    assert answer_support("  ", ["doc:a"], text) is None


def test_a_correct_answer_is_answered_answerable_and_cites_an_expected_source() -> None:
    row = score_case(
        case("c1", ["doc:a"], facts=["PDF", "CSV"]),
        result("c1", "answer", ["doc:a"], ["doc:a", "doc:b"], "Each invoice downloads as a PDF file. [1]"),
        text,
    )
    assert row["correct"] and row["would_be_right"]
    assert row["recall@1"] == 1.0 and row["mrr@10"] == 1.0
    assert row["citation_precision"] == 1.0 and row["fact_recall"] == 0.5  # PDF yes, CSV no
    assert row["answer_support"] == 1.0


def test_answering_a_case_that_should_escalate_is_wrong() -> None:
    row = score_case(case("c2", [], escalate=True), result("c2", "answer", ["doc:a"], ["doc:a"], "x [1]"), text)
    assert row["answered"] and not row["correct"] and not row["answerable"]
    assert row["recall@1"] is None and row["citation_recall"] is None


def test_aggregate_decision_quality_by_hand() -> None:
    cases = [
        case("right", ["doc:a"]),  # answered correctly
        case("wrong", ["doc:b"]),  # answered citing the wrong source
        case("missed", ["doc:a"]),  # escalated although answerable
        case("escalated-ok", [], escalate=True),  # escalated, should escalate
    ]
    results = [
        result("right", "answer", ["doc:a"], ["doc:a"], "Each invoice downloads as a PDF file. [1]", 0.9, 10),
        result("wrong", "answer", ["doc:a"], ["doc:a", "doc:b"], "Each invoice downloads as a PDF file. [1]", 0.8, 20),
        result("missed", "escalate", [], ["doc:a"], "", 0.3, 30),
        result("escalated-ok", "escalate", [], ["doc:b"], "", 0.1, 40),
    ]
    agg = aggregate([score_case(c, r, text) for c, r in zip(cases, results, strict=True)])
    assert agg["deflection_rate"] == pytest.approx(2 / 4)
    assert agg["wrong_answer_rate"] == pytest.approx(1 / 2)
    assert agg["escalation_precision"] == pytest.approx(1 / 2)  # of 2 escalations, 1 should have escalated
    assert agg["escalation_recall"] == pytest.approx(1.0)
    assert agg["correct_answer_rate"] == pytest.approx(1 / 3)  # 3 answerable, 1 answered correctly
    assert agg["recall@1"] == pytest.approx(2 / 3)  # right: a@1 yes; wrong: b not first; missed: a@1 yes
    # would_be_right: right (0.9) yes, wrong (0.8) no, missed (0.3) yes, escalated-ok (0.1) no.
    # Positive-over-negative pairs: 0.9>0.8, 0.9>0.1, 0.3<0.8, 0.3>0.1 -> 3 of 4.
    assert agg["auroc"] == pytest.approx(0.75)
    assert agg["latency_p50_ms"] == pytest.approx(25.0)


def test_by_tag_skips_tags_with_too_few_cases() -> None:
    rows = [
        score_case(
            case(f"c{i}", ["doc:a"], tags=["big"] + (["small"] if i == 0 else [])),
            result(f"c{i}", "answer", ["doc:a"], ["doc:a"], "x [1]"),
            text,
        )
        for i in range(3)
    ]
    tags = by_tag(rows, min_cases=3)
    assert set(tags) == {"big"} and tags["big"]["cases"] == 3
