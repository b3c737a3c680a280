"""The escalation state machine. Pure: `apply` returns a new Escalation and never touches storage or the clock.

    created ──> escalated ──claim──> claimed ──start──> started ──wait──> waiting_on_customer
                    │                   │                │  ^                     │
                    │                   │                │  └──────resume─────────┘
                    │                   │                └──resolve──> resolved <──resolve── (waiting_on_customer)
                    └──────bounce───────┴─────bounce─────┴──> bounced_back ──claim──> claimed ...

    escalated, claimed, bounced_back ──self_serve──> self_served   (the customer: a page solved it)
    claimed, started, waiting_on_customer ──takeover──> the same state, the actor as assignee

- `build_escalation` files a packet directly in `escalated` (stamping `created` and `escalated`); no action
  applies to `created`.
- `bounced_back` is back in the queue: the only ways on are `claim` (by anyone, to `claimed`) and `update`.
  Bouncing clears the assignee and keeps the SLA clock running (the customer is still waiting).
- `resolve` is allowed from `started` and from `waiting_on_customer` (the customer's reply may settle it); a pause
  in progress ends at resolution. `resolved` is final: every action on it is refused.
- `self_serve` is the customer withdrawing their own escalation because a page solved it (`page`: a source id
  the hand-off suggested, or "other"). Allowed while nobody has started working it: in the queue (`escalated`,
  `bounced_back`) or claimed but not started (a claim is an acknowledgement; `start` is where an agent's work
  begins, and after it the agent may already have written to the customer, so the agent closes it with them).
  The SLA clock stops without being acknowledged (no human acknowledged it), the assignee is kept for the
  record. `self_served` is final, like `resolved`; it carries no resolution, so no knowledge comes of it.
- `update` adds a note (kept in the audit log by the caller) and changes nothing on the escalation.
- The actor is recorded as assignee on `claim`, and a claim makes the escalation theirs: `start`, `wait`, `resume`
  and `resolve` are the assignee's alone (HOLDER_ACTIONS); anyone else gets InvalidTransition (409) naming the
  assignee, so nobody works, and is credited for, an escalation under someone else's name silently. Anyone else
  may add a note, bounce it (where bounce is allowed), or `takeover` with a reason: the actor becomes the assignee,
  the state and the SLA clock stay as they are (the caller audits who held it before).
  Whether a caller may act at all (staff, not customers) is the caller's (service's) rule, not this module's.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from deflect.domain.escalation import OTHER_PAGE, Escalation, State
from deflect.errors import InvalidTransition, ValidationFailed
from deflect.escalations import sla


class Action(StrEnum):
    CLAIM = "claim"
    START = "start"
    UPDATE = "update"
    WAIT = "wait"
    RESUME = "resume"
    BOUNCE = "bounce"
    RESOLVE = "resolve"
    SELF_SERVE = "self_serve"
    TAKEOVER = "takeover"


# The customer's action; every other one is the agents'.
CUSTOMER_ACTIONS = frozenset({Action.SELF_SERVE})


_OPEN_FOR_NOTES = frozenset(
    {State.ESCALATED, State.CLAIMED, State.STARTED, State.WAITING_ON_CUSTOMER, State.BOUNCED_BACK}
)

# action -> (states it may be applied in, state it leads to; None keeps the state)
TRANSITIONS: dict[Action, tuple[frozenset[State], State | None]] = {
    Action.CLAIM: (frozenset({State.ESCALATED, State.BOUNCED_BACK}), State.CLAIMED),
    Action.START: (frozenset({State.CLAIMED}), State.STARTED),
    Action.UPDATE: (_OPEN_FOR_NOTES, None),
    Action.WAIT: (frozenset({State.STARTED}), State.WAITING_ON_CUSTOMER),
    Action.RESUME: (frozenset({State.WAITING_ON_CUSTOMER}), State.STARTED),
    Action.BOUNCE: (frozenset({State.ESCALATED, State.CLAIMED, State.STARTED}), State.BOUNCED_BACK),
    Action.RESOLVE: (frozenset({State.STARTED, State.WAITING_ON_CUSTOMER}), State.RESOLVED),
    Action.SELF_SERVE: (frozenset({State.ESCALATED, State.CLAIMED, State.BOUNCED_BACK}), State.SELF_SERVED),
    Action.TAKEOVER: (frozenset({State.CLAIMED, State.STARTED, State.WAITING_ON_CUSTOMER}), None),
}

# What only the assignee may do once an escalation is claimed: the work itself, so it is credited to whoever did it.
HOLDER_ACTIONS = frozenset({Action.START, Action.WAIT, Action.RESUME, Action.RESOLVE})

# The text an action must carry; every action may also carry an optional `note`.
REQUIRED_TEXT: dict[Action, str] = {
    Action.UPDATE: "note",
    Action.BOUNCE: "reason",
    Action.RESOLVE: "resolution",
    Action.SELF_SERVE: "page",
    Action.TAKEOVER: "reason",
}


def allowed_actions(state: State) -> list[Action]:
    """The actions `apply` accepts in this state, in declaration order."""
    return [action for action, (sources, _) in TRANSITIONS.items() if state in sources]


def _held_by_other(escalation: Escalation, actor: str) -> str | None:
    """The assignee, when the escalation is claimed by someone other than `actor`; None otherwise."""
    holder = escalation.assignee
    return holder if holder and holder != actor.strip() else None


def _allowed_for(escalation: Escalation, holder: str | None, customer: bool) -> list[str]:
    """The actions to suggest to whoever was refused: staff are not offered the customer's action, nor the customer
    staff's; someone else's escalation offers no work on it, one's own no takeover."""
    return [
        a.value
        for a in allowed_actions(escalation.state)
        if (a in CUSTOMER_ACTIONS) is customer and a not in (HOLDER_ACTIONS if holder else {Action.TAKEOVER})
    ]


