"""Each trigger of the shipped config/policy.yaml on its positives and on look-alikes that must not fire.

Patterns only (no semantic scores): the embedding side is tested with given scores in test_decide.py.
"""

from __future__ import annotations

import pytest

from deflect.policy.rules import FrustrationRule, PolicyConfig, ShoutingRule, TriggerRules
from deflect.policy.triggers import (
    FRUSTRATION,
    HUMAN_REQUESTED,
    REPEAT_CONTACT,
    detect,
    is_frustrated,
    is_shouting,
    normalise,
    trigger_reasons,
)

BILLING = "risk_topic:billing_dispute"
LEGAL = "risk_topic:legal"
SECURITY = "risk_topic:security"
OUTAGE = "risk_topic:outage"
DATA_LOSS = "risk_topic:data_loss"

POSITIVES = [
    (BILLING, "You charged us twice for March, refund one of them."),
    (BILLING, "I cancelled last month but you still billed my card"),
    (BILLING, "I'm opening a chargeback with my bank over this invoice."),
    (LEGAL, "We were served a subpoena for records about a user."),
    (LEGAL, "Our attorney needs your signed DPA with our amendments."),
    (LEGAL, "This is a data subject access request under the GDPR."),
    (SECURITY, "I think my account was hacked last night"),
    (SECURITY, "We leaked our API key in a public repo, what now?"),
    (SECURITY, "suspicious login from an IP I don't know, it wasn't me"),
    (OUTAGE, "Quiverly is down for everyone in our office"),
    (OUTAGE, "Your API returns 500 on every request since noon"),
    (OUTAGE, "Is there an outage? Your status page says nothing."),
    (DATA_LOSS, "All of our boards are gone this morning"),
    (DATA_LOSS, "Our tasks disappeared after the import"),
    (DATA_LOSS, "The Jira import deleted all of our boards"),
    (HUMAN_REQUESTED, "let me talk to a person"),
    (HUMAN_REQUESTED, "agent please"),
    (HUMAN_REQUESTED, "I want a real human"),
    (FRUSTRATION, "This is the third time I'm writing about this."),
    (FRUSTRATION, "still not fixed after a week"),
    (FRUSTRATION, "this assistant is useless"),
    (FRUSTRATION, "WHY IS EVERYTHING SO SLOW TODAY"),
    (FRUSTRATION, "what the f*** happened to my filters"),
]

HARD_NEGATIVES = [
    "how do I download my invoice",
    "How do I dispute... no, how do I update my card?",
    "Can I get a refund if I cancel in the first 14 days?",
    "where are the security settings",
    "How do I turn on two-factor authentication?",
    "how do I delete my account",
    "what happens to my data if I cancel",
    "How do I restore a board I deleted from the trash?",
    "How do I scroll down to older comments?",
    "Does the mobile app work offline?",
    "How do I shut down an automation for the weekend?",
    "How do I put the legal name of our company on the invoice?",
    "Is Quiverly GDPR compliant?",
    "How do I assign a task to a person on my team?",
    "Is there a human-readable export?",
    "I'm on my third workspace, can I merge them?",
    "Our API returns HTTP 404 NOT FOUND on GET /v2/tasks",
    "Which plans include SSO, SAML, SCIM and API access?",
    "Still on the trial, can I extend it?",
]


@pytest.mark.parametrize(("reason", "message"), POSITIVES, ids=[f"{r}:{m[:30]}" for r, m in POSITIVES])
def test_trigger_fires_on_its_positive(shipped: PolicyConfig, reason: str, message: str) -> None:
    assert reason in detect(message, shipped.triggers)


@pytest.mark.parametrize("message", HARD_NEGATIVES, ids=[m[:40] for m in HARD_NEGATIVES])
def test_look_alike_fires_nothing(shipped: PolicyConfig, message: str) -> None:
    assert detect(message, shipped.triggers) == []


def test_a_positive_fires_only_its_own_trigger(shipped: PolicyConfig) -> None:
    assert detect("Someone hacked our account and changed the owner", shipped.triggers) == [SECURITY]


