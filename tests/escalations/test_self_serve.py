"""The customer's `self_serve`: which states allow it, the page it names, the stopped SLA clock, and final."""

from __future__ import annotations

import pytest

from deflect.domain.escalation import FINAL_STATES, OTHER_PAGE, Escalation, State
from deflect.errors import InvalidTransition, ValidationFailed
from deflect.escalations import Action, apply, sla, stats, status
from deflect.escalations.lifecycle import TRANSITIONS

from .builders import CONFIG, T0, at, escalation, hit
from .test_lifecycle import PAYLOAD, in_state

SUGGESTED = ("export-csv", "scheduled-reports")


def suggested_escalation() -> Escalation:
    """A low-confidence packet whose hand-off suggested two of its three searched pages."""
    hits = [hit("export-csv", 0.5), hit("scheduled-reports", 0.4), hit("billing", 0.1)]
    return escalation(hits=hits, shown_ids=SUGGESTED)


def test_a_suggested_page_solves_it_before_anyone_claims() -> None:
    esc = suggested_escalation()

    after = apply(esc, "self_serve", "customer:abc", at(minutes=12), page="scheduled-reports")

    assert after.state is State.SELF_SERVED
    assert after.self_served_page == "scheduled-reports"
    assert after.timestamps[State.SELF_SERVED] == at(minutes=12)
    assert after.resolution is None  # nothing for the knowledge loop to take
    assert after.sla.resolved_at == at(minutes=12)
    # Nobody acknowledged it: the clock stops unacknowledged, so hand-off delay does not count it.
    assert after.sla.acknowledged_at is None


def test_other_is_accepted_and_a_page_never_suggested_is_refused() -> None:
    esc = suggested_escalation()

    assert apply(esc, "self_serve", "c", at(minutes=1), page=OTHER_PAGE).self_served_page == OTHER_PAGE
    for page in ("billing", "no-such-page", ""):  # searched but not shown, unknown, empty
        with pytest.raises(ValidationFailed) as info:
            apply(esc, "self_serve", "c", at(minutes=1), page=page)
        assert info.value.details[0]["field"] == "page"
    with pytest.raises(ValidationFailed):
        apply(esc, "self_serve", "c", at(minutes=1), page=OTHER_PAGE, resolution="not the customer's to give")


def test_allowed_only_while_nobody_has_started_working_it() -> None:
    assert TRANSITIONS[Action.SELF_SERVE][0] == {State.ESCALATED, State.CLAIMED, State.BOUNCED_BACK}
    for state in (State.STARTED, State.WAITING_ON_CUSTOMER, State.RESOLVED):
        with pytest.raises(InvalidTransition) as info:
            apply(in_state(state), "self_serve", "c", at(minutes=30), page=OTHER_PAGE)
        assert info.value.details[0]["allowed"] == []  # the agents' actions are not the customer's to take
        assert ("is final" in info.value.message) is (state is State.RESOLVED)


def test_a_claimed_one_keeps_its_assignee_and_first_acknowledgement() -> None:
    claimed = in_state(State.CLAIMED)

    after = apply(claimed, "self_serve", "c", at(minutes=20), page=OTHER_PAGE)

    assert after.assignee == claimed.assignee
    assert after.sla.acknowledged_at == claimed.sla.acknowledged_at


def test_self_served_is_final_for_every_action() -> None:
    esc = in_state(State.SELF_SERVED)

    assert State.SELF_SERVED in FINAL_STATES
    for action in Action:
        with pytest.raises(InvalidTransition, match="self_served is final"):
            apply(esc, action, "ana", at(minutes=30), **PAYLOAD.get(action, {}))


def test_no_final_state_has_a_way_on() -> None:
    assert not FINAL_STATES & {state for sources, _ in TRANSITIONS.values() for state in sources}


def test_the_stopped_clock_never_breaches_afterwards() -> None:
    esc = apply(escalation(), "self_serve", "c", at(minutes=1), page=OTHER_PAGE)

    later = status(esc.sla, at(hours=500), CONFIG)

    assert later.resolved
    assert not later.acknowledge_breached and not later.resolve_breached
    assert not later.warning
    assert later.acknowledge_remaining_s == esc.sla.acknowledge_within_s - 60
    assert esc.created_at == T0


def test_stats_count_deflections_after_escalation_apart_from_resolutions() -> None:
    solved_by_page = apply(suggested_escalation(), "self_serve", "c", at(minutes=10), page="export-csv")
    claimed = apply(escalation(), "claim", "ana", at(minutes=5))
    solved_elsewhere = apply(claimed, "self_serve", "c", at(minutes=40), page=OTHER_PAGE)
    still_open = escalation()
    resolved = apply(
        apply(apply(escalation(), "claim", "ana", at(minutes=1)), "start", "ana", at(minutes=2)),
        "resolve",
        "ana",
        at(minutes=30),
        resolution="Re-ran the export",
    )
    # Long after every deadline: the open one has breached, the withdrawn ones stopped their clocks in time.
    now = at(hours=24 * 30)

    result = stats.compute_stats([solved_by_page, solved_elsewhere, still_open, resolved], [], now)

    assert result.self_served == 2
    assert result.self_served_rate == 0.5
    assert result.self_served_suggested == 1
    assert (result.time_to_self_serve.count, result.time_to_self_serve.p50_s) == (2, 25 * 60)
    assert sum(d.count for d in result.time_to_resolve.values()) == 1  # a withdrawal is not a resolution
    assert result.sla_breaches == 1
    assert result.handoff_delay.count == 2  # the claimed-then-withdrawn one and the resolved one


def test_a_refused_staff_action_does_not_offer_the_customers_one() -> None:
    with pytest.raises(InvalidTransition) as info:
        apply(escalation(), "start", "ana", at(minutes=1))

    assert info.value.details[0]["allowed"] == ["claim", "update", "bounce"]
    assert "self_serve" not in info.value.message


def test_stopping_a_clock_ends_a_pause_and_refuses_a_second_stop() -> None:
    clock = sla.pause(sla.acknowledge(escalation().sla, at(minutes=5)), at(minutes=10))

    stopped = sla.stop(clock, at(minutes=40))

    assert (stopped.paused_at, stopped.paused_total_s, stopped.resolved_at) == (None, 30 * 60, at(minutes=40))
    assert stopped.acknowledged_at == at(minutes=5)
    with pytest.raises(InvalidTransition):
        sla.stop(stopped, at(minutes=50))
