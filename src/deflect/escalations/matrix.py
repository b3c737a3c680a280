"""Priority and tier of an escalation, from the configured matrices. Pure: no I/O, no clock.

Rules, in order:
1. Facts are gathered once: the reason codes, the risk topics among them (`risk_topic:<name>`), the customer
   tier (lower-cased) and the wording of the question plus the earlier conversation.
2. Every priority row that matches is collected; the highest priority among them wins
   (critical > high > medium > low). When no row matches, `priority.default` applies.
3. Tier rows are then matched the same way, with the priority from step 2 available to `priorities`
   conditions; the highest tier wins (management > tier3 > tier2 > tier1), else `tier.default`.
4. A row matches when every condition it names holds; a condition holds when any of its values does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from deflect.domain.escalation import FINAL_STATES, Escalation, Priority, Tier
from deflect.escalations.config import EscalationConfig, Rule, TierRule
from deflect.escalations.sla import status

RISK_TOPIC_PREFIX = "risk_topic:"
PRIORITY_RANK = {Priority.LOW: 0, Priority.MEDIUM: 1, Priority.HIGH: 2, Priority.CRITICAL: 3}
TIER_RANK = {Tier.TIER1: 0, Tier.TIER2: 1, Tier.TIER3: 2, Tier.MANAGEMENT: 3}


@dataclass(frozen=True)
class _Facts:
    reasons: frozenset[str]
    risk_topics: frozenset[str]
    customer_tier: str | None
    text: str


def risk_topics(reasons: Sequence[str]) -> frozenset[str]:
    """The topic names of `risk_topic:<name>` reason codes."""
    return frozenset(r[len(RISK_TOPIC_PREFIX) :] for r in reasons if r.startswith(RISK_TOPIC_PREFIX))


def _matches(rule: Rule, facts: _Facts, priority: Priority | None = None) -> bool:
    if rule.reasons and facts.reasons.isdisjoint(rule.reasons):
        return False
    if rule.only_reasons and not (facts.reasons and facts.reasons <= set(rule.only_reasons)):
        return False
    if rule.risk_topics and facts.risk_topics.isdisjoint(rule.risk_topics):
        return False
    if rule.customer_tiers and facts.customer_tier not in rule.tiers:
        return False
    pattern = rule.text_pattern
    if pattern is not None and not pattern.search(facts.text):
        return False
    return not (isinstance(rule, TierRule) and rule.priorities and priority not in rule.priorities)


def classify(
    reasons: Sequence[str],
    question: str,
    conversation: Sequence[str],
    customer_tier: str | None,
    config: EscalationConfig,
) -> tuple[Priority, Tier]:
    """Priority and owning tier: the highest matching row of each matrix wins (see the module docstring)."""
    facts = _Facts(
        reasons=frozenset(reasons),
        risk_topics=risk_topics(reasons),
        customer_tier=customer_tier.strip().lower() if customer_tier else None,
        text="\n".join([*conversation, question]),
    )
    priorities = [p for p, rule in config.priority.rows() if _matches(rule, facts)]
    priority = max(priorities, key=PRIORITY_RANK.__getitem__, default=config.priority.default)
    tiers = [t for t, rule in config.tier.rows() if _matches(rule, facts, priority)]
    tier = max(tiers, key=TIER_RANK.__getitem__, default=config.tier.default)
    return priority, tier


def breach_tier(escalation: Escalation, now: datetime, config: EscalationConfig) -> Tier:
    """The tier an open escalation should be owned by at `now`: raised to `tier.on_sla_breach` once a deadline
    is missed, never lowered."""
    if escalation.state in FINAL_STATES or not status(escalation.sla, now, config).breached:
        return escalation.tier
    return max(escalation.tier, config.tier.on_sla_breach, key=TIER_RANK.__getitem__)
