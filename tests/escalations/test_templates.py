"""Hand-off messages: the customer hears the right expected response time; the engineer gets a full briefing."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from deflect.domain.escalation import Escalation
from deflect.escalations import apply, customer_message, engineering_briefing, human_duration, load_escalation_config
from deflect.escalations.config import MessageTemplates
from deflect.escalations.templates import opening

from .builders import CONFIG, at, escalation, hit, raw_config

NEUTRAL = "How do I export my reports to CSV?"


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (1, "1 minute"),
        (60, "1 minute"),
        (61, "2 minutes"),
        (15 * 60, "15 minutes"),
        (3600, "1 hour"),
        (90 * 60, "90 minutes"),
        (2 * 3600, "2 hours"),
        (150 * 60, "3 hours"),  # rounded up: never promise faster than the SLA
        (4 * 3600, "4 hours"),
        (24 * 3600, "24 hours"),
        (48 * 3600, "2 days"),
        (72 * 3600, "3 days"),
        (73 * 3600, "73 hours"),
    ],
)
def test_human_duration(seconds: float, words: str) -> None:
    assert human_duration(seconds) == words


@pytest.mark.parametrize(
    ("question", "reasons", "customer_tier", "promise"),
    [
        ("The whole site is down for everyone", ("risk_topic:outage",), None, "within 15 minutes"),
        ("The whole site is down for everyone", ("risk_topic:outage",), "enterprise", "within 10 minutes"),
        ("You charged me twice", ("risk_topic:billing_dispute",), None, "within 1 hour"),
        ("Let me talk to a person", ("human_requested",), None, "within 4 hours"),
        (NEUTRAL, ("low_confidence",), None, "within 8 hours"),
    ],
)
def test_the_customer_message_promises_the_acknowledge_window(
    question: str, reasons: tuple[str, ...], customer_tier: str | None, promise: str
) -> None:
    esc = escalation(question=question, reasons=reasons, customer_tier=customer_tier)

    message = customer_message(esc, CONFIG, at())

    assert f"reply {promise}." in message
    assert f"Your reference: {esc.id}" in message
    assert "$" not in message


def test_the_promise_is_what_remains_of_the_window() -> None:
    esc = escalation(question="Let me talk to a person", reasons=("human_requested",))  # acknowledge within 4 h

    assert "within 3 hours" in customer_message(esc, CONFIG, at(hours=1))
    assert "within 1 minute" in customer_message(esc, CONFIG, at(hours=3, minutes=59, seconds=30))
    assert "as soon as possible" in customer_message(esc, CONFIG, at(hours=5))


def test_the_customer_message_comes_from_the_yaml(tmp_path: Path) -> None:
    data = raw_config()
    data["messages"]["customer"] = "Ref $reference: a person replies $response_time (by $acknowledge_by)."
    path = tmp_path / "escalation.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    config = load_escalation_config(path)
    esc = escalation(question="The whole site is down for everyone", reasons=("risk_topic:outage",), config=config)

    message = customer_message(esc, config, at())

    assert message == f"Ref {esc.id}: a person replies within 15 minutes (by 2026-03-02 10:15 UTC)."


def briefing_packet() -> Escalation:
    return escalation(
        question="The whole site is down for everyone, we get HTTP 503.\nPlease hurry.",
        reasons=("risk_topic:outage", "low_confidence"),
        hits=[hit("restart", 0.42), hit("status-page", 0.713, "Checking service status")],
        shown_ids=["status-page"],
        conversation=["Hi, is something wrong?"],
        customer_id="cust_42",
        customer_tier="vip",
        draft_answer="Check the status page.",
    )


def test_the_engineering_briefing_is_incident_style() -> None:
    esc = briefing_packet()

    text = engineering_briefing(esc, CONFIG, at(minutes=2))

    assert text.startswith(f"ESCALATION {esc.id} | priority CRITICAL | management | escalated\n")
    assert "Opened:    2026-03-02 10:00 UTC" in text
    assert "Customer:  cust_42 [vip] (customer)" in text
    assert "Impact:    The whole site is down for everyone, we get HTTP 503." in text
    assert "Reasons:   risk_topic:outage, low_confidence" in text
    assert "acknowledge by 2026-03-02 10:05 UTC (in 3 minutes)" in text  # vip critical: 5 minutes
    assert "resolve by 2026-03-02 11:00 UTC (in 58 minutes)" in text
    assert "  The whole site is down for everyone, we get HTTP 503.\n  Please hurry." in text
    assert "  1. Hi, is something wrong?" in text
    # Evidence by score, best first, with the shown flag.
    evidence = text.index("0.713  Checking service status  <https://help.example/status-page>  [shown to asker]")
    assert evidence < text.index("0.420  Title of restart  <https://help.example/restart>")
    assert "[x] Error message: HTTP 503" in text
    assert "[ ] Steps to reproduce: MISSING" in text
    assert "[ ] Previous communication: MISSING" in text
    assert "Draft answer (not sent to the customer; check it before using it):\n  Check the status page." in text
    assert f"Policy: policy-v1+{CONFIG.version}" in text
    assert "$" not in text and "\n\n\n" not in text


def test_a_briefing_without_a_draft_or_sources_says_so() -> None:
    esc = escalation()

    text = engineering_briefing(esc, CONFIG, at())

    assert "Draft answer" not in text
    assert "(no sources retrieved)" in text
    assert "Customer:  anonymous (customer)" in text
    assert "Impact:    MISSING (not stated)" in text
    assert "\n\n\n" not in text


def test_the_briefing_flags_warnings_breaches_pauses_and_done_deadlines() -> None:
    esc = escalation(question="The whole site is down for everyone", reasons=("risk_topic:outage",))  # 15 min / 2 h

    assert "(in 3 minutes) WARNING" in engineering_briefing(esc, CONFIG, at(minutes=12))
    assert "acknowledge OVERDUE by 5 minutes (due 2026-03-02 10:15 UTC)" in engineering_briefing(
        esc, CONFIG, at(minutes=20)
    )

    esc = apply(esc, "claim", "ana", at(minutes=20))
    esc = apply(esc, "start", "ana", at(minutes=21))
    esc = apply(esc, "wait", "ana", at(minutes=30))
    text = engineering_briefing(esc, CONFIG, at(minutes=40))
    assert "acknowledge LATE done 2026-03-02 10:20 UTC (due 2026-03-02 10:15 UTC)" in text
    assert "resolve by 2026-03-02 12:10 UTC (in 90 minutes); clock paused, waiting on the customer" in text
    assert "| started" not in text and "| waiting_on_customer" in text


@pytest.mark.parametrize(
    ("reasons", "expected_start"),
    [
        (["low_confidence"], "I couldn't find an answer"),
        (["low_confidence", "risk_topic:billing_dispute"], "This is something a person"),
        (["frustration", "human_requested"], "Of course"),
        (["frustration"], "I'm sorry this has been frustrating"),
        (["repeat_contact", "low_confidence"], "Since this has come up before"),
    ],
)
def test_the_opening_sentence_follows_the_reasons(reasons: list[str], expected_start: str) -> None:
    openings = CONFIG.messages.openings
    assert opening(reasons, openings).startswith(expected_start)


def test_an_unknown_opening_key_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="unknown keys"):
        MessageTemplates(
            missing_marker="M",
            customer="$opening $reference",
            engineering="$id",
            engineering_draft="$draft",
            openings={"nonsense": "x"},
        )


def test_the_briefing_says_which_shown_page_was_quoted_to_the_asker() -> None:
    esc = escalation(
        hits=[hit("quoted", 0.7), hit("pointer", 0.6), hit("unshown", 0.5)],
        shown_ids=["quoted", "pointer"],
        excerpts={"quoted": "Quoted passage. [1]"},
    )

    lines = engineering_briefing(esc, CONFIG, at()).splitlines()

    def line(source_id: str) -> str:
        return next(x for x in lines if f"/{source_id}>" in x)

    assert line("quoted").endswith("[shown to asker, with an excerpt]")
    assert line("pointer").endswith("[shown to asker]")
    assert "shown to asker" not in line("unshown")
