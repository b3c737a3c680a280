"""A reader's verdict on one answer: stored beside the answer's audit record and used to adjust ranking."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Role = Literal["customer", "agent", "admin"]


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
