"""EscalationDesk: the escalation use cases. Creates packets (committed before anyone is told), runs the human
workflow with optimistic concurrency, and writes every decision and action to the append-only audit log.

What agents write (resolutions, notes, bounce reasons) is scrubbed of personal data before it is stored, in the
packet as in the audit log. The audit log can never be edited, so nothing raw may reach it; and the packet keeps
the scrubbed text too, not the raw one: every staff key reads it (API, panel, CLI), the knowledge records are built
from the same text, and nothing in deflect can erase it later. The customer's contact details belong with the
helpdesk ticket, not with deflect; the packet still names the customer (`customer_name`), as asked.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from deflect.domain.actors import WidgetActor
from deflect.domain.escalation import FINAL_STATES, AuditEvent, Escalation, PendingKnowledge, Priority, State, Tier
from deflect.domain.models import Audience, SourceHit
from deflect.domain.ports import Embedder, EscalationStore, StoredEscalation
from deflect.errors import Conflict, Forbidden, InvalidTransition, NotFound
from deflect.escalations import (
    Action,
    apply,
    breach_tier,
    build_escalation,
    customer_message,
    engineering_briefing,
    self_served_message,
    status,
)
from deflect.escalations.config import EscalationConfig
from deflect.escalations.queue import Order, most_urgent_first
from deflect.knowledge import Scrubber
from deflect.pii import scrub_text

Clock = Callable[[], datetime]
log = logging.getLogger(__name__)
# The reference a dry run's hand-off text shows: it names no escalation, because none was stored.
DRY_RUN_REFERENCE = "(dry run: none recorded)"


def utc_now() -> datetime:
    return datetime.now(UTC)


def asker_names(
    customer_id: str | None, customer_name: str | None, claimed: Mapping[str, str] | None
) -> builtins.list[str]:
    """The asker's names and ids, trusted and claimed: removed from every text stored about them."""
    claimed = claimed or {}
    return [n for n in (customer_id, customer_name, claimed.get("id"), claimed.get("name")) if n]


def customer_names(escalation: Escalation) -> builtins.list[str]:
    """The customer's names and ids the packet holds (asker_names of its customer)."""
    return asker_names(escalation.customer_id, escalation.customer_name, escalation.claimed_customer)


def action_event(
    old: Escalation, new: Escalation, action: str, actor: str, at: datetime, data: dict[str, Any]
) -> AuditEvent:
    """The audit record of a workflow action: who, when, from which state to which, and what they said; and whose
    it was, when the action took it from its assignee (a takeover, a bounce)."""
    if old.assignee and old.assignee != new.assignee:
        data = {**data, "previous_assignee": old.assignee}
    return AuditEvent(
        at=at,
        kind="action",
        actor=actor,
        answer_id=new.answer_id,
        escalation_id=new.id,
        action=action,
        data={"from": old.state.value, "to": new.state.value, **data},
    )


