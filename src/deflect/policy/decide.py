"""Answer or escalate, with every machine-readable reason that fired. No I/O, no frameworks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from deflect.domain.models import Decision
from deflect.policy.rules import TriggerRules
from deflect.policy.triggers import detect

LOW_CONFIDENCE = "low_confidence"
NO_RELEVANT_SOURCE = "no_relevant_source"
NO_ANSWER_TEXT = "no_answer_text"
# The question names something (GitLab, Salesforce) that no retrieved source mentions: the KB does not cover it,
# however close the rest of the question comes to an article about something else.
UNKNOWN_NAME = "unknown_name"
INDEX_UNAVAILABLE = "index_unavailable"


@dataclass(frozen=True)
class PolicyRules:
    answer_threshold: float
    relevance_floor: float
    version: str = "policy-v1"
    # Escalation triggers from config/policy.yaml; the default has none, which is the policy before triggers.
    triggers: TriggerRules = field(default_factory=TriggerRules)


@dataclass(frozen=True)
class Evidence:
    confidence: float
    top_dense: float | None  # None when nothing was retrieved
    sources: int
    conversation: tuple[str, ...] = ()  # the customer's earlier messages in this conversation, oldest first
    recent_similar_contacts: int = 0  # earlier contacts by this customer about the same problem, in the window
    # Embedding-prototype scores by reason code, from `deflect.policy.semantic`; only read for reasons the rules
    # give a semantic threshold.
    semantic_scores: Mapping[str, float] = field(default_factory=dict)
    # False when the index failed or timed out: there is no KB evidence either way, only the triggers.
    index_available: bool = True
    # Names in the question that no retrieved source mentions (`deflect.answer.names`).
    unknown_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class PolicyDecision:
    decision: Decision
    reasons: list[str] = field(default_factory=list)
    # The KB evidence supports an answer: show it when nothing fired, else offer it to the agent as a draft.
    draft_allowed: bool = False
    # The KB has a relevant source but confidence is under the threshold, and nothing else is wrong with the
    # evidence: what the KB says may still help the agent who handles the escalation, marked as unsure.
    unsure_draft: bool = False
    # Low confidence is the only reason of all (no trigger fired either): the asker may be pointed at the relevant
    # pages while they wait. A risk topic, a request for a person or frustration is not a moment for reading.
    suggest_pages: bool = False


def decide(question: str, evidence: Evidence, rules: PolicyRules) -> PolicyDecision:
    """Escalate when the KB cannot answer well or any trigger fires; list every reason, KB reasons first."""
    kb_reasons: list[str] = []
    if not evidence.index_available:
        kb_reasons.append(INDEX_UNAVAILABLE)
    elif evidence.sources == 0 or evidence.top_dense is None or evidence.top_dense < rules.relevance_floor:
        kb_reasons.append(NO_RELEVANT_SOURCE)
    if evidence.index_available and evidence.confidence < rules.answer_threshold:
        kb_reasons.append(LOW_CONFIDENCE)
    if evidence.index_available and evidence.unknown_names:
        kb_reasons.append(UNKNOWN_NAME)
    triggers = detect(
        question,
        rules.triggers,
        conversation=evidence.conversation,
        recent_similar_contacts=evidence.recent_similar_contacts,
        semantic_scores=evidence.semantic_scores,
    )
    reasons = kb_reasons + triggers
    return PolicyDecision(
        decision=Decision.ESCALATE if reasons else Decision.ANSWER,
        reasons=reasons,
        draft_allowed=not kb_reasons,
        unsure_draft=kb_reasons == [LOW_CONFIDENCE],
        suggest_pages=reasons == [LOW_CONFIDENCE],
    )
