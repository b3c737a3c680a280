"""A reader's verdict on one answer: stored beside the answer's audit record and used to adjust ranking."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Role = Literal["customer", "agent", "admin"]
# How a vote came: clicked by a reader, or cast by a customer withdrawing their escalation because a page solved it.
Via = Literal["vote", "self_serve"]
# Namespace of the ids of votes that self-served escalations cast: one id per escalation, so one vote.
SELF_SERVED_VOTES = uuid.UUID("5f1d3c2e-6a0b-4c7e-9d8f-2b1a0e4c6d57")


def vote_id() -> str:
    """A new id for a vote a reader cast: random (UUID version 4)."""
    return "fb_" + uuid.uuid4().hex


def self_served_vote_id(escalation_id: str) -> str:
    """The id of the vote an escalation's self-serve casts: derived from the escalation's (UUID version 5), so
    storing it twice is a Conflict, and a repeat can tell whether it was stored."""
    return "fb_" + uuid.uuid5(SELF_SERVED_VOTES, escalation_id).hex


def via_of(record_id: str) -> Via:
    """How the vote with this id came: only self-serve votes have name-based (version 5) ids, so votes stored
    before this was asked for tell it too, with no column to fill."""
    hex_part = record_id.removeprefix("fb_")
    try:
        version = uuid.UUID(hex=hex_part).version if len(hex_part) == 32 else None
    except ValueError:
        version = None
    return "self_serve" if record_id.startswith("fb_") and version == 5 else "vote"


class FeedbackRecord(BaseModel):
    """One vote on one answer. `question` and `source_ids` are copied from the answer's audit decision event."""

    id: str  # fb_<hex>
    answer_id: str
    at: datetime
    helpful: bool
    comment: str | None = None
    correct_source: str | None = None  # the source that would have answered it, when the reader names one
    actor: str
    role: Role
    question: str
    source_ids: list[str] = Field(default_factory=list, description="The sources the reader was shown (cited).")
    decision: Literal["answer", "escalate"]

    @property
    def via(self) -> Via:
        """How it came: "self_serve" for the vote a self-served escalation cast for its page, else "vote"."""
        return via_of(self.id)
