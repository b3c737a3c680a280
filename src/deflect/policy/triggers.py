"""Escalation triggers: pure functions of the message, the conversation so far and the configured rules.

No I/O and no models here. Embedding-based scores, where a rule uses them, are computed by the caller
(`deflect.policy.semantic`) and only compared with their thresholds here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from deflect.policy.rules import FrustrationRule, PatternRule, ShoutingRule, TriggerRules

RISK_TOPIC_PREFIX = "risk_topic:"
HUMAN_REQUESTED = "human_requested"
FRUSTRATION = "frustration"
REPEAT_CONTACT = "repeat_contact"

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})
_WORD = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*")


def normalise(text: str) -> str:
    """Straight quotes and single spaces, so patterns need not spell out typographic variants."""
    return " ".join(text.translate(_QUOTES).split())


def matches(rule: PatternRule, text: str) -> bool:
    """Whether any pattern matches once the rule's look-alike phrases are blanked out."""
    for phrase in rule.ignore:
        text = phrase.sub(" ", text)
    return any(pattern.search(text) for pattern in rule.patterns)


def is_shouting(text: str, rule: ShoutingRule) -> bool:
    """A run of `min_words` consecutive all-caps words; known acronyms and one-letter words break no run."""
    for phrase in rule.ignore:
        text = phrase.sub(" ", text)
    run = 0
    for word in _WORD.findall(text):
        letters = [c for c in word if c.isalpha()]
        if len(letters) < 2 or word in rule.acronyms:
            continue
        run = run + 1 if all(c.isupper() for c in letters) else 0
        if run >= rule.min_words:
            return True
    return False


def is_negative(text: str, rule: FrustrationRule) -> bool:
    """Negative sentiment of any strength in one message."""
    return matches(rule.strong, text) or is_shouting(text, rule.shouting) or matches(rule.negative, text)


def is_frustrated(message: str, conversation: Sequence[str], rule: FrustrationRule) -> bool:
    """A strong signal now, or a negative message now that repeats negativity from the recent conversation."""
    if matches(rule.strong, message) or is_shouting(message, rule.shouting):
        return True
    if not matches(rule.negative, message):
        return False
    earlier = list(conversation)[-(rule.window_messages - 1) :] if rule.window_messages > 1 else []
    return 1 + sum(is_negative(normalise(m), rule) for m in earlier) >= rule.min_negative_messages


def detect(
    message: str,
    rules: TriggerRules,
    conversation: Sequence[str] = (),
    recent_similar_contacts: int = 0,
    semantic_scores: Mapping[str, float] | None = None,
) -> list[str]:
    """Every trigger reason that fires, in a stable order: risk topics (config order), human, frustration, repeat.

    Risk topics and a request for a human are read from the current message only: earlier messages were already
    judged when they were sent. Frustration reads the recent conversation too.
    """
    text = normalise(message)
    scores = semantic_scores or {}

    def fired(reason: str, by_pattern: bool) -> bool:
        semantic = rules.semantic.get(reason)
        if by_pattern or semantic is None or not semantic.active:
            return by_pattern
        if any(v.search(text) for v in semantic.veto):
            return False
        return scores.get(reason, -1.0) >= semantic.threshold

    reasons = [
        RISK_TOPIC_PREFIX + name
        for name, rule in rules.risk_topics.items()
        if fired(RISK_TOPIC_PREFIX + name, matches(rule, text))
    ]
    if fired(HUMAN_REQUESTED, matches(rules.human_requested, text)):
        reasons.append(HUMAN_REQUESTED)
    if fired(FRUSTRATION, is_frustrated(text, conversation, rules.frustration)):
        reasons.append(FRUSTRATION)
    if recent_similar_contacts >= rules.repeat_contact.min_recent_contacts:
        reasons.append(REPEAT_CONTACT)
    return reasons


def trigger_reasons(rules: TriggerRules) -> list[str]:
    """Every reason code these rules can produce, in `detect` order."""
    topics = [RISK_TOPIC_PREFIX + name for name in rules.risk_topics]
    return [*topics, HUMAN_REQUESTED, FRUSTRATION, REPEAT_CONTACT]
