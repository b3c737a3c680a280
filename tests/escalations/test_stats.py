"""Escalation metrics on a small history whose every number is worked out by hand in the comments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from deflect.domain.escalation import AuditEvent, Escalation, Priority, SlaClock, State
from deflect.errors import ValidationFailed
from deflect.escalations import stats
from deflect.testing.store import InMemoryStore
from deflect.testing.store_contract import make_escalation, make_event

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=30)
H = 3600


def t(hours: float = 0, minutes: float = 0, seconds: float = 0) -> datetime:
    return T0 + timedelta(hours=hours, minutes=minutes, seconds=seconds)


def esc(
    eid: str,
    created: datetime,
    question: str,
    priority: Priority,
    state: State,
    resolve_within_s: int,
    customer: str | None = None,
    *,
    acknowledged: datetime | None = None,
    resolved: datetime | None = None,
    paused_at: datetime | None = None,
    paused_total_s: float = 0.0,
    stamps: dict[State, datetime] | None = None,
) -> Escalation:
    """An escalation created and escalated at `created`, with its SLA clock and later timestamps."""
    clock = SlaClock(
        acknowledge_within_s=H,
        resolve_within_s=resolve_within_s,
        started_at=created,
        acknowledged_at=acknowledged,
        resolved_at=resolved,
        paused_at=paused_at,
        paused_total_s=paused_total_s,
    )
    timestamps = {State.CREATED: created, State.ESCALATED: created, **(stamps or {})}
    if resolved is not None:
        timestamps[State.RESOLVED] = resolved
    return make_escalation(
        eid,
        created,
        question=question,
        priority=priority,
        state=state,
        sla=clock,
        customer_id=customer,
        timestamps=timestamps,
    )


# E1 high, resolved in 3 h of a 4 h window.                          handoff 600 s, resolve 10800 s, in time.
# E2 high, customer c1 again: 6 h wall clock of which 3 h paused, so the 4 h deadline moved to T0+9h and the
#    T0+8h resolution is in time.                                      handoff 1800 s, resolve 21600 s, repeat of E1:
#    Jaccard {password, reset} / {password, reset, link, expired} = 2/4 = 0.5 >= 0.5.
# E3 low, never claimed, 24 h window: deadline T0+25h < NOW.         breach.
# E4 low, claimed at +1 h, bounced, re-claimed at T0+8h (the first claim counts), paused since T0+28h: the pause
#    in progress moves the deadline from T0+29h to T0+31h > NOW.      handoff 3600 s, bounced, in time. Not a repeat
#    of E3: Jaccard {download, invoice} / {invoice, download, fails, error, 500} = 2/5 = 0.4 < 0.5.
# E5 critical, no customer, resolved after 3 h of a 2 h window.      handoff 300 s, resolve 10800 s, breach.
# E6 high, customer c1 ("reset password": Jaccard 1 with E1), bounced before anyone claimed it, open past its
#    T0+24h deadline.                                                  bounced, breach, repeat.
ESCALATIONS = [
    esc(
        "E1",
        t(0),
        "How do I reset my password?",
        Priority.HIGH,
        State.RESOLVED,
        4 * H,
        "c1",
        acknowledged=t(minutes=10),
        resolved=t(3),
        stamps={State.CLAIMED: t(minutes=10), State.STARTED: t(1)},
    ),
    esc(
        "E2",
        t(2),
        "Password reset link expired",
        Priority.HIGH,
        State.RESOLVED,
        4 * H,
        "c1",
        acknowledged=t(2, 30),
        resolved=t(8),
        paused_total_s=3 * H,
        stamps={State.CLAIMED: t(2, 30), State.STARTED: t(3), State.WAITING_ON_CUSTOMER: t(4)},
    ),
    esc("E3", t(1), "How do I download my invoice?", Priority.LOW, State.ESCALATED, 24 * H, "c2"),
    esc(
        "E4",
        t(5),
        "Invoice download fails with error 500",
        Priority.LOW,
        State.WAITING_ON_CUSTOMER,
        24 * H,
        "c2",
        acknowledged=t(6),
        paused_at=t(28),
        stamps={
            State.BOUNCED_BACK: t(7),
            State.CLAIMED: t(8),
            State.STARTED: t(9),
            State.WAITING_ON_CUSTOMER: t(28),
        },
    ),
    esc(
        "E5",
        t(10),
        "Site down for everyone",
        Priority.CRITICAL,
        State.RESOLVED,
        2 * H,
        acknowledged=t(10, 5),
        resolved=t(13),
        stamps={State.CLAIMED: t(10, 5), State.STARTED: t(10, 10)},
    ),
    esc(
        "E6",
        t(20),
        "reset password",
        Priority.HIGH,
        State.BOUNCED_BACK,
        4 * H,
        "c1",
        stamps={State.BOUNCED_BACK: t(21)},
    ),
]


def decision(answer_id: str, verdict: str, at: datetime) -> AuditEvent:
    return make_event("decision", at, answer_id=answer_id, data={"decision": verdict})


# Eight decisions: five escalations (E1..E5; E6 has no decision event) and three answers: rate 5/8 = 0.625.
# Decision -> escalated: E1 2 s, E2 4 s, E3 1 s, E4 3 s, E5 5 s.
EVENTS = [
    decision("ans-E1", "escalate", t(seconds=-2)),
    decision("ans-x", "answer", t(0, 30)),
    decision("ans-E3", "escalate", t(1, seconds=-1)),
    decision("ans-E2", "escalate", t(2, seconds=-4)),
    make_event("action", t(2, 30), "agent-1", escalation_id="E2", action="claim"),
    decision("ans-E4", "escalate", t(5, seconds=-3)),
    decision("ans-y", "answer", t(6)),
    make_event("decision", t(7), answer_id="ans-z", data={"note": "no verdict: not counted"}),
    decision("ans-E5", "escalate", t(10, seconds=-5)),
    decision("ans-w", "answer", t(11)),
]


# --- helpers ---------------------------------------------------------------------------------------------------


def test_percentile_interpolates_between_closest_ranks() -> None:
    assert stats.percentile([40, 10, 30, 20], 0.5) == 25  # between 20 and 30
    assert stats.percentile([10, 20, 30, 40], 0.9) == pytest.approx(37)  # (4-1)*0.9 = 2.7: 30 + 0.7*10
    assert stats.percentile([10, 20, 30, 40], 0.0) == 10
    assert stats.percentile([10, 20, 30, 40], 1.0) == 40
    assert stats.percentile([7], 0.9) == 7
    assert stats.percentile([], 0.5) is None


def test_words_drop_case_stop_words_and_single_letters() -> None:
    assert stats.words("How do I reset MY password? I can't!") == {"reset", "password"}
    assert stats.words("Error 500 on step 2") == {"error", "500", "step", "2"}
    assert stats.words("How do I?") == frozenset()


def test_jaccard_of_question_words() -> None:
    assert stats.jaccard("How do I reset my password?", "Password reset link expired") == 0.5
    assert stats.jaccard("How do I download my invoice?", "Invoice download fails with error 500") == 0.4
    assert stats.jaccard("reset password", "RESET the password") == 1.0
    assert stats.jaccard("how do I", "what is it") == 0.0
    assert stats.similar_questions("How do I reset my password?", "Password reset link expired")
    assert not stats.similar_questions("How do I download my invoice?", "Invoice download fails with error 500")


# --- each metric ---------------------------------------------------------------------------------------------


def test_escalation_rate_counts_answer_and_escalate_decisions_only() -> None:
    assert stats.escalation_rate(EVENTS) == 5 / 8
    assert stats.escalation_rate([]) is None
    assert stats.escalation_rate([make_event("action")]) is None


def test_time_to_escalate_runs_from_the_decision_to_the_escalated_time() -> None:
    assert stats.time_to_escalate(ESCALATIONS, EVENTS) == {"E1": 2, "E2": 4, "E3": 1, "E4": 3, "E5": 5}


def test_time_to_escalate_uses_the_earliest_decision_for_an_answer() -> None:
    events = [decision("ans-E1", "escalate", t(minutes=-1)), decision("ans-E1", "escalate", t(seconds=-10))]

    assert stats.time_to_escalate(ESCALATIONS[:1], events) == {"E1": 60}


def test_handoff_delay_is_escalated_to_first_claim() -> None:
    # E4 was re-claimed at T0+8h after a bounce; its handoff is still the first claim, 1 h after T0+5h.
    assert stats.handoff_delays(ESCALATIONS) == {"E1": 600, "E2": 1800, "E4": 3600, "E5": 300}


def test_time_to_resolve_is_wall_clock_per_priority() -> None:
    assert stats.resolve_times(ESCALATIONS) == {
        Priority.CRITICAL: {"E5": 3 * H},
        Priority.HIGH: {"E1": 3 * H, "E2": 6 * H},
        Priority.MEDIUM: {},
        Priority.LOW: {},
    }


def test_sla_breaches_count_late_resolutions_and_overdue_open_escalations() -> None:
    assert [e.id for e in ESCALATIONS if stats.sla_breached(e, NOW)] == ["E3", "E5", "E6"]
    assert stats.sla_breach_rate(ESCALATIONS, NOW) == 0.5
    # Earlier, E3 (deadline T0+25h) and E6 (T0+24h) were not overdue yet; E5 was already resolved late.
    assert stats.sla_breach_rate(ESCALATIONS, t(23)) == 1 / 6
    assert stats.sla_breach_rate([], NOW) is None


def test_exactly_at_the_deadline_is_not_a_breach() -> None:
    open_one = esc("E", t(0), "q", Priority.LOW, State.ESCALATED, 2 * H)
    on_time = esc("F", t(0), "q", Priority.LOW, State.RESOLVED, 2 * H, acknowledged=t(1), resolved=t(2))

    assert not stats.sla_breached(open_one, t(2))
    assert stats.sla_breached(open_one, t(2, seconds=1))
    assert not stats.sla_breached(on_time, NOW)


def test_bounce_back_rate_counts_any_bounce_ever() -> None:
    assert [e.id for e in ESCALATIONS if stats.bounced(e)] == ["E4", "E6"]
    assert stats.bounce_back_rate(ESCALATIONS) == 2 / 6
    assert stats.bounce_back_rate([]) is None


def test_repeat_issues_need_the_same_customer_an_earlier_escalation_and_a_similar_question() -> None:
    # E5 has no customer id and is left out of the share.
    assert stats.repeat_issues(ESCALATIONS) == {"E1": False, "E2": True, "E3": False, "E4": False, "E6": True}
    assert stats.repeat_issue_rate(ESCALATIONS) == 2 / 5
    # Same question, another customer: not a repeat.
    other = esc("E7", t(25), "reset password", Priority.HIGH, State.ESCALATED, 4 * H, "c3")
    assert stats.repeat_issues([*ESCALATIONS, other])["E7"] is False
    assert stats.repeat_issue_rate([]) is None


def test_repeat_issues_accept_another_similarity() -> None:
    always = stats.repeat_issues(ESCALATIONS, similar=lambda a, b: True)

    assert always == {"E1": False, "E2": True, "E3": False, "E4": True, "E6": True}


# --- all together --------------------------------------------------------------------------------------------


def test_compute_stats_gathers_every_metric() -> None:
    result = stats.compute_stats(ESCALATIONS, EVENTS, NOW)

    assert result.decisions == 8
    assert result.escalations == 6
    assert result.escalation_rate == 0.625
    # [1, 2, 3, 4, 5]: p50 3; p90 at (5-1)*0.9 = 3.6: 4 + 0.6*1.
    escalate = result.time_to_escalate
    assert (escalate.count, escalate.p50_s, escalate.p90_s) == (5, 3, pytest.approx(4.6))
    # [300, 600, 1800, 3600]: p50 at 1.5: 600 + 0.5*1200 = 1200; p90 at 2.7: 1800 + 0.7*1800 = 3060.
    assert result.handoff_delay.count == 4
    assert result.handoff_delay.p50_s == 1200
    assert result.handoff_delay.p90_s == pytest.approx(3060)
    # High [10800, 21600]: p50 16200; p90 at 0.9: 10800 + 0.9*10800 = 20520.
    high = result.time_to_resolve[Priority.HIGH]
    assert (high.count, high.p50_s, high.p90_s) == (2, 16200, pytest.approx(20520))
    assert result.time_to_resolve[Priority.CRITICAL] == stats.Distribution(count=1, p50_s=10800, p90_s=10800)
    assert result.time_to_resolve[Priority.LOW] == stats.Distribution(count=0, p50_s=None, p90_s=None)
    assert result.sla_breaches == 3
    assert result.sla_breach_rate == 0.5
    assert result.bounce_back_rate == pytest.approx(1 / 3)
    assert result.repeat_issue_rate == 0.4
    assert result.similarity == "jaccard(words) >= 0.5"


def test_the_stats_body_is_plain_json() -> None:
    body = stats.compute_stats(ESCALATIONS, EVENTS, NOW).model_dump(mode="json")

    assert set(body["time_to_resolve"]) == {"critical", "high", "medium", "low"}
    assert body["now"] == "2026-03-03T15:00:00Z"
    assert body["time_to_resolve"]["low"] == {"count": 0, "p50_s": None, "p90_s": None}


def test_stats_of_nothing_are_empty_not_zero() -> None:
    result = stats.compute_stats([], [], NOW)

    assert (result.decisions, result.escalations) == (0, 0)
    assert result.escalation_rate is None
    assert result.sla_breach_rate is None
    assert result.bounce_back_rate is None
    assert result.repeat_issue_rate is None
    assert result.handoff_delay == stats.Distribution(count=0, p50_s=None, p90_s=None)


def test_now_must_be_timezone_aware() -> None:
    with pytest.raises(ValidationFailed):
        stats.compute_stats(ESCALATIONS, EVENTS, datetime(2026, 3, 3, 15, 0))


def test_stats_from_a_store_with_and_without_a_window() -> None:
    store = InMemoryStore()
    for escalation in ESCALATIONS:
        store.create(escalation)
    store.append_audit(EVENTS)

    everything = stats.stats_from_store(store, NOW)
    assert everything == stats.compute_stats(ESCALATIONS, EVENTS, NOW)

    # Since T0+5h: E4, E5, E6 and the decisions at +5h-3s (excluded), +6h, +7h (no verdict), +10h-5s, +11h.
    recent = stats.stats_from_store(store, NOW, since=t(5))
    assert recent.escalations == 3
    assert recent.decisions == 3
    assert recent.escalation_rate == pytest.approx(1 / 3)
    assert recent.sla_breaches == 2  # E5 and E6
    # Only the window is compared: E4's and E6's earlier issues (E3, E1) fall before it.
    assert recent.repeat_issue_rate == 0.0
