"""Shared inputs for the gap tests: a fake-backed index of chunks, a store seeded through the real desk, questions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from deflect.desk import EscalationDesk
from deflect.domain.escalation import Escalation
from deflect.domain.models import Audience, Chunk
from deflect.escalations.config import load_escalation_config
from deflect.gaps import GapParams, GapQuestion
from deflect.testing import HashEmbedder, InMemoryIndex, InMemoryStore

CONFIG = load_escalation_config(Path(__file__).resolve().parents[2] / "config" / "escalation.yaml")
NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
WINDOW = timedelta(days=30)
# Thresholds for the bag-of-words HashEmbedder: paraphrases share most words, unrelated questions almost none.
PARAMS = GapParams(cluster_threshold=0.45, contradiction_threshold=0.3)

PASSWORD = [
    "I forgot my password and cannot log in",
    "forgot password, cannot log in to my account",
    "cannot log in, I forgot the password",
]
INVOICE = [
    "where do I download my invoice as a PDF",
    "how do I download the invoice PDF",
]
SLACK = [
    "duplicate slack notifications in our channel",
    "slack notifications arrive twice, duplicate messages in channel",
]
LONELY = "what is the weather on mars tomorrow"


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def question(
    text: str, days: float, origin: Literal["escalated", "unhelpful"] = "escalated", **ids: str
) -> GapQuestion:
    return GapQuestion(text=text, at=days_ago(days), origin=origin, **ids)


def chunk(
    source_id: str,
    text: str,
    updated: str,
    kind: Literal["article", "escalation"] = "article",
    n: int = 0,
    title: str | None = None,
    quote_from: int = 0,
) -> Chunk:
    return Chunk(
        chunk_id=f"{source_id}#{n}",
        source_id=source_id,
        kind=kind,
        title=title or f"Title of {source_id}",
        audience="public",
        updated=updated,
        text=text,
        quote_from=quote_from,
        origin=f"{source_id}.md",
        source_hash="h",
        source_chunks=1,
    )


def esc_chunk(escalation_id: str, question_text: str, resolution: str, resolved_at: str) -> Chunk:
    """An `esc:` chunk as ingestion writes it: the question, then the resolution from `quote_from`."""
    head = f"{question_text}\n\nResolution: "
    return chunk(f"esc:{escalation_id}", head + resolution, resolved_at, "escalation", quote_from=len(head))


def index_of(embedder: HashEmbedder, *chunks: Chunk) -> InMemoryIndex:
    index = InMemoryIndex()
    index.upsert(chunks, embedder.embed([c.text for c in chunks]))
    return index


class Desk:
    """A store filled through the real EscalationDesk, with a clock the test moves."""

    def __init__(self) -> None:
        self.now = NOW
        self.store = InMemoryStore()
        self.desk = EscalationDesk(self.store, CONFIG, clock=lambda: self.now)

    def escalate(self, text: str, days: float) -> Escalation:
        self.now = days_ago(days)
        esc, _ = self.desk.escalate(
            answer_id=f"ans-{len(self.store.list(limit=None))}",
            question=text,
            audience=Audience.CUSTOMER,
            reasons=["low_confidence"],
            hits=[],
            policy_version="test",
            decision_data={},
        )
        self.now = NOW
        return esc

    def resolve(self, esc: Escalation, resolution: str, days: float) -> Escalation:
        self.now = days_ago(days)
        for action in ("claim", "start"):
            self.desk.act(esc.id, action, "agent-ana")
        done = self.desk.act(esc.id, "resolve", "agent-ana", resolution=resolution)
        self.now = NOW
        return done
