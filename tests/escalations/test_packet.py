"""build_escalation(): the packet holds everything the issue lists, classified and with a running clock."""

from __future__ import annotations

import re

import pytest

from deflect.domain.escalation import Escalation, Priority, State, Tier
from deflect.domain.models import Audience
from deflect.errors import ValidationFailed
from deflect.escalations import searched_sources

from .builders import CONFIG, T0, at, escalation, hit

OUTAGE = "The whole site is down for everyone since 9am, we get HTTP 503 on Chrome 121. I already restarted."


def test_the_packet_holds_every_field() -> None:
    hits = [hit("status-page", 0.71, "Checking service status"), hit("restart", 0.42)]

    esc = escalation(
        question=OUTAGE,
        reasons=("risk_topic:outage", "low_confidence"),
        hits=hits,
        shown_ids={"status-page"},
        draft_answer="  Check the status page.  ",
        conversation=["Hello?", "  "],
        conversation_id="thread-9",
        customer_id="cust_42",
        customer_tier=" Enterprise ",
        audience=Audience.CUSTOMER,
    )

    assert re.fullmatch(r"esc_[0-9a-f]{32}", esc.id)
    assert esc.answer_id == "ans_test"
    assert esc.question == OUTAGE
    assert esc.conversation == ["Hello?"]  # blank messages dropped
    assert esc.conversation_id == "thread-9"
    assert esc.audience is Audience.CUSTOMER
    assert (esc.customer_id, esc.customer_tier) == ("cust_42", "enterprise")
    assert [(s.source_id, s.score, s.shown) for s in esc.sources] == [
        ("status-page", 0.71, True),
        ("restart", 0.42, False),
    ]
    assert esc.sources[0].title == "Checking service status"
    assert esc.draft_answer == "Check the status page."
    assert esc.reasons == ["risk_topic:outage", "low_confidence"]
    assert (esc.priority, esc.tier) == (Priority.CRITICAL, Tier.MANAGEMENT)
    assert esc.state is State.ESCALATED
    assert esc.timestamps == {State.CREATED: T0, State.ESCALATED: T0}
    assert esc.created_at == T0
    assert esc.policy_version == f"policy-v1+{CONFIG.version}"
    assert esc.bounce_reason is None and esc.resolution is None and esc.assignee is None


def test_the_clock_runs_from_now_with_the_customer_tiers_windows() -> None:
    standard = escalation(question=OUTAGE, reasons=("risk_topic:outage",), now=at(hours=1))
    enterprise = escalation(question=OUTAGE, reasons=("risk_topic:outage",), customer_tier="enterprise")

    assert standard.sla.started_at == at(hours=1)
    assert (standard.sla.acknowledge_within_s, standard.sla.resolve_within_s) == (15 * 60, 2 * 3600)
    assert (enterprise.sla.acknowledge_within_s, enterprise.sla.resolve_within_s) == (10 * 60, 90 * 60)
    assert standard.sla.acknowledged_at is None and standard.sla.paused_total_s == 0


def test_the_checklist_is_filled_from_the_conversation_and_shown_sources() -> None:
    esc = escalation(
        question=OUTAGE, reasons=("risk_topic:outage",), hits=[hit("status-page", 0.7)], shown_ids=["status-page"]
    )

    by_key = {item.key: item for item in esc.checklist}
    assert by_key["error_message"].value == "HTTP 503"
    assert by_key["environment"].value == "Chrome 121"
    assert "I already restarted." in (by_key["already_tried"].value or "")
    assert "Title of status-page" in (by_key["already_tried"].value or "")
    assert by_key["steps_to_reproduce"].missing
    assert by_key["previous_contact"].missing


def test_ids_are_unique_unless_given() -> None:
    assert escalation().id != escalation().id
    assert escalation(escalation_id="esc_fixed").id == "esc_fixed"


def test_no_draft_and_no_tier_stay_empty() -> None:
    esc = escalation(draft_answer="   ", customer_tier="  ")

    assert esc.draft_answer is None
    assert esc.customer_tier is None


def test_repeated_reasons_are_kept_once() -> None:
    assert escalation(reasons=("low_confidence", "low_confidence")).reasons == ["low_confidence"]


@pytest.mark.parametrize(
    ("question", "reasons"), [("Help?", ()), ("   ", ("low_confidence",))], ids=["no-reason", "no-question"]
)
def test_a_packet_needs_a_reason_and_a_question(question: str, reasons: tuple[str, ...]) -> None:
    with pytest.raises(ValidationFailed):
        escalation(question=question, reasons=reasons)


def test_searched_sources_keep_rank_order_and_shown_flags() -> None:
    sources = searched_sources([hit("a", 0.9), hit("b", 0.8)], shown_ids=["b", "not-retrieved"])

    assert [(s.source_id, s.shown) for s in sources] == [("a", False), ("b", True)]
    assert sources[0].url == "https://help.example/a"


def test_the_packet_keeps_what_was_quoted_to_the_asker_and_older_packets_read_without_it() -> None:
    esc = escalation(hits=[hit("a", 0.9), hit("b", 0.8)], shown_ids=["a", "b"], excerpts={"a": "**A**\n\nQuoted. [1]"})

    assert [(s.source_id, s.shown, s.excerpt) for s in esc.sources] == [
        ("a", True, "**A**\n\nQuoted. [1]"),
        ("b", True, ""),
    ]
    stored = Escalation.model_validate_json(esc.model_dump_json())
    assert stored.sources[0].excerpt == "**A**\n\nQuoted. [1]"
    # A packet stored before excerpts existed (no such key) reads as "nothing quoted": no migration.
    old = esc.model_dump(mode="json")
    for source in old["sources"]:
        del source["excerpt"]
    assert [s.excerpt for s in Escalation.model_validate(old).sources] == ["", ""]
