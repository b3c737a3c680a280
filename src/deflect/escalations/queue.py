"""The order a support agent works the queue in: what needs attention first. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from deflect.domain.escalation import Escalation, Priority
from deflect.escalations.sla import next_deadline


class Order(StrEnum):
    NEWEST = "newest"  # created_at descending: the store's own order
    PRIORITY = "priority"  # most urgent first: priority, then the next SLA deadline


# Declaration order is severity order (critical first).
_RANK = {priority: rank for rank, priority in enumerate(Priority)}


def most_urgent_first(escalations: Iterable[Escalation], now: datetime) -> list[Escalation]:
    """Highest priority first; within a priority the earliest next deadline (acknowledge, else resolve), then the
    oldest, then the id, so the order is total and the same on every call."""
    return sorted(escalations, key=lambda e: (_RANK[e.priority], next_deadline(e.sla, now), e.created_at, e.id))
