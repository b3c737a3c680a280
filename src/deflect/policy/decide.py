"""Answer or escalate, with every machine-readable reason that fired. No I/O, no frameworks."""

from __future__ import annotations

from dataclasses import dataclass, field

from deflect.domain.models import Decision

LOW_CONFIDENCE = "low_confidence"
NO_RELEVANT_SOURCE = "no_relevant_source"
NO_ANSWER_TEXT = "no_answer_text"


@dataclass(frozen=True)
class PolicyRules:
    answer_threshold: float
    relevance_floor: float
    version: str = "policy-v1"


@dataclass(frozen=True)
class Evidence:
    confidence: float
    top_dense: float | None  # None when nothing was retrieved
    sources: int


@dataclass(frozen=True)
class PolicyDecision:
    decision: Decision
    reasons: list[str] = field(default_factory=list)


def decide(question: str, evidence: Evidence, rules: PolicyRules) -> PolicyDecision:
    """Escalate when nothing relevant was found or the calibrated confidence is under the threshold."""
    reasons: list[str] = []
    if evidence.sources == 0 or evidence.top_dense is None or evidence.top_dense < rules.relevance_floor:
        reasons.append(NO_RELEVANT_SOURCE)
    if evidence.confidence < rules.answer_threshold:
        reasons.append(LOW_CONFIDENCE)
    return PolicyDecision(Decision.ESCALATE if reasons else Decision.ANSWER, reasons)
