"""How feedback changes ranking: a pure, bounded score adjustment per source, for questions like the voted ones.

A vote says something about a source for one question. For a new question, only votes on *similar* questions
(cosine of the question embeddings >= `min_similarity`) count. Among those, each actor has at most one say per
source (their newest vote), a source is touched only once `min_actors` distinct actors have voted on it, and the
shift is `cap * (up - down) / (up + down + prior)`, so it never exceeds `cap` however many votes there are. Votes
lose half their weight every `half_life_days`. An unhelpful vote counts against the sources the reader was shown;
a named `correct_source` counts for it; a helpful vote counts for the sources shown. A customer who withdraws an
escalation because a suggested page solved it has cast such a vote for that page (FeedbackDesk.record_self_served).

Why these numbers: see `deflect.evaluation.feedback_eval` (honest votes lift held-out R@1; a single actor's flood
changes nothing; a sybil crowd moves a score by at most `cap`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from deflect.domain.feedback import FeedbackRecord
from deflect.domain.models import SourceHit, by_score

DOWN, UP = -1, 1


@dataclass(frozen=True)
class AdjustConfig:
    """The knobs of the adjustment; the defaults are the ones the feedback eval chose."""

    min_similarity: float = 0.6  # cosine between the new question and a voted one for the vote to count
    min_actors: int = 5  # distinct actors who must have voted on a source (near this question) before any effect
    cap: float = 0.05  # largest shift of a source's fused score, up or down
    prior: float = 5.0  # pseudo-votes of "no opinion": a few votes move a source less than many
    half_life_days: float = 90.0  # a vote's weight halves every this many days
    max_age_days: float = 365.0  # older votes are not loaded at all


@dataclass(frozen=True)
class Vote:
    """One actor's verdict on one source, for the question of feedback row `row`."""

    row: int
    source_id: str
    sign: int
    actor: str
    at: datetime
    weight: float


def votes_of(record: FeedbackRecord) -> list[tuple[str, int]]:
    """(source, +1/-1) pairs a feedback record casts."""
    cast: dict[str, int] = {s: UP if record.helpful else DOWN for s in record.source_ids}
    if record.correct_source:
        cast[record.correct_source] = UP
    return list(cast.items())


class SourceAdjustments:
    """Precomputed votes and their questions' vectors; `adjust` is a pure function of a question vector and hits."""

    def __init__(self, vectors: npt.NDArray[np.float32], votes: Sequence[Vote], config: AdjustConfig) -> None:
        self._vectors = vectors
        self._config = config
        self._by_row: list[list[Vote]] = [[] for _ in range(len(vectors))]
        for vote in votes:
            self._by_row[vote.row].append(vote)

    @classmethod
    def build(
        cls,
        records: Sequence[FeedbackRecord],
        vectors: Sequence[Sequence[float]],
        now: datetime,
        config: AdjustConfig | None = None,
    ) -> SourceAdjustments:
        """From stored feedback and the embeddings of their questions (same order), weighted by age at `now`."""
        config = config or AdjustConfig()
        if len(records) != len(vectors):
            raise ValueError(f"{len(records)} feedback records but {len(vectors)} vectors")
        votes = []
        kept: list[Sequence[float]] = []
        for record, vector in zip(records, vectors, strict=True):
            age_days = max(0.0, (now - record.at).total_seconds() / 86_400)
            if age_days > config.max_age_days:
                continue
            weight = 0.5 ** (age_days / config.half_life_days)
            for source_id, sign in votes_of(record):
                votes.append(Vote(len(kept), source_id, sign, record.actor, record.at, weight))
            kept.append(vector)
        if not kept:
            return cls.empty(config)
        return cls(np.asarray(kept, dtype=np.float32), votes, config)

    @classmethod
    def empty(cls, config: AdjustConfig | None = None) -> SourceAdjustments:
        return cls(np.zeros((0, 0), dtype=np.float32), [], config or AdjustConfig())

    @property
    def config(self) -> AdjustConfig:
        return self._config

    def __len__(self) -> int:
        """How many feedback questions are loaded."""
        return len(self._vectors)

    def deltas(self, question_vector: Sequence[float]) -> dict[str, float]:
        """Score shift per source for this question; sources without enough distinct voters are absent."""
        if not len(self._vectors):
            return {}
        sims = self._vectors @ np.asarray(question_vector, dtype=np.float32)
        newest: dict[tuple[str, str], Vote] = {}  # (source, actor) -> that actor's newest vote near this question
        for row in np.flatnonzero(sims >= self._config.min_similarity):
            for vote in self._by_row[int(row)]:
                key = (vote.source_id, vote.actor)
                seen = newest.get(key)
                if seen is None or vote.at > seen.at:
                    newest[key] = vote
        up: dict[str, float] = {}
        down: dict[str, float] = {}
        actors: dict[str, int] = {}
        for (source_id, _), vote in newest.items():
            actors[source_id] = actors.get(source_id, 0) + 1
            side = up if vote.sign > 0 else down
            side[source_id] = side.get(source_id, 0.0) + vote.weight
        out = {}
        cap, prior = self._config.cap, self._config.prior
        for source_id, count in actors.items():
            if count < self._config.min_actors:
                continue
            u, d = up.get(source_id, 0.0), down.get(source_id, 0.0)
            out[source_id] = cap * (u - d) / (u + d + prior)
        return out

    def adjust(self, question_vector: Sequence[float], hits: Sequence[SourceHit]) -> list[SourceHit]:
        """The hits with feedback shifts added to their scores, re-ranked; the input is not changed."""
        shifts = self.deltas(question_vector)
        if not shifts:
            return list(hits)
        out = [
            h.model_copy(update={"score": h.score + shifts[h.source_id]}) if h.source_id in shifts else h for h in hits
        ]
        out.sort(key=by_score)
        return out
