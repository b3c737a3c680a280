"""Calibration cases from the desk's traffic: each labelling rule, which outcome wins, the per-customer cap, the age
window, and the rule that rewording a draft never makes deflect bolder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from deflect.calibrate.traffic import TRAFFIC_KIND, TrafficSettings, draft_kept, from_store, traffic_cases
from deflect.domain.escalation import AuditEvent, Escalation, Priority, SlaClock, State, Tier
from deflect.domain.feedback import FeedbackRecord
from deflect.domain.models import Audience
from deflect.store.sql import SqlStore
from deflect.testing import InMemoryStore

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
SETTINGS = TrafficSettings(max_age_days=30, max_per_customer=3)


def decision(answer_id: str, top: str, cited: list[str] | None = None, days_ago: float = 1) -> AuditEvent:
    data: dict[str, Any] = {
        "features": {"top_dense": 0.7, "top_score": 0.6, "margin_distinct": 0.1, "overlap": 0.5},
        "sources": [{"source_id": top, "score": 0.6}, {"source_id": "doc:other", "score": 0.4}],
        "cited": cited if cited is not None else [top],
    }
    return AuditEvent(
        at=NOW - timedelta(days=days_ago), kind="decision", actor="deflect", answer_id=answer_id, data=data
    )


def vote(answer_id: str, helpful: bool, role: str = "customer", actor: str = "c1", **kw: Any) -> FeedbackRecord:
    return FeedbackRecord(
        id=f"fb_{answer_id}_{role}_{actor}_{kw.get('minutes', 0)}",
        answer_id=answer_id,
        at=NOW - timedelta(minutes=kw.pop("minutes", 0)),
        helpful=helpful,
        actor=actor,
        role=role,  # type: ignore[arg-type]
        question="q",
        source_ids=kw.pop("shown", ["doc:a"]),
        decision="answer",
        **kw,
    )


def resolved(answer_id: str, resolution: str, draft: str | None) -> Escalation:
    return Escalation(
        id="esc_" + answer_id,
        answer_id=answer_id,
        question="q",
        audience=Audience.AGENT,
        draft_answer=draft,
        reasons=["low_confidence"],
        priority=Priority.LOW,
        tier=Tier.TIER1,
        sla=SlaClock(acknowledge_within_s=3600, resolve_within_s=86400, started_at=NOW),
        state=State.RESOLVED,
        resolution=resolution,
        policy_version="test",
        created_at=NOW - timedelta(days=1),
    )


def labels(cases: Any) -> dict[str, int]:
    return {s.group.removeprefix("traffic:"): s.label for s in cases.samples}


def test_votes_label_the_top_source_the_decision_was_made_on() -> None:
    decisions = [decision("a1", "doc:a"), decision("a2", "doc:a"), decision("a3", "doc:b"), decision("a4", "doc:b")]
    votes = [
        vote("a1", True, shown=["doc:a"]),  # helpful, top was shown: right
        vote("a2", False, actor="c2"),  # unhelpful: wrong
        vote("a3", False, actor="c3", correct_source="doc:b"),  # names the top source: right, whatever "helpful"
        vote("a4", True, actor="c4", correct_source="doc:a"),  # names another source: the top one was wrong
    ]
    cases = traffic_cases(decisions, votes, [], SETTINGS, NOW)
    assert labels(cases) == {"a1": 1, "a2": 0, "a3": 1, "a4": 0}
    assert all(s.kind == TRAFFIC_KIND for s in cases.samples)
    assert cases.samples[0].features == decisions[0].data["features"]
    assert cases.counts == {"helpful votes": 1, "unhelpful votes": 1, "named sources": 2}


def test_a_helpful_vote_on_sources_that_were_not_the_top_one_is_wrong_for_the_top_one() -> None:
    cases = traffic_cases([decision("a1", "doc:b")], [vote("a1", True, shown=["doc:a"])], [], SETTINGS, NOW)
    assert labels(cases) == {"a1": 0}


def test_an_agents_vote_outranks_a_customers_and_the_newest_wins_within_a_role() -> None:
    decisions = [decision("a1", "doc:a"), decision("a2", "doc:a")]
    votes = [
        vote("a1", True, role="agent", actor="ag", minutes=60),
        vote("a1", False, actor="c1", minutes=1),  # newer, but a customer's
        vote("a2", True, actor="c2", minutes=60),
        vote("a2", False, actor="c3", minutes=1),  # newer, same role
    ]
    assert labels(traffic_cases(decisions, votes, [], SETTINGS, NOW)) == {"a1": 1, "a2": 0}


def test_one_customer_supplies_at_most_the_cap_and_agents_are_not_capped() -> None:
    decisions = [decision(f"a{i}", "doc:a") for i in range(8)]
    flood = [vote(f"a{i}", True, actor="flooder", minutes=i) for i in range(5)]
    staff = [vote(f"a{i}", True, role="agent", actor="ag", minutes=i) for i in range(5, 8)]
    cases = traffic_cases(decisions, flood + staff, [], SETTINGS, NOW)
    assert len(cases.samples) == 3 + 3
    # The cap keeps the customer's newest votes.
    assert {"a0", "a1", "a2"} <= set(labels(cases))


def test_resolutions_label_the_question_by_whether_the_agent_sent_the_draft() -> None:
    draft = "Open Settings, then Billing, and choose Download invoice for the month you need."
    decisions = [decision("a1", "doc:a"), decision("a2", "doc:a"), decision("a3", "doc:a", cited=["doc:b"])]
    escalations = [
        resolved("a1", "Hi! " + draft + " Best, Sam", draft),  # the draft, kept: right
        resolved("a2", "We refunded the duplicate charge manually.", draft),  # new text: the KB did not have it
        resolved("a3", draft, draft),  # the draft kept, but it did not quote the top source: wrong for it
    ]
    cases = traffic_cases(decisions, [], escalations, SETTINGS, NOW)
    assert labels(cases) == {"a1": 1, "a2": 0, "a3": 0}
    assert cases.counts == {"resolved with the draft": 2, "resolved with new text": 1}


def test_a_vote_outranks_the_resolution_of_the_same_question() -> None:
    cases = traffic_cases(
        [decision("a1", "doc:a")],
        [vote("a1", True, role="agent")],
        [resolved("a1", "new text", "draft")],
        SETTINGS,
        NOW,
    )
    assert labels(cases) == {"a1": 1}
    assert len(cases.samples) == 1


def test_open_escalations_old_decisions_and_decisions_without_features_are_not_used() -> None:
    open_one = resolved("a1", "x", "x").model_copy(update={"state": State.ESCALATED})
    bare = decision("a3", "doc:a")
    bare = bare.model_copy(update={"data": {"sources": bare.data["sources"]}})  # from before features were stored
    decisions = [decision("a1", "doc:a"), decision("a2", "doc:a", days_ago=31), bare]
    votes = [vote("a2", True), vote("a3", True, actor="c2")]
    assert traffic_cases(decisions, votes, [open_one], SETTINGS, NOW).samples == []


def test_a_reworded_draft_is_new_text() -> None:
    draft = "Open Settings, then Billing, and choose Download invoice for the month you need."
    assert draft_kept(draft, "Thanks for writing. " + draft)
    assert not draft_kept(draft, "Invoices are under the billing page; pick a month there.")
    assert not draft_kept(None, "anything")
    assert not draft_kept(draft, "")


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_from_store_reads_the_labelled_questions_of_the_window(kind: str, tmp_path: Path) -> None:
    store = InMemoryStore() if kind == "memory" else SqlStore(f"sqlite:///{tmp_path / 'd.db'}")
    draft = "Open Settings, then Billing, and choose Download invoice for the month you need."
    store.append_audit([decision("a1", "doc:a"), decision("a2", "doc:a"), decision("a3", "doc:a")])
    store.add_feedback(vote("a1", True))
    escalation = resolved("a2", draft, draft)
    store.create(escalation.model_copy(update={"created_at": NOW - timedelta(days=1)}))

    cases = from_store(store, store, SETTINGS, NOW)

    assert labels(cases) == {"a1": 1, "a2": 1}  # a3 was never labelled
    assert from_store(store, store, SETTINGS, NOW + timedelta(days=40)).samples == []  # all older than the window
