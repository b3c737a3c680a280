"""classify(): each row of the shipped matrices, highest wins, the customer tier's effect, breach re-tiering."""

from __future__ import annotations

import pytest

from deflect.domain.escalation import Priority, Tier
from deflect.escalations import EscalationConfig, apply, breach_tier, classify

from .builders import CONFIG, at, config_with, escalation, raw_config

NEUTRAL = "How do I export my reports to CSV?"


def priority_of(
    reasons: list[str], question: str = NEUTRAL, tier: str | None = None, history: list[str] | None = None
) -> Priority:
    return classify(reasons, question, history or [], tier, CONFIG)[0]


def tier_of(reasons: list[str], question: str = NEUTRAL, customer_tier: str | None = None) -> Tier:
    return classify(reasons, question, [], customer_tier, CONFIG)[1]


@pytest.mark.parametrize(
    ("reasons", "question", "customer_tier", "expected"),
    [
        # critical
        (["risk_topic:outage"], "The whole site is down for everyone.", None, Priority.CRITICAL),
        (["risk_topic:outage"], "It is down system wide since 9am", None, Priority.CRITICAL),
        (["risk_topic:payment_failure"], NEUTRAL, None, Priority.CRITICAL),
        (["low_confidence"], "Payments are failing at checkout for our shop", None, Priority.CRITICAL),
        (["low_confidence"], NEUTRAL, "vip", Priority.CRITICAL),
        # high
        (["risk_topic:outage"], "The dashboard will not load for me.", None, Priority.HIGH),
        (["risk_topic:security"], "Someone logged into my account from abroad", None, Priority.HIGH),
        (["risk_topic:data_loss"], "My projects vanished", None, Priority.HIGH),
        (["risk_topic:billing_dispute"], "You charged me twice", None, Priority.HIGH),
        (["risk_topic:legal"], "Our lawyer will contact you", None, Priority.HIGH),
        (["low_confidence"], "Several users cannot log in since the update", None, Priority.HIGH),
        (["low_confidence"], "This affects 40 users in our office", None, Priority.HIGH),
        (["low_confidence"], "We are completely blocked by this", None, Priority.HIGH),
        # data-loss wording the policy's topic missed: as urgent as the topic, not "deflect only lacked an answer"
        (["low_confidence"], "I deleted my config by accident and lost all my functions", None, Priority.HIGH),
        (["low_confidence"], "Half my tasks disappeared overnight", None, Priority.HIGH),
        # medium
        (["human_requested"], "Let me talk to a person", None, Priority.MEDIUM),
        (["frustration"], "THIS IS USELESS", None, Priority.MEDIUM),
        (["repeat_contact"], NEUTRAL, None, Priority.MEDIUM),
        (["low_confidence"], "The CSV export is not working", None, Priority.MEDIUM),
        (["low_confidence"], "Search is slow today", None, Priority.MEDIUM),
        (["low_confidence"], NEUTRAL, "enterprise", Priority.MEDIUM),
        # low
        (["low_confidence"], NEUTRAL, None, Priority.LOW),
        (["low_confidence", "no_relevant_source"], NEUTRAL, None, Priority.LOW),
        (["risk_topic:feature_request"], "A minor cosmetic thing on the invoice page", None, Priority.LOW),
        (["risk_topic:feature_request"], "We have a workaround, no rush", None, Priority.LOW),
    ],
)
def test_each_row_of_the_priority_matrix(
    reasons: list[str], question: str, customer_tier: str | None, expected: Priority
) -> None:
    assert priority_of(reasons, question, customer_tier) is expected


def test_no_matching_row_gives_the_default_priority() -> None:
    assert priority_of(["risk_topic:feature_request"]) is CONFIG.priority.default is Priority.MEDIUM


@pytest.mark.parametrize(
    ("reasons", "question", "expected"),
    [
        (["risk_topic:outage", "low_confidence"], "Everything is down, minor thing for us though", Priority.CRITICAL),
        (["human_requested", "low_confidence"], NEUTRAL, Priority.MEDIUM),
        (["low_confidence"], "The export is broken but there's a workaround", Priority.MEDIUM),
        (["risk_topic:billing_dispute", "human_requested"], "Let me talk to someone", Priority.HIGH),
    ],
    ids=["critical-over-low", "medium-over-only-reasons", "medium-over-workaround", "high-over-medium"],
)
def test_the_highest_matching_priority_wins(reasons: list[str], question: str, expected: Priority) -> None:
    assert priority_of(reasons, question) is expected


@pytest.mark.parametrize(
    ("customer_tier", "expected"),
    [(None, Priority.LOW), ("standard", Priority.LOW), ("enterprise", Priority.MEDIUM), ("VIP ", Priority.CRITICAL)],
)
def test_the_customer_tier_raises_the_priority(customer_tier: str | None, expected: Priority) -> None:
    assert priority_of(["low_confidence"], NEUTRAL, customer_tier) is expected


def test_the_customer_tier_never_lowers_a_priority() -> None:
    assert priority_of(["risk_topic:security"], tier="enterprise") is Priority.HIGH


def test_earlier_conversation_counts_as_wording() -> None:
    history = ["Hi, nothing loads for any of us.", "It seems the service is down for everyone."]

    assert priority_of(["risk_topic:outage"], "Any news?", history=history) is Priority.CRITICAL
    assert priority_of(["risk_topic:outage"], "Any news?") is Priority.HIGH


