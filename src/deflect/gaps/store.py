"""Gap inputs read from the escalation store, and GapFinder: the use case the API and CLI call."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from deflect.domain.escalation import Escalation, State
from deflect.domain.ports import Embedder, EscalationStore, Index
from deflect.gaps.find import find_gaps
from deflect.gaps.models import GapParams, GapQuestion, GapReport, Resolution

# Unhelpful-feedback questions in [since, until]; supplied by the feedback store once it exists.
FeedbackSource = Callable[[datetime, datetime], Sequence[GapQuestion]]


def escalated_questions(store: EscalationStore, since: datetime, until: datetime) -> list[GapQuestion]:
    """Escalations created in [since, until] as gap questions."""
    return [
        GapQuestion(text=e.question, at=e.created_at, origin="escalated", escalation_id=e.id, answer_id=e.answer_id)
        for e in store.list(since=since, limit=None)
        if e.created_at <= until
    ]


def resolved_at(esc: Escalation) -> datetime | None:
    """When the escalation was resolved (the SLA clock, else the state timestamp)."""
    return esc.sla.resolved_at or esc.timestamps.get(State.RESOLVED)


def resolutions(store: EscalationStore) -> list[Resolution]:
    """Every resolved escalation that carries a resolution text, whenever it was resolved."""
    out = []
    for esc in store.list(state=State.RESOLVED, limit=None):
        when = resolved_at(esc)
        if when is not None and esc.resolution and esc.resolution.strip():
            out.append(Resolution(id=esc.id, question=esc.question, resolution=esc.resolution, resolved_at=when))
    return out


class GapFinder:
    """Content gaps over a window of the store's escalations plus, when given, unhelpful-feedback questions."""

    def __init__(
        self,
        store: EscalationStore,
        embedder: Embedder,
        index: Index,
        clock: Callable[[], datetime],
        feedback: FeedbackSource | None = None,
        params: GapParams | None = None,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._index = index
        self._clock = clock
        self._feedback = feedback
        self.params = params or GapParams()

    def gaps(self, days: float = 30, min_size: int = 2) -> GapReport:
        """The gap report for the last `days` days."""
        now = self._clock()
        window = timedelta(days=days)
        questions = escalated_questions(self._store, now - window, now)
        if self._feedback is not None:
            questions.extend(self._feedback(now - window, now))
        return find_gaps(
            questions, self._embedder, self._index, resolutions(self._store), now, window, min_size, self.params
        )
