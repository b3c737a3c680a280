"""The escalation packet and its vocabulary: what a human receives when deflect does not answer."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from deflect.domain.models import Audience


class Priority(StrEnum):
    CRITICAL = "critical"  # system-wide outage, payment failure, VIP account
    HIGH = "high"  # many users affected or major disruption
    MEDIUM = "medium"  # moderate disruption
    LOW = "low"  # minor, a workaround exists


class Tier(StrEnum):
    TIER1 = "tier1"  # frontline
    TIER2 = "tier2"  # technical support
    TIER3 = "tier3"  # engineering
    MANAGEMENT = "management"  # SLA breach or major outage


class State(StrEnum):
    CREATED = "created"
    ESCALATED = "escalated"
    CLAIMED = "claimed"
    STARTED = "started"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    RESOLVED = "resolved"
    BOUNCED_BACK = "bounced_back"
    SELF_SERVED = "self_served"  # the customer withdrew it: a page solved it before anyone worked it


# No action leads out of these; the SLA clock has stopped and the escalation is out of every open queue.
FINAL_STATES = frozenset({State.RESOLVED, State.SELF_SERVED})
# What a customer who withdraws an escalation names when the page that solved it was none of the suggested ones.
OTHER_PAGE = "other"


class SearchedSource(BaseModel):
    """A source deflect searched, with its score and whether it was shown to the asker."""

    source_id: str
    title: str
    url: str = ""
    score: float
    shown: bool = False
    # The passages the asker was shown quoted from this page with the hand-off (empty: none), verbatim, so the agent
    # reads what the customer read. Packets from before it was added read as empty.
    excerpt: str = ""


class ChecklistItem(BaseModel):
    """One item of the pre-escalation checklist; `value` is None when deflect could not fill it."""

    key: Literal["error_message", "steps_to_reproduce", "environment", "already_tried", "impact", "previous_contact"]
    label: str
    value: str | None = None

    @property
    def missing(self) -> bool:
        return self.value is None


class SlaClock(BaseModel):
    """Deadlines for one escalation; time spent waiting on the customer does not count."""

    acknowledge_within_s: int
    resolve_within_s: int
    started_at: datetime
    paused_at: datetime | None = None
    paused_total_s: float = 0.0
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None


class Escalation(BaseModel):
    """The packet persisted for every escalation."""

    id: str
    answer_id: str  # the AskResult id whose decision created it
    question: str
    conversation: list[str] = Field(default_factory=list, description="Earlier messages, oldest first.")
    conversation_id: str | None = None
    audience: Audience
    customer_id: str | None = None
    # Whom to reply to; also what the PII scrubber removes from stored questions and resolutions.
    customer_name: str | None = None
    customer_tier: str | None = None  # e.g. standard, business, enterprise, vip
    # What a customer-key caller said about itself (id, name, tier): kept for the agent, never used for priority,
    # SLA or repeat contact, which only trust an agent/admin acting on the customer's behalf or a signed identity.
    claimed_customer: dict[str, str] = Field(default_factory=dict)
    sources: list[SearchedSource] = Field(default_factory=list)
    draft_answer: str | None = None
    reasons: list[str]
    priority: Priority
    tier: Tier
    sla: SlaClock
    checklist: list[ChecklistItem] = Field(default_factory=list)
    state: State = State.ESCALATED
    timestamps: dict[State, datetime] = Field(default_factory=dict, description="When each state was entered last.")
    bounce_reason: str | None = None
    resolution: str | None = None
    assignee: str | None = None
    # Who raised it, as the only caller who may withdraw it (`self_serve`): `customer:<key>` for a customer key,
    # a widget visitor's requester otherwise (deflect.domain.actors: the signed visitor, or the anonymous session).
    # None when staff asked (they close escalations through the workflow, not this way). Opaque, no secret in it.
    requester: str | None = None
    # Where to send the reply, when the asker had no other channel (an anonymous widget visitor who left an address
    # after the hand-off): the contact, like customer_name, kept for the agent; the audit records only that one came.
    contact_email: str | None = None
    # The suggested page (a source id) or OTHER_PAGE that solved it, set with state self_served.
    self_served_page: str | None = None
    policy_version: str
    created_at: datetime


class AuditEvent(BaseModel):
    """One append-only audit record: a decision deflect made or an action a human took."""

    id: int | None = None  # assigned by the store
    at: datetime
    kind: Literal["decision", "escalation_created", "action"]
    actor: str  # "deflect" or the human's id
    answer_id: str | None = None
    escalation_id: str | None = None
    action: str | None = None  # claim, start, update, wait, resume, bounce, resolve, self_serve
    data: dict[str, Any] = Field(default_factory=dict)


class PendingKnowledge(BaseModel):
    """A resolution's knowledge records, committed with the resolution, until they are written and indexed.

    `indexed_at` None means pending: the knowledge job retries it (at start-up and periodically) until it is set."""

    escalation_id: str
    records: list[dict[str, Any]]  # kb/escalations entries, already scrubbed
    created_at: datetime
    indexed_at: datetime | None = None
    attempts: int = 0
    last_error: str | None = None

    @property
    def state(self) -> Literal["pending", "searchable"]:
        return "pending" if self.indexed_at is None else "searchable"
