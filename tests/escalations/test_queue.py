"""The queue's order: priority first, then the next SLA deadline, whatever the creation order."""

from __future__ import annotations

from datetime import timedelta

from deflect.domain.escalation import Priority, State
from deflect.escalations import sla
from deflect.escalations.queue import most_urgent_first
from deflect.testing.store_contract import T0, make_escalation


def test_priority_comes_before_age_and_the_next_deadline_breaks_ties() -> None:
    old_high = make_escalation("ESC-old-high", T0, priority=Priority.HIGH)
    new_lows = [make_escalation(f"ESC-low-{i}", T0 + timedelta(hours=i + 1), priority=Priority.LOW) for i in range(3)]
    critical = make_escalation("ESC-critical", T0 + timedelta(hours=9), priority=Priority.CRITICAL)
    medium = make_escalation("ESC-medium", T0 + timedelta(hours=5), priority=Priority.MEDIUM)
    # Same priority, created later but acknowledged: its next deadline is the (later) resolve one.
    later_high = make_escalation("ESC-new-high", T0 + timedelta(hours=2), priority=Priority.HIGH)
    acked_high = make_escalation(
        "ESC-acked-high",
        T0 - timedelta(hours=1),
        priority=Priority.HIGH,
        state=State.CLAIMED,
    )
    acked_high = acked_high.model_copy(update={"sla": sla.acknowledge(acked_high.sla, T0)})
    now = T0 + timedelta(hours=10)

    order = [e.id for e in most_urgent_first([*new_lows, medium, later_high, acked_high, old_high, critical], now)]

    assert order[:4] == ["ESC-critical", "ESC-old-high", "ESC-new-high", "ESC-acked-high"]
    assert order[4] == "ESC-medium"
    # Equal windows: the low ones in the order their deadlines fall, the oldest first.
    assert order[5:] == ["ESC-low-0", "ESC-low-1", "ESC-low-2"]
    deadlines = [sla.next_deadline(e.sla, now) for e in (old_high, later_high, acked_high)]
    assert deadlines == sorted(deadlines)
