"""decide(): answer only with relevant evidence and enough confidence, else escalate with every reason."""

from __future__ import annotations

import pytest

from deflect.domain.models import Decision
from deflect.policy import Evidence, PolicyRules, decide
from deflect.policy.decide import LOW_CONFIDENCE, NO_RELEVANT_SOURCE

RULES = PolicyRules(answer_threshold=0.6, relevance_floor=0.3)
QUESTION = "How do I reset my password?"


def test_answers_when_confident_and_relevant() -> None:
    result = decide(QUESTION, Evidence(confidence=0.9, top_dense=0.7, sources=3), RULES)

    assert result.decision is Decision.ANSWER
    assert result.reasons == []


def test_escalates_with_low_confidence() -> None:
    result = decide(QUESTION, Evidence(confidence=0.59, top_dense=0.7, sources=3), RULES)

    assert result.decision is Decision.ESCALATE
    assert result.reasons == [LOW_CONFIDENCE]


@pytest.mark.parametrize(
    "evidence",
    [
        pytest.param(Evidence(confidence=0.9, top_dense=None, sources=0), id="nothing-retrieved"),
        pytest.param(Evidence(confidence=0.9, top_dense=0.8, sources=0), id="no-sources"),
        pytest.param(Evidence(confidence=0.9, top_dense=None, sources=2), id="no-top-cosine"),
        pytest.param(Evidence(confidence=0.9, top_dense=0.29, sources=2), id="below-floor"),
    ],
)
def test_escalates_when_no_relevant_source(evidence: Evidence) -> None:
    result = decide(QUESTION, evidence, RULES)

    assert result.decision is Decision.ESCALATE
    assert result.reasons == [NO_RELEVANT_SOURCE]


def test_escalates_with_both_reasons_when_both_fire() -> None:
    result = decide(QUESTION, Evidence(confidence=0.1, top_dense=0.05, sources=1), RULES)

    assert result.decision is Decision.ESCALATE
    assert set(result.reasons) == {LOW_CONFIDENCE, NO_RELEVANT_SOURCE}
    assert len(result.reasons) == 2


def test_confidence_equal_to_the_threshold_answers() -> None:
    rules = PolicyRules(answer_threshold=0.75, relevance_floor=0.3)

    at = decide(QUESTION, Evidence(confidence=0.75, top_dense=0.5, sources=1), rules)
    below = decide(QUESTION, Evidence(confidence=0.7499, top_dense=0.5, sources=1), rules)

    assert at.decision is Decision.ANSWER
    assert below.reasons == [LOW_CONFIDENCE]


def test_top_cosine_equal_to_the_floor_is_relevant() -> None:
    result = decide(QUESTION, Evidence(confidence=0.9, top_dense=0.3, sources=1), RULES)

    assert result.decision is Decision.ANSWER


def test_the_decision_depends_on_the_rules_not_on_fixed_numbers() -> None:
    evidence = Evidence(confidence=0.5, top_dense=0.4, sources=1)

    strict = decide(QUESTION, evidence, PolicyRules(answer_threshold=0.8, relevance_floor=0.5))
    lenient = decide(QUESTION, evidence, PolicyRules(answer_threshold=0.2, relevance_floor=0.1))

    assert set(strict.reasons) == {LOW_CONFIDENCE, NO_RELEVANT_SOURCE}
    assert lenient.decision is Decision.ANSWER