def _self_served_page(escalation: Escalation, page: str) -> str:
    """The page a self-serve names: one the customer was shown with the hand-off, or OTHER_PAGE."""
    shown = [s.source_id for s in escalation.sources if s.shown]
    if page != OTHER_PAGE and page not in shown:
        raise ValidationFailed(
            f"page must be one of the pages suggested with this escalation or {OTHER_PAGE!r}",
            [{"field": "page", "problem": "not_suggested", "allowed": [*shown, OTHER_PAGE]}],
        )
    return page


def _parse_action(action: Action | str) -> Action:
    try:
        return Action(action)
    except ValueError:
        known = ", ".join(a.value for a in Action)
        raise ValidationFailed(
            f"unknown escalation action {action!r}; known actions: {known}", [{"field": "action", "problem": "unknown"}]
        ) from None


def _required_text(action: Action, payload: dict[str, Any]) -> str | None:
    field = REQUIRED_TEXT.get(action)
    unexpected = sorted(set(payload) - {"note", *([field] if field else [])})
    if unexpected:
        raise ValidationFailed(
            f"{action.value} does not take {', '.join(unexpected)}",
            [{"field": name, "problem": "unexpected"} for name in unexpected],
        )
    for name, value in payload.items():
        if value is not None and not isinstance(value, str):
            raise ValidationFailed(f"{name} must be text", [{"field": name, "problem": "not_text"}])
    if field is None:
        return None
    text = (payload.get(field) or "").strip()
    if not text:
        raise ValidationFailed(f"{action.value} requires a non-empty {field}", [{"field": field, "problem": "empty"}])
    return text


def apply(escalation: Escalation, action: Action | str, actor: str, now: datetime, **payload: Any) -> Escalation:
    """A new Escalation with `action` applied by `actor` at `now`; InvalidTransition if the state forbids it."""
    act = _parse_action(action)
    sources, target = TRANSITIONS[act]
    state = escalation.state
    holder = _held_by_other(escalation, actor or "")
    held = f", held by {holder}" if holder else ""
    if state not in sources:
        allowed = _allowed_for(escalation, holder, customer=act in CUSTOMER_ACTIONS)
        if allowed:
            hint = f"allowed: {', '.join(allowed)}"
        else:
            hint = f"{state.value} is final" if not allowed_actions(state) else "no action of this kind is allowed"
        raise InvalidTransition(
            f"cannot {act.value} escalation {escalation.id}: it is {state.value}{held} ({hint})",
            [{"state": state.value, "action": act.value, "allowed": allowed, "assignee": escalation.assignee}],
        )
    if holder and act in HOLDER_ACTIONS:
        allowed = _allowed_for(escalation, holder, customer=False)
        raise InvalidTransition(
            f"cannot {act.value} escalation {escalation.id}: it is {state.value}{held}, and only they may work it; "
            f"take it over first, with a reason (allowed: {', '.join(allowed)})",
            [{"state": state.value, "action": act.value, "allowed": allowed, "assignee": holder}],
        )
    if act is Action.TAKEOVER and escalation.assignee and not holder:
        raise InvalidTransition(
            f"cannot takeover escalation {escalation.id}: it is already yours",
            [{"state": state.value, "action": act.value, "allowed": [], "assignee": escalation.assignee}],
        )
    if not actor or not actor.strip():
        raise ValidationFailed("an action needs an actor", [{"field": "actor", "problem": "empty"}])
    text = _required_text(act, payload)
    now = sla.utc(now, "now")
    latest = max(escalation.timestamps.values(), default=escalation.created_at)
    if now < latest:
        raise ValidationFailed(
            f"{act.value} at {now.isoformat()} is before the escalation's last change ({latest.isoformat()})",
            [{"field": "now", "problem": "before_last_change"}],
        )

    update: dict[str, Any] = {}
    if act is Action.CLAIM:
        update = {"assignee": actor.strip(), "sla": sla.acknowledge(escalation.sla, now)}
    elif act is Action.WAIT:
        update = {"sla": sla.pause(escalation.sla, now)}
    elif act is Action.RESUME:
        update = {"sla": sla.resume(escalation.sla, now)}
    elif act is Action.BOUNCE:
        update = {"bounce_reason": text, "assignee": None}
    elif act is Action.TAKEOVER:
        update = {"assignee": actor.strip()}
    elif act is Action.RESOLVE:
        update = {"resolution": text, "sla": sla.resolve(escalation.sla, now)}
    elif act is Action.SELF_SERVE:
        update = {"self_served_page": _self_served_page(escalation, text or ""), "sla": sla.stop(escalation.sla, now)}
    if target is not None:
        update["state"] = target
        update["timestamps"] = {**escalation.timestamps, target: now}
    return escalation.model_copy(update=update, deep=True)
