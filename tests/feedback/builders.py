"""Small vectors and hits for the feedback tests: questions as unit vectors in a 3-d space."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from deflect.domain.feedback import FeedbackRecord
from deflect.domain.models import SourceHit

NOW = datetime(2026, 6, 1, tzinfo=UTC)

LOGIN = [1.0, 0.0, 0.0]  # "how do I log in"
LOGIN_PARAPHRASE = [0.96, 0.28, 0.0]  # cosine 0.96 with LOGIN
BILLING = [0.0, 0.0, 1.0]  # an unrelated question: cosine 0 with LOGIN


def unit(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector]


def hit(source_id: str, score: float) -> SourceHit:
    return SourceHit(source_id=source_id, title=source_id, url="", kind="article", score=score, dense=score, chunks=[])


def hits() -> list[SourceHit]:
    """The wrong source first by a small margin, the right one second, a third far behind."""
    return [hit("doc:wrong", 0.80), hit("doc:right", 0.79), hit("doc:other", 0.50)]


def vote(n: int, actor: str, at: datetime = NOW, **fields: Any) -> FeedbackRecord:
    """An unhelpful vote on doc:wrong for the login question, naming doc:right, unless overridden."""
    base: dict[str, Any] = {
        "id": f"fb-{actor}-{n}",
        "answer_id": f"ans-{actor}-{n}",
        "at": at,
        "helpful": False,
        "correct_source": "doc:right",
        "actor": actor,
        "role": "customer",
        "question": "How do I log in?",
        "source_ids": ["doc:wrong"],
        "decision": "answer",
    }
    base.update(fields)
    return FeedbackRecord.model_validate(base)


def crowd(actors: int, **fields: Any) -> list[FeedbackRecord]:
    """One vote from each of `actors` distinct actors."""
    return [vote(0, f"user-{a}", **fields) for a in range(actors)]
