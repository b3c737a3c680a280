"""Assemble the escalation packet a human receives. Pure apart from a random id; `now` is passed in."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

from deflect.domain.escalation import Escalation, SearchedSource, State
from deflect.domain.models import Audience, SourceHit
from deflect.errors import ValidationFailed
from deflect.escalations.checklist import build_checklist
from deflect.escalations.config import EscalationConfig
from deflect.escalations.matrix import classify
from deflect.escalations.sla import start_clock, utc


def new_escalation_id() -> str:
    """A fresh escalation id, `esc_` + 32 hex digits."""
    return "esc_" + uuid.uuid4().hex


def searched_sources(
    hits: Sequence[SourceHit], shown_ids: Collection[str] = (), excerpts: Mapping[str, str] | None = None
) -> list[SearchedSource]:
    """The retrieved sources in rank order with their fused scores, flagged when the asker was shown them, with
    what the asker was shown quoted from them (`excerpts`, by source id)."""
    shown, quoted = set(shown_ids), excerpts or {}
    return [
        SearchedSource(
            source_id=h.source_id,
            title=h.title,
            url=h.url,
            score=h.score,
            shown=h.source_id in shown,
            excerpt=quoted.get(h.source_id, ""),
        )
        for h in hits
    ]


def build_escalation(
    *,
    answer_id: str,
    question: str,
    audience: Audience,
    reasons: Sequence[str],
    hits: Sequence[SourceHit],
    policy_version: str,
    config: EscalationConfig,
    now: datetime,
    shown_ids: Collection[str] = (),
    excerpts: Mapping[str, str] | None = None,
    draft_answer: str | None = None,
    conversation: Sequence[str] = (),
    conversation_id: str | None = None,
    customer_id: str | None = None,
    customer_name: str | None = None,
    customer_tier: str | None = None,
    escalation_id: str | None = None,
    claimed_customer: Mapping[str, str] | None = None,
    requester: str | None = None,
) -> Escalation:
    """A new escalation in state `escalated`: classified, with a running SLA clock and a filled checklist.

    `policy_version` is stored as `<policy_version>+<config.version>`, so the record names both the trigger rules
    and the matrix/SLA rules that shaped it.
    """
    if not reasons:
        raise ValidationFailed("an escalation needs at least one reason", [{"field": "reasons", "problem": "empty"}])
    if not question.strip():
        raise ValidationFailed("an escalation needs the question", [{"field": "question", "problem": "empty"}])
    now = utc(now, "now")
    tier_name = customer_tier.strip().lower() if customer_tier and customer_tier.strip() else None
    history = [m for m in conversation if m.strip()]
    sources = searched_sources(hits, shown_ids, excerpts)
    priority, tier = classify(reasons, question, history, tier_name, config)
    draft = draft_answer.strip() if draft_answer and draft_answer.strip() else None
    return Escalation(
        id=escalation_id or new_escalation_id(),
        answer_id=answer_id,
        question=question,
        conversation=history,
        conversation_id=conversation_id,
        audience=audience,
        customer_id=customer_id,
        customer_name=customer_name,
        customer_tier=tier_name,
        claimed_customer=dict(claimed_customer or {}),
        requester=requester,
        sources=sources,
        draft_answer=draft,
        reasons=list(dict.fromkeys(reasons)),
        priority=priority,
        tier=tier,
        sla=start_clock(priority, tier_name, now, config),
        checklist=build_checklist(question, history, sources),
        state=State.ESCALATED,
        timestamps={State.CREATED: now, State.ESCALATED: now},
        policy_version=f"{policy_version}+{config.version}",
        created_at=now,
    )