def test_several_triggers_fire_together_in_a_stable_order(shipped: PolicyConfig) -> None:
    message = "THIS IS THE THIRD TIME: you double charged us, let me talk to a person"

    assert detect(message, shipped.triggers, recent_similar_contacts=2) == [
        BILLING,
        HUMAN_REQUESTED,
        FRUSTRATION,
        REPEAT_CONTACT,
    ]


def test_ignore_phrases_only_blank_themselves(shipped: PolicyConfig) -> None:
    # "scroll down" is ignored, but the outage in the same message is still seen.
    message = "I scroll down and nothing loads, the app is down for everyone"

    assert OUTAGE in detect(message, shipped.triggers)


def test_risk_topics_read_the_current_message_not_the_conversation(shipped: PolicyConfig) -> None:
    earlier = ("Our account was hacked yesterday.",)

    assert SECURITY not in detect("Thanks, and how do I export a board?", shipped.triggers, conversation=earlier)


def test_typographic_apostrophes_match_like_straight_ones(shipped: PolicyConfig) -> None:
    assert detect("someone logged in and it wasn\u2019t me", shipped.triggers) == [SECURITY]
    assert normalise("it\u2019s  \n down") == "it's down"


class TestRepeatContact:
    def test_threshold_boundary(self, shipped: PolicyConfig) -> None:
        threshold = shipped.triggers.repeat_contact.min_recent_contacts
        message = "Where can I download my invoices?"

        assert REPEAT_CONTACT not in detect(message, shipped.triggers, recent_similar_contacts=threshold - 1)
        assert REPEAT_CONTACT in detect(message, shipped.triggers, recent_similar_contacts=threshold)

    def test_threshold_comes_from_the_rules(self) -> None:
        rules = TriggerRules.model_validate({"repeat_contact": {"min_recent_contacts": 3}})

        assert detect("same problem", rules, recent_similar_contacts=2) == []
        assert detect("same problem", rules, recent_similar_contacts=3) == [REPEAT_CONTACT]


class TestFrustration:
    NEGATIVE_BEFORE = ("The Slack app stopped posting.", "I reconnected it and it still doesn't post.")

    def test_one_mild_complaint_alone_is_not_frustration(self, shipped: PolicyConfig) -> None:
        assert FRUSTRATION not in detect("It still doesn't post.", shipped.triggers)

    def test_repeated_negative_messages_across_the_conversation(self, shipped: PolicyConfig) -> None:
        assert FRUSTRATION in detect("It still doesn't post.", shipped.triggers, conversation=self.NEGATIVE_BEFORE)

    def test_a_calm_message_after_complaints_is_not_frustration(self, shipped: PolicyConfig) -> None:
        fired = detect("Great, it works now. Thanks!", shipped.triggers, conversation=self.NEGATIVE_BEFORE)

        assert FRUSTRATION not in fired

    def test_negatives_outside_the_window_do_not_count(self) -> None:
        rule = FrustrationRule.model_validate(
            {"negative": {"patterns": [r"\bbroken\b"]}, "min_negative_messages": 2, "window_messages": 2}
        )
        old_complaint = ("broken", "ok", "ok")

        assert not is_frustrated("broken", old_complaint, rule)
        assert is_frustrated("broken", ("ok", "broken"), rule)

    def test_shouting_needs_a_run_of_caps_words_and_skips_acronyms(self) -> None:
        rule = ShoutingRule(min_words=3, acronyms=frozenset({"API", "SSO"}))

        assert is_shouting("THE EXPORT FAILS", rule)
        assert not is_shouting("THE EXPORT fails", rule)
        assert not is_shouting("API SSO API SSO with a lowercase tail", rule)
        assert is_shouting("NOTHING API WORKS HERE", rule)  # an acronym neither counts nor breaks the run


def test_trigger_reasons_lists_every_configured_reason(shipped: PolicyConfig) -> None:
    assert trigger_reasons(shipped.triggers) == [BILLING, LEGAL, SECURITY, OUTAGE, DATA_LOSS, *TRIGGERS_AFTER_TOPICS]


TRIGGERS_AFTER_TOPICS = [HUMAN_REQUESTED, FRUSTRATION, REPEAT_CONTACT]