class EscalationDesk:
    """Everything that happens to an escalation, persisted through one EscalationStore."""

    def __init__(
        self, store: EscalationStore, config: EscalationConfig, clock: Clock = utc_now, scrub: Scrubber = scrub_text
    ) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.scrub = scrub
        # Told of each escalation a customer withdrew (once, not on a repeat): metrics count them.
        self.self_served_observers: builtins.list[Callable[[Escalation], None]] = []
        # Told of each repeat withdrawal by its requester: what the first one's observers lost (the page's vote) is
        # retried there, so it must be idempotent.
        self.self_serve_repeated_observers: builtins.list[Callable[[Escalation], None]] = []

    def record_answer(self, answer_id: str, actor: str, data: dict[str, Any]) -> None:
        """Audit an answered question (no escalation)."""
        self.store.append_audit(
            [AuditEvent(at=self.clock(), kind="decision", actor=actor, answer_id=answer_id, data=data)]
        )

    def escalate(
        self,
        *,
        answer_id: str,
        question: str,
        audience: Audience,
        reasons: Sequence[str],
        hits: Sequence[SourceHit],
        policy_version: str,
        decision_data: dict[str, Any],
        draft_answer: str | None = None,
        conversation: Sequence[str] = (),
        conversation_id: str | None = None,
        customer_id: str | None = None,
        customer_name: str | None = None,
        customer_tier: str | None = None,
        claimed_customer: Mapping[str, str] | None = None,
        record: bool = True,
        suggested_ids: Sequence[str] = (),
        excerpts: Mapping[str, str] | None = None,
        requester: str | None = None,
    ) -> tuple[Escalation, str]:
        """Build and store the packet with its audit events in one transaction; return it and the hand-off text.
        `record=False` (a dry run) builds the packet, so priority and hand-off are the real ones, and stores nothing;
        its id is DRY_RUN_REFERENCE, which no stored escalation has. `suggested_ids`: the sources the asker is
        pointed at with the hand-off, marked shown in the packet and introduced by the hand-off text; `excerpts`:
        what was quoted to the asker from them (by source id), kept in the packet and announced by the hand-off text.
        `requester`: the customer caller who may later withdraw it (`self_serve`)."""
        now = self.clock()
        esc = build_escalation(
            answer_id=answer_id,
            question=question,
            audience=audience,
            reasons=reasons,
            hits=hits,
            policy_version=policy_version,
            config=self.config,
            now=now,
            draft_answer=draft_answer,
            conversation=conversation,
            conversation_id=conversation_id,
            customer_id=customer_id,
            customer_name=customer_name,
            customer_tier=customer_tier,
            claimed_customer=claimed_customer,
            escalation_id=None if record else DRY_RUN_REFERENCE,
            shown_ids=suggested_ids,
            excerpts=excerpts,
            requester=requester,
        )
        handoff = customer_message(
            esc, self.config, now, pages=bool(suggested_ids), excerpt=bool(excerpts), anonymous=unreachable(requester)
        )
        if not record:
            return esc, handoff
        events = [
            AuditEvent(
                at=now, kind="decision", actor="deflect", answer_id=answer_id, escalation_id=esc.id, data=decision_data
            ),
            AuditEvent(
                at=now,
                kind="escalation_created",
                actor="deflect",
                answer_id=answer_id,
                escalation_id=esc.id,
                data={"priority": esc.priority.value, "tier": esc.tier.value, "reasons": list(esc.reasons)},
            ),
        ]
        self.store.create(esc, events)
        return esc, handoff

    def act(
        self,
        escalation_id: str,
        action: str,
        actor: str,
        *,
        knowledge_for: Callable[[Escalation], PendingKnowledge] | None = None,
        **payload: Any,
    ) -> Escalation:
        """Apply a workflow action (claim, start, update, wait, resume, bounce, takeover, resolve) and audit it; with
        `knowledge_for`, the knowledge record it builds from the new escalation is written in the same transaction.

        Two humans acting at once: the second one's write names a stale version and gets a Conflict (409).
        `self_serve` is not staff's to take: only the customer who raised it may (`self_serve`)."""
        if action == Action.SELF_SERVE.value:
            raise Forbidden("only the customer who raised an escalation may withdraw it as self-served")
        stored = self.store.get(escalation_id)
        now = self.clock()
        text = self.agent_text(stored.escalation, payload)
        new = apply(stored.escalation, action, actor, now, **text)
        event = action_event(stored.escalation, new, action, actor, now, {k: str(v) for k, v in text.items()})
        knowledge = knowledge_for(new) if knowledge_for is not None else None
        self.store.update(new, stored.version, [event], knowledge=knowledge)
        return new

    def stored_text(self, escalation: Escalation, text: str) -> str:
        """An agent's text about this escalation as it is stored: scrubbed, the customer's names included."""
        return self.scrub(text, customer_names(escalation))

    def agent_text(self, escalation: Escalation, payload: Mapping[str, Any]) -> dict[str, Any]:
        """An action's payload as it is stored. Every text field is scrubbed, not a list of known ones, so a field
        added later cannot be stored raw."""
        return {k: self.stored_text(escalation, v) if isinstance(v, str) else v for k, v in payload.items()}

    def self_serve(self, escalation_id: str, requester: str, page: str) -> tuple[Escalation, str]:
        """The customer who raised the escalation withdraws it: `page` (a suggested source id, or "other") solved
        it. Audited with `requester` as actor; idempotent (a repeat returns the escalation as it stands). Returns
        the escalation and the text the customer reads next (messages.self_served).

        Someone else's escalation, or one raised by staff, is NotFound exactly like an unknown id, so nobody can
        learn which ids exist. One an agent has started is refused (409) with a message fit for the customer."""
        try:
            esc = self._self_serve(escalation_id, requester, page)
        except Conflict:
            # An agent acted meanwhile (a claim, say): decide again on what is stored now.
            esc = self._self_serve(escalation_id, requester, page)
        return esc, self_served_message(esc, self.config)

    def leave_contact(self, escalation_id: str, requester: str, email: str) -> Escalation:
        """The anonymous visitor who raised the escalation leaves the address to reply to (Escalation.contact_email;
        a second one replaces the first). Audited with `requester` as actor and without the address: the packet
        holds the contact, the append-only audit never does. Someone else's escalation is NotFound, as in
        `self_serve`; a closed one is refused (409): nobody will reply to it any more."""
        try:
            return self._leave_contact(escalation_id, requester, email)
        except Conflict:
            # An agent acted meanwhile (a claim, say): store the address on what is stored now.
            return self._leave_contact(escalation_id, requester, email)

    def _leave_contact(self, escalation_id: str, requester: str, email: str) -> Escalation:
        stored = self._own(escalation_id, requester)
        esc = stored.escalation
        if esc.state in FINAL_STATES:
            raise InvalidTransition(
                "This request is already closed, so nobody will reply to it. Please ask again if you still need help.",
                [{"escalation_id": esc.id, "state": esc.state.value}],
            )
        new = esc.model_copy(update={"contact_email": email})
        event = AuditEvent(
            at=self.clock(),
            kind="action",
            actor=requester,
            escalation_id=esc.id,
            action="contact",
            data={"contact": "email"},
        )
        self.store.update(new, stored.version, [event])
        return new

    def _own(self, escalation_id: str, requester: str) -> StoredEscalation:
        """The stored escalation `requester` raised; NotFound for anyone else's, exactly like an unknown id."""
        stored = self.store.get(escalation_id)
        if not requester or stored.escalation.requester != requester:
            raise NotFound(f"no escalation {escalation_id}", [{"escalation_id": escalation_id}])
        return stored

    def _self_serve(self, escalation_id: str, requester: str, page: str) -> Escalation:
        stored = self._own(escalation_id, requester)
        esc = stored.escalation
        if esc.state is State.SELF_SERVED:
            _tell(self.self_serve_repeated_observers, esc)
            return esc
        now = self.clock()
        try:
            new = apply(esc, Action.SELF_SERVE, requester, now, page=page)
        except InvalidTransition:
            # The staff hint (allowed actions) is not the customer's business; where the request stands is.
            raise InvalidTransition(
                "This request is already with a person, who will follow it up with you.",
                [{"escalation_id": esc.id, "state": esc.state.value}],
            ) from None
        event = action_event(esc, new, Action.SELF_SERVE.value, requester, now, {"page": new.self_served_page})
        self.store.update(new, stored.version, [event])
        _tell(self.self_served_observers, new)
        return new

    def sweep(self) -> dict[str, builtins.list[str]]:
        """Check every open SLA clock: hand breached escalations to the breach tier (audited), list the warnings.

        Run it periodically (`deflect escalations sweep` from cron, or POST /v1/escalations/sweep)."""
        now = self.clock()
        report: dict[str, builtins.list[str]] = {"raised": [], "breached": [], "warning": []}
        for esc in self.store.list(state=self.open_states(), limit=None):
            sla = status(esc.sla, now, self.config)
            if sla.acknowledge_breached or sla.resolve_breached:
                report["breached"].append(esc.id)
            elif sla.acknowledge_warning or sla.resolve_warning:
                report["warning"].append(esc.id)
            tier = breach_tier(esc, now, self.config)
            if tier is esc.tier:
                continue
            stored = self.store.get(esc.id)
            event = AuditEvent(
                at=now,
                kind="action",
                actor="deflect",
                answer_id=esc.answer_id,
                escalation_id=esc.id,
                action="sla_breach",
                data={"from_tier": esc.tier.value, "to_tier": tier.value},
            )
            try:
                self.store.update(stored.escalation.model_copy(update={"tier": tier}), stored.version, [event])
                report["raised"].append(esc.id)
            except Conflict:
                continue  # a human changed it meanwhile; the next sweep looks again
        return report

    def get(self, escalation_id: str) -> Escalation:
        return self.store.get(escalation_id).escalation

    def view(self, escalation_id: str) -> dict[str, Any]:
        """The packet with its SLA status and the engineering briefing."""
        esc = self.get(escalation_id)
        now = self.clock()
        sla = status(esc.sla, now, self.config)
        return {
            "escalation": esc.model_dump(mode="json"),
            "sla": sla.model_dump(mode="json"),
            "briefing": engineering_briefing(esc, self.config, now),
            "knowledge": self.knowledge_state(escalation_id),
        }

    def knowledge_state(self, escalation_id: str) -> dict[str, Any] | None:
        """Whether a resolution's knowledge is pending or searchable (None: no resolution through deflect)."""
        pending = self.store.knowledge(escalation_id)
        if pending is None:
            return None
        return {
            "state": pending.state,
            "sources": [f"esc:{r['id']}" for r in pending.records],
            "attempts": pending.attempts,
            "last_error": pending.last_error,
            "indexed_at": pending.indexed_at.isoformat() if pending.indexed_at else None,
        }

    def list(
        self,
        state: State | builtins.list[State] | None = None,
        priority: Priority | None = None,
        tier: Tier | None = None,
        customer_id: str | None = None,
        limit: int = 100,
    ) -> builtins.list[Escalation]:
        return self.store.list(state=state, priority=priority, tier=tier, customer_id=customer_id, limit=limit)

    def page(
        self,
        state: State | builtins.list[State] | None = None,
        priority: Priority | None = None,
        tier: Tier | None = None,
        customer_id: str | None = None,
        order: Order = Order.NEWEST,
        offset: int = 0,
        limit: int = 100,
    ) -> tuple[builtins.list[Escalation], int]:
        """One page of the matching escalations in `order`, and how many match in all."""
        filters: dict[str, Any] = {"state": state, "priority": priority, "tier": tier, "customer_id": customer_id}
        if order is Order.NEWEST:
            return self.store.list(**filters, offset=offset, limit=limit), self.store.count(**filters)
        # The SLA deadlines live in the packet, not in columns: sorted here, over every match. The queue this is for
        # (open escalations) is bounded by the people working it, and the sweep reads all of it the same way.
        matching = most_urgent_first(self.store.list(**filters, limit=None), self.clock())
        return matching[offset : offset + limit], len(matching)

    def open_states(self) -> builtins.list[State]:
        return [s for s in State if s not in FINAL_STATES]

    def recent_similar(
        self, customer_id: str, question: str, embedder: Embedder, window_days: float, min_similarity: float
    ) -> int:
        """Earlier escalations of this customer within the window whose question is similar to this one."""
        since = self.clock() - timedelta(days=window_days)
        earlier = [e.question for e in self.store.list(customer_id=customer_id, since=since, limit=50)]
        if not earlier:
            return 0
        vectors = embedder.embed_questions([question, *earlier])
        q = vectors[0]
        return sum(1 for v in vectors[1:] if sum(a * b for a, b in zip(q, v, strict=True)) >= min_similarity)

    def audit(self, escalation_id: str | None = None, answer_id: str | None = None) -> builtins.list[AuditEvent]:
        return self.store.audit(escalation_id=escalation_id, answer_id=answer_id)

    def export_audit(self, out: Path | TextIO) -> int:
        return self.store.export_audit(out)


def _tell(observers: Sequence[Callable[[Escalation], None]], escalation: Escalation) -> None:
    """Tell each observer of a self-served escalation. The withdrawal is stored: an observer that fails (metrics,
    the page's vote) must neither turn the customer's success into an error nor keep the ones after it from hearing."""
    for observe in observers:
        try:
            observe(escalation)
        except Exception:
            log.exception("self-served escalation %s: an observer failed", escalation.id)


def unreachable(requester: str | None) -> bool:
    """Whether no reply can reach the asker where they asked: an anonymous widget visitor, whose chat is gone when
    they close it (a signed visitor sees their requests on any device; API callers own their channel)."""
    actor = WidgetActor.parse(requester) if requester else None
    return actor is not None and actor.kind == "session"
