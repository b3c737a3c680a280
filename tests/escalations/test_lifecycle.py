"""The escalation state machine: every legal transition, every illegal one refused, final resolved, payloads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from deflect.domain.escalation import Escalation, State
from deflect.errors import InvalidTransition, ValidationFailed
from deflect.escalations import Action, allowed_actions, apply
from deflect.escalations.lifecycle import TRANSITIONS

from .builders import T0, at, escalation

PAYLOAD: dict[Action, dict[str, str]] = {
    Action.UPDATE: {"note": "Asked engineering for logs"},
    Action.BOUNCE: {"reason": "Not an engineering issue"},
    Action.RESOLVE: {"resolution": "Cleared the stuck export job"},
    Action.SELF_SERVE: {"page": "other"},
    Action.TAKEOVER: {"reason": "Ana is off sick"},
}

# The shortest path of actions from a fresh packet (escalated) to each state.
PATHS: dict[State, list[Action]] = {
    State.ESCALATED: [],
    State.CLAIMED: [Action.CLAIM],
    State.STARTED: [Action.CLAIM, Action.START],
    State.WAITING_ON_CUSTOMER: [Action.CLAIM, Action.START, Action.WAIT],
    State.BOUNCED_BACK: [Action.BOUNCE],
    State.RESOLVED: [Action.CLAIM, Action.START, Action.RESOLVE],
    State.SELF_SERVED: [Action.SELF_SERVE],
}


def act(esc: Escalation, action: Action | str, minute: int, actor: str = "ana", **payload: Any) -> Escalation:
    return apply(esc, action, actor, at(minutes=minute), **payload)


def in_state(state: State) -> Escalation:
    """A packet driven to `state` through the real transitions, one minute per step."""
    esc = escalation()
    for minute, action in enumerate(PATHS[state], start=1):
        esc = act(esc, action, minute, **PAYLOAD.get(action, {}))
    assert esc.state is state
    return esc


LEGAL = [(state, action) for action, (sources, _) in TRANSITIONS.items() for state in sorted(sources)]
ILLEGAL = [(state, action) for state in State for action in Action if state not in TRANSITIONS[action][0]]


def test_a_new_packet_is_escalated() -> None:
    esc = escalation()

    assert esc.state is State.ESCALATED
    assert esc.timestamps == {State.CREATED: T0, State.ESCALATED: T0}
    assert esc.assignee is None


def test_the_whole_happy_path() -> None:
    esc = escalation()
    esc = act(esc, "claim", 5, actor="ana")
    esc = act(esc, "start", 6)
    esc = act(esc, "wait", 30)
    esc = act(esc, "resume", 70)
    esc = act(esc, "resolve", 90, resolution="Re-ran the export")

    assert esc.state is State.RESOLVED
    assert esc.assignee == "ana"
    assert esc.resolution == "Re-ran the export"
    assert esc.timestamps == {
        State.CREATED: T0,
        State.ESCALATED: T0,
        State.CLAIMED: at(minutes=5),
        State.STARTED: at(minutes=70),  # entered last on resume
        State.WAITING_ON_CUSTOMER: at(minutes=30),
        State.RESOLVED: at(minutes=90),
    }
    assert esc.sla.acknowledged_at == at(minutes=5)
    assert esc.sla.paused_total_s == 40 * 60
    assert esc.sla.paused_at is None
    assert esc.sla.resolved_at == at(minutes=90)


EXPECTED_TARGET = {
    Action.CLAIM: State.CLAIMED,
    Action.START: State.STARTED,
    Action.WAIT: State.WAITING_ON_CUSTOMER,
    Action.RESUME: State.STARTED,
    Action.BOUNCE: State.BOUNCED_BACK,
    Action.RESOLVE: State.RESOLVED,
    Action.SELF_SERVE: State.SELF_SERVED,
}


@pytest.mark.parametrize(("state", "action"), LEGAL, ids=[f"{s.value}-{a.value}" for s, a in LEGAL])
def test_every_legal_transition(state: State, action: Action) -> None:
    before = in_state(state)

    # A takeover is someone else's (the state paths are ana's)
    after = act(before, action, 30, actor="ben" if action is Action.TAKEOVER else "ana", **PAYLOAD.get(action, {}))

    expected = EXPECTED_TARGET.get(action, state)  # update and takeover keep the state
    assert after.state is expected
    if action is Action.UPDATE:
        assert after == before
    elif action is Action.TAKEOVER:
        assert after == before.model_copy(update={"assignee": "ben"})
    else:
        assert after.timestamps[expected] == at(minutes=30)


@pytest.mark.parametrize(("state", "action"), ILLEGAL, ids=[f"{s.value}-{a.value}" for s, a in ILLEGAL])
def test_every_illegal_transition_is_refused_naming_state_and_action(state: State, action: Action) -> None:
    esc = escalation().model_copy(update={"state": state}) if state is State.CREATED else in_state(state)

    with pytest.raises(InvalidTransition) as info:
        act(esc, action, 30, **PAYLOAD.get(action, {}))

    assert f"cannot {action.value}" in info.value.message
    assert state.value in info.value.message
    assert info.value.details[0]["state"] == state.value
    assert info.value.details[0]["action"] == action.value
    assert info.value.status == 409


def test_resolved_is_final() -> None:
    esc = in_state(State.RESOLVED)

    assert allowed_actions(State.RESOLVED) == []
    for action in Action:
        with pytest.raises(InvalidTransition, match="resolved is final"):
            act(esc, action, 30, **PAYLOAD.get(action, {}))


def test_the_state_diagram() -> None:
    assert allowed_actions(State.CREATED) == []
    assert allowed_actions(State.ESCALATED) == [Action.CLAIM, Action.UPDATE, Action.BOUNCE, Action.SELF_SERVE]
    assert allowed_actions(State.CLAIMED) == [
        Action.START,
        Action.UPDATE,
        Action.BOUNCE,
        Action.SELF_SERVE,
        Action.TAKEOVER,
    ]
    assert allowed_actions(State.STARTED) == [
        Action.UPDATE,
        Action.WAIT,
        Action.BOUNCE,
        Action.RESOLVE,
        Action.TAKEOVER,
    ]
    assert allowed_actions(State.WAITING_ON_CUSTOMER) == [Action.UPDATE, Action.RESUME, Action.RESOLVE, Action.TAKEOVER]
    assert allowed_actions(State.BOUNCED_BACK) == [Action.CLAIM, Action.UPDATE, Action.SELF_SERVE]
    assert allowed_actions(State.SELF_SERVED) == []


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_bounce_requires_a_reason(reason: str | None) -> None:
    esc = in_state(State.CLAIMED)
    payload = {} if reason is None else {"reason": reason}

    with pytest.raises(ValidationFailed, match="bounce requires a non-empty reason"):
        act(esc, "bounce", 30, **payload)


def test_a_bounce_returns_the_escalation_to_the_queue() -> None:
    esc = act(in_state(State.STARTED), "bounce", 30, reason="  Wrong team: billing owns this  ")

    assert esc.state is State.BOUNCED_BACK
    assert esc.bounce_reason == "Wrong team: billing owns this"
    assert esc.assignee is None
    assert esc.sla.paused_at is None  # the customer is still waiting: the clock keeps running

    again = act(esc, "claim", 31, actor="ben")
    assert again.state is State.CLAIMED
    assert again.assignee == "ben"
    assert again.sla.acknowledged_at == at(minutes=1)  # the first acknowledgement stands
    assert act(again, "start", 32, actor="ben").state is State.STARTED


@pytest.mark.parametrize("resolution", [None, "", "\n"])
def test_resolve_requires_a_resolution(resolution: str | None) -> None:
    payload = {} if resolution is None else {"resolution": resolution}

    with pytest.raises(ValidationFailed, match="resolve requires a non-empty resolution"):
        act(in_state(State.STARTED), "resolve", 30, **payload)


def test_update_requires_a_note_and_changes_nothing() -> None:
    esc = in_state(State.WAITING_ON_CUSTOMER)

    with pytest.raises(ValidationFailed, match="update requires a non-empty note"):
        act(esc, "update", 30)
    assert act(esc, "update", 30, note="Customer is checking with IT") == esc


def test_resolving_while_waiting_ends_the_pause() -> None:
    esc = in_state(State.WAITING_ON_CUSTOMER)  # paused at minute 3

    done = act(esc, "resolve", 33, resolution="Customer confirmed the fix")

    assert done.sla.paused_at is None
    assert done.sla.paused_total_s == 30 * 60
    assert done.sla.resolved_at == at(minutes=33)


def test_apply_returns_a_new_escalation_and_leaves_the_old_one_alone() -> None:
    before = in_state(State.STARTED)
    snapshot = before.model_copy(deep=True)

    after = act(before, "wait", 30)

    assert after is not before
    assert before == snapshot
    assert after.timestamps is not before.timestamps


@pytest.mark.parametrize(
    ("action", "actor", "now", "payload", "message"),
    [
        ("escalate", "ana", at(minutes=30), {}, "unknown escalation action 'escalate'"),
        ("claim", "  ", at(minutes=30), {}, "needs an actor"),
        ("claim", "ana", at(minutes=30), {"reason": "x"}, "claim does not take reason"),
        ("claim", "ana", at(minutes=30), {"note": 5}, "note must be text"),
        ("claim", "ana", at(minutes=-1), {}, "before the escalation's last change"),
        ("claim", "ana", datetime(2026, 3, 2, 11, 0), {}, "timezone-aware"),
    ],
    ids=["unknown-action", "blank-actor", "unexpected-field", "non-text-note", "time-travel", "naive-time"],
)
def test_bad_requests_are_validation_errors(
    action: str, actor: str, now: datetime, payload: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationFailed, match=message):
        apply(escalation(), action, actor, now, **payload)


def test_every_action_accepts_an_optional_note() -> None:
    esc = act(escalation(), "claim", 5, note="Taking this one")

    assert esc.state is State.CLAIMED


# --- whose escalation it is ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", [State.CLAIMED, State.STARTED, State.WAITING_ON_CUSTOMER])
def test_only_the_assignee_may_work_a_claimed_escalation(state: State) -> None:
    esc = in_state(state)  # claimed by ana
    work = [a for a in allowed_actions(state) if a in (Action.START, Action.WAIT, Action.RESUME, Action.RESOLVE)]
    assert work

    for action in work:
        with pytest.raises(InvalidTransition) as info:
            act(esc, action, 30, actor="ben", **PAYLOAD.get(action, {}))
        assert info.value.status == 409
        assert "held by ana" in info.value.message and "take it over first" in info.value.message
        assert info.value.details[0]["assignee"] == "ana"
        assert "takeover" in info.value.details[0]["allowed"] and action.value not in info.value.details[0]["allowed"]
        act(esc, action, 30, actor=" ana ", **PAYLOAD.get(action, {}))  # the holder may, whatever the spacing


def test_a_claim_on_someone_elses_escalation_names_them_and_offers_no_work_on_it() -> None:
    esc = in_state(State.CLAIMED)

    with pytest.raises(InvalidTransition) as info:
        act(esc, Action.CLAIM, 30, actor="ben")

    assert "held by ana" in info.value.message
    assert info.value.details[0]["allowed"] == ["update", "bounce", "takeover"]  # not "start": that is ana's


def test_a_takeover_makes_it_the_actors_and_keeps_state_and_clock() -> None:
    esc = in_state(State.WAITING_ON_CUSTOMER)

    taken = act(esc, Action.TAKEOVER, 30, actor="ben", reason="Ana is off sick")
    resolved = act(taken, Action.RESOLVE, 31, actor="ben", resolution="Re-ran the export")

    assert taken.assignee == "ben" and taken.state is State.WAITING_ON_CUSTOMER and taken.sla == esc.sla
    assert resolved.assignee == "ben" and resolved.state is State.RESOLVED
    with pytest.raises(InvalidTransition, match="already yours"):
        act(taken, Action.TAKEOVER, 32, actor="ben", reason="again")
    with pytest.raises(ValidationFailed):
        act(esc, Action.TAKEOVER, 30, actor="ben")  # a reason is required
