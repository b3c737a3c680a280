"""SLA sweep: breached open escalations go to the breach tier (audited), warnings are listed, resolved ones left."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from deflect.desk import EscalationDesk
from deflect.domain.escalation import Tier
from deflect.domain.models import Audience
from deflect.escalations import load_escalation_config
from deflect.testing import InMemoryStore

CONFIG = load_escalation_config(Path(__file__).resolve().parents[1] / "config" / "escalation.yaml")
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def desk_with_one_escalation() -> tuple[EscalationDesk, Clock, str]:
    clock = Clock()
    desk = EscalationDesk(InMemoryStore(), CONFIG, clock)
    esc, _ = desk.escalate(
        answer_id="ans_1",
        question="Nothing in the KB covers this",
        audience=Audience.CUSTOMER,
        reasons=["no_relevant_source"],
        hits=[],
        policy_version="test",
        decision_data={"decision": "escalate"},
    )
    return desk, clock, esc.id


def test_a_fresh_escalation_is_neither_breached_nor_raised() -> None:
    desk, _, esc_id = desk_with_one_escalation()
    assert desk.sweep() == {"raised": [], "breached": [], "warning": []}
    assert desk.get(esc_id).tier is not Tier.MANAGEMENT


def test_a_warning_is_listed_before_the_acknowledge_deadline() -> None:
    desk, clock, esc_id = desk_with_one_escalation()
    window = desk.get(esc_id).sla.acknowledge_within_s
    clock.now = START + timedelta(seconds=window * 0.9)  # 10% of the window left: inside the 20% warning lead
    report = desk.sweep()
    assert report["warning"] == [esc_id]
    assert report["breached"] == report["raised"] == []


def test_a_breached_escalation_is_raised_to_the_breach_tier_once_and_audited() -> None:
    desk, clock, esc_id = desk_with_one_escalation()
    clock.now = START + timedelta(seconds=desk.get(esc_id).sla.acknowledge_within_s + 1)
    first = desk.sweep()
    assert first["breached"] == [esc_id] and first["raised"] == [esc_id]
    assert desk.get(esc_id).tier is CONFIG.tier.on_sla_breach
    events = [e for e in desk.audit(escalation_id=esc_id) if e.action == "sla_breach"]
    assert len(events) == 1 and events[0].actor == "deflect"
    again = desk.sweep()  # already raised: still breached, not raised twice
    assert again["breached"] == [esc_id] and again["raised"] == []


def test_a_resolved_escalation_is_left_alone() -> None:
    desk, clock, esc_id = desk_with_one_escalation()
    for action, payload in (("claim", {}), ("start", {}), ("resolve", {"resolution": "Fixed the export job."})):
        desk.act(esc_id, action, "agent-1", **payload)
    clock.now = START + timedelta(days=30)
    assert desk.sweep() == {"raised": [], "breached": [], "warning": []}
