"""Gap inputs read from the escalation store, and GapFinder: the use case the API and CLI call."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from deflect.domain.cosine import CosineScale
from deflect.domain.escalation import OTHER_PAGE, Escalation, State
from deflect.domain.ports import Embedder, EscalationStore, Index
from deflect.gaps.find import find_gaps
from deflect.gaps.models import GapParams, GapQuestion, GapReport, Resolution

# Unhelpful-feedback questions in [since, until]; supplied by the feedback store once it exists.
FeedbackSource = Callable[[datetime, datetime], Sequence[GapQuestion]]


def escalated_questions(store: EscalationStore, since: datetime, until: datetime) -> list[GapQuestion]:
    """Escalations created in [since, until] as gap questions, but for those a suggested page solved: the customer
    said (self_serve) that the knowledge base already answers them, so they are no missing content. One the
    customer withdrew naming "other" stays in: something outside the pages deflect found solved it."""
    return [
        GapQuestion(text=e.question, at=e.created_at, origin="escalated", escalation_id=e.id, answer_id=e.answer_id)
        for e in store.list(since=since, limit=None)
        if e.created_at <= until and not answered_by_a_page(e)
    ]


def answered_by_a_page(esc: Escalation) -> bool:
    """The customer withdrew it naming one of the pages deflect suggested."""
    return esc.state is State.SELF_SERVED and esc.self_served_page not in (None, OTHER_PAGE)


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
        max_age_s: float = 0.0,
        scale: Callable[[], CosineScale] = CosineScale,
    ) -> None:
        self._store = store
        # Reports by (days, min_size) with the monotonic time they were computed: clustering a thousand questions
        # (and embedding them, after a restart) takes seconds to minutes, so the service's `gaps` job refreshes
        # the default report in the background and callers get one at most `max_age_s` old.
        self._max_age_s = max_age_s
        self._cache: dict[tuple[float, int], tuple[float, GapReport]] = {}
        self._lock = threading.Lock()
        self._embedder = embedder
        self._index = index
        self._clock = clock
        self._feedback = feedback
        self.params = params or GapParams()
        # The embedder's cosine scale (the calibration's): the params' cosines are MiniLM's (deflect.domain.cosine).
        self._scale = scale

    def gaps(self, days: float = 30, min_size: int = 2) -> GapReport:
        """The gap report for the last `days` days: a cached one if at most `max_age_s` old (its `until` says
        when it was computed), else computed now."""
        with self._lock:
            cached = self._cache.get((days, min_size))
        if cached is not None and time.monotonic() - cached[0] <= self._max_age_s:
            return cached[1]
        return self.refresh(days, min_size)

    def refresh(self, days: float = 30, min_size: int = 2) -> GapReport:
        """Compute the report now and keep it for later callers."""
        report = self._compute(days, min_size)
        with self._lock:
            self._cache[(days, min_size)] = (time.monotonic(), report)
            if len(self._cache) > 32:  # a few parameter sets are ever asked for; keep the newest
                oldest = min(self._cache, key=lambda k: self._cache[k][0])
                del self._cache[oldest]
        return report

    def _compute(self, days: float, min_size: int) -> GapReport:
        now = self._clock()
        window = timedelta(days=days)
        questions = escalated_questions(self._store, now - window, now)
        if self._feedback is not None:
            questions.extend(self._feedback(now - window, now))
        scale = self._scale()
        params = self.params.model_copy(
            update={
                "cluster_threshold": scale.from_reference(self.params.cluster_threshold),
                "contradiction_threshold": scale.from_reference(self.params.contradiction_threshold),
            }
        )
        known = resolutions(self._store)
        return find_gaps(questions, self._embedder, self._index, known, now, window, min_size, params)