def test_words_match_whole_words_only() -> None:
    # "majority" contains "major", "rapid" contains "api": neither is the word.
    assert priority_of(["low_confidence"], "The majority of reports export fine") is Priority.LOW
    assert tier_of(["low_confidence"], "Exports are rapid now") is Tier.TIER1


def test_a_risk_topic_condition_needs_the_prefix() -> None:
    question = "The whole site is down for everyone."

    assert priority_of(["risk_topic:outage"], question) is Priority.CRITICAL
    # A reason that merely reads "outage" is not the risk topic: the wording alone matches no row.
    assert priority_of(["outage"], question) is CONFIG.priority.default


@pytest.mark.parametrize(
    ("reasons", "question", "expected"),
    [
        (["low_confidence"], NEUTRAL, Tier.TIER1),
        (["low_confidence"], "Our API calls return HTTP 401", Tier.TIER2),
        (["low_confidence"], "SAML single sign-on fails for new staff", Tier.TIER2),
        (["low_confidence"], "The Salesforce integration stopped syncing", Tier.TIER2),
        (["low_confidence"], "I get error E1042 when saving", Tier.TIER2),
        (["risk_topic:data_loss"], "My projects vanished", Tier.TIER3),
        (["risk_topic:security"], "Someone logged into my account", Tier.TIER3),
        (["risk_topic:outage"], "The dashboard will not load for me.", Tier.TIER3),
        (["low_confidence"], "The desktop app crashes on start", Tier.TIER3),
        (["risk_topic:outage"], "The whole site is down for everyone.", Tier.MANAGEMENT),
        (["risk_topic:legal"], "Our lawyer will contact you", Tier.MANAGEMENT),
    ],
)
def test_each_row_of_the_tier_matrix(reasons: list[str], question: str, expected: Tier) -> None:
    assert tier_of(reasons, question) is expected


def test_a_reference_number_is_not_an_error_code() -> None:
    assert tier_of(["low_confidence"], "Can you resend invoice INV-2041?") is Tier.TIER1
    assert tier_of(["low_confidence"], "Saving shows INV-2041") is Tier.TIER2


def test_the_highest_tier_wins() -> None:
    # API (tier2) and a crash (tier3) in one question: engineering owns it.
    assert tier_of(["low_confidence"], "The API crashes with a 500") is Tier.TIER3


def test_management_owns_only_a_critical_outage() -> None:
    # The same outage topic without system-wide wording is high priority and goes to engineering, not management.
    assert classify(["risk_topic:outage"], "It is slow for me", [], None, CONFIG) == (Priority.HIGH, Tier.TIER3)
    assert classify(["risk_topic:outage"], "Down for everyone", [], None, CONFIG) == (
        Priority.CRITICAL,
        Tier.MANAGEMENT,
    )


# --- the mechanism, on a small matrix of our own ----------------------------------------------------------------


def small_config() -> EscalationConfig:
    data = raw_config()
    return config_with(
        priority={
            "default": "low",
            "critical": [{"name": "both", "risk_topics": ["outage"], "words": ["everyone"]}],
            "high": [{"name": "vip", "customer_tiers": ["Gold"]}],
            "medium": [{"name": "only", "only_reasons": ["low_confidence"]}],
            "low": [],
        },
        tier=data["tier"] | {"tier2": [], "tier3": [], "management": []},
    )


def test_all_conditions_of_a_row_must_hold() -> None:
    config = small_config()

    assert classify(["risk_topic:outage"], "down for everyone", [], None, config)[0] is Priority.CRITICAL
    assert classify(["risk_topic:outage"], "down for me", [], None, config)[0] is Priority.LOW
    assert classify(["human_requested"], "down for everyone", [], None, config)[0] is Priority.LOW


def test_only_reasons_needs_every_reason_in_the_list() -> None:
    config = small_config()

    assert classify(["low_confidence"], NEUTRAL, [], None, config)[0] is Priority.MEDIUM
    assert classify(["low_confidence", "human_requested"], NEUTRAL, [], None, config)[0] is Priority.LOW


def test_customer_tiers_compare_case_insensitively() -> None:
    assert classify(["x"], NEUTRAL, [], "gold", small_config())[0] is Priority.HIGH


# --- SLA breach moves ownership to management ------------------------------------------------------------------


def test_a_breached_escalation_moves_to_the_breach_tier() -> None:
    esc = escalation(reasons=("low_confidence",))  # low: acknowledge within 8 hours
    assert esc.tier is Tier.TIER1

    assert breach_tier(esc, at(hours=8), CONFIG) is Tier.TIER1
    assert breach_tier(esc, at(hours=8, seconds=1), CONFIG) is Tier.MANAGEMENT


def test_a_resolved_escalation_keeps_its_tier() -> None:
    esc = escalation(reasons=("low_confidence",))
    for n, action in enumerate(["claim", "start"]):
        esc = apply(esc, action, "ana", at(hours=n))
    esc = apply(esc, "resolve", "ana", at(hours=100), resolution="done, late")

    assert breach_tier(esc, at(hours=101), CONFIG) is Tier.TIER1
