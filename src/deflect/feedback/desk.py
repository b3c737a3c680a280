"""FeedbackDesk: record a reader's vote on an answer (stored with its audit event) and serve ranking adjustments."""

from __future__ import annotations

import builtins
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import get_args

from deflect.domain.actors import voter_of
from deflect.domain.cosine import CosineScale
from deflect.domain.escalation import OTHER_PAGE, AuditEvent, Escalation, State
from deflect.domain.feedback import FeedbackRecord, Role, self_served_vote_id, vote_id
from deflect.domain.models import SourceHit
from deflect.domain.ports import Embedder, FeedbackStore
from deflect.errors import ConfigError, Conflict, DeflectError, NotFound, ValidationFailed
from deflect.feedback.adjust import AdjustConfig, SourceAdjustments

log = logging.getLogger(__name__)
MAX_COMMENT = 2000
RETRY_BATCH = 100  # lost votes stored per retry run: a backlog drains over runs, each run stays short
MAX_SOURCE_ID = 300
Clock = Callable[[], datetime]
Scrub = Callable[[str], str]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class FeedbackResult:
    """The stored vote, and whether the widget should offer a hand-off to a human."""

    record: FeedbackRecord
    offer_escalation: bool


class FeedbackDesk:
    """Votes on answers, persisted through one FeedbackStore, and the ranking adjustments they add up to. Without an
    embedder it stores votes but cannot re-rank (a command that loads no model: `deflect feedback sweep`)."""

    def __init__(
        self,
        store: FeedbackStore,
        embedder: Embedder | None,
        config: AdjustConfig | None = None,
        clock: Clock = utc_now,
        scrub: Scrub | None = None,
        refresh_s: float = 30.0,
    ) -> None:
        self.store = store
        self.config = config or AdjustConfig()
        # The embedder's cosine scale (the calibration's, once there is a service): `config.min_similarity` is
        # MiniLM's, and e5 puts unrelated questions at 0.78, above it, so every vote would count for every question.
        self.scale: Callable[[], CosineScale] = CosineScale
        self.clock = clock
        self._embedder = embedder
        self._scrub = scrub
        self._refresh_s = refresh_s
        self._lock = threading.Lock()
        self._vectors: dict[str, list[float]] = {}  # question -> embedding, so each question is embedded once
        self._cached: SourceAdjustments | None = None
        self._loaded_at = 0.0

    def record(
        self,
        answer_id: str,
        helpful: bool,
        comment: str | None = None,
        correct_source: str | None = None,
        caller_role: str = "customer",
        actor: str = "anonymous",
    ) -> FeedbackResult:
        """Store a vote on an answer with an audit "feedback" action; NotFound for an answer this caller never saw.

        An unhelpful vote from a customer on an answered question offers escalation."""
        role = _role(caller_role)
        comment = _comment(comment, self._scrub)
        correct_source = _source(correct_source)
        return self._store(answer_id, helpful, comment, correct_source, role, actor, vote_id(), {})

    def record_self_served(self, escalation: Escalation) -> FeedbackRecord | None:
        """A customer withdrew their escalation because a suggested page solved it: store that as their helpful vote
        naming the page (`correct_source`) on the escalation's answer, audited like a vote ("via": "self_serve").

        Once per escalation: the id is derived from the escalation's (self_served_vote_id), so a call once it is
        stored writes nothing and returns None, as does an escalation not self-served or solved by "other" (no page
        to credit). That makes it the retry too: the customer's repeat click, or `store_lost_self_served_votes`,
        stores the vote a failed write lost. The vote goes through the same adjustment as any other (its caps,
        `min_actors`, decay), by the requester's feedback actor, dated when the customer withdrew (a retried vote
        decays from then, not from the retry)."""
        page = escalation.self_served_page
        if escalation.state is not State.SELF_SERVED or not escalation.requester or page in (None, OTHER_PAGE):
            return None
        record_id = self_served_vote_id(escalation.id)
        if any(r.id == record_id for r in self.store.feedback(answer_id=escalation.answer_id, limit=None)):
            return None  # stored already: a repeat reads, and writes nothing
        actor = voter_of(escalation.requester)
        try:
            result = self._store(
                escalation.answer_id,
                True,
                None,
                _source(page),
                "customer",
                actor,
                record_id,
                {"via": "self_serve"},
                cast_at=escalation.timestamps.get(State.SELF_SERVED),
            )
        except Conflict:
            return None  # stored meanwhile (another worker took the same click)
        return result.record

    def store_lost_self_served_votes(
        self, limit: int | None = RETRY_BATCH, within: timedelta | None = None
    ) -> dict[str, int]:
        """Store the votes that failed writes lost (record_self_served on each, so at most once): of self-served
        escalations raised `within` (default: the votes' window, `config.max_age_days`, since a vote older than that
        is never loaded; a self-serve comes before anyone starts the escalation, usually hours after it was raised).
        One read when nothing is lost. Counts stored and failed again; a failure is logged and the rest still
        tried, so one bad escalation cannot hold up the others."""
        since = self.clock() - (timedelta(days=self.config.max_age_days) if within is None else within)
        stored = failed = 0
        for escalation in self.store.self_served_without_vote(since=since, limit=limit):
            try:
                if self.record_self_served(escalation) is not None:
                    stored += 1
            except Exception as exc:  # whatever it was, the next escalation's vote may still be stored
                failed += 1
                log.error(  # our own errors say enough in their message; anything else keeps its traceback
                    "self-served escalation %s: its page's vote was not stored on retry (%s)",
                    escalation.id,
                    exc.message if isinstance(exc, DeflectError) else type(exc).__name__,
                    exc_info=not isinstance(exc, DeflectError),
                )
        return {"stored": stored, "failed": failed}

    def _store(
        self,
        answer_id: str,
        helpful: bool,
        comment: str | None,
        correct_source: str | None,
        role: Role,
        actor: str,
        record_id: str,
        audit_data: dict[str, str],
        cast_at: datetime | None = None,
    ) -> FeedbackResult:
        decisions = self.store.audit(answer_id=answer_id, kind="decision")
        # A customer may only vote on customer answers; saying "not found" rather than "forbidden" leaks nothing.
        if not decisions or (role == "customer" and decisions[-1].data.get("audience") != "customer"):
            raise NotFound(f"no answer {answer_id}", [{"answer_id": answer_id}])
        decided = decisions[-1]
        data = decided.data
        decision = "answer" if data.get("decision") == "answer" else "escalate"
        # What the reader was shown: the cited sources of an answer, or of the draft an agent sees on an escalation.
        shown = data.get("cited", []) if decision == "answer" or data.get("audience") == "agent" else []
        now = self.clock()
        record = FeedbackRecord(
            id=record_id,
            answer_id=answer_id,
            at=cast_at or now,  # when the reader voted; the audit event says when it was stored
            helpful=helpful,
            comment=comment,
            correct_source=correct_source,
            actor=actor,
            role=role,
            question=str(data.get("question", "")),
            source_ids=[str(s) for s in shown],
            decision=decision,
        )
        offer = role == "customer" and not helpful and decision == "answer"
        event = AuditEvent(
            at=now,
            kind="action",
            actor=actor,
            answer_id=answer_id,
            escalation_id=decided.escalation_id,
            action="feedback",
            data={
                "feedback_id": record.id,
                "helpful": helpful,
                "role": role,
                "sources": record.source_ids,
                "correct_source": correct_source,
                "has_comment": comment is not None,
                "offer_escalation": offer,
                **audit_data,
            },
        )
        self.store.add_feedback(record, [event])
        with self._lock:
            self._cached = None  # this process sees its own vote at once
        return FeedbackResult(record, offer)

    def list(self, answer_id: str | None = None, limit: int | None = 100) -> builtins.list[FeedbackRecord]:
        """Stored votes, newest first."""
        return self.store.feedback(answer_id=answer_id, limit=limit)

    def unhelpful(self, since: datetime, until: datetime) -> builtins.list[FeedbackRecord]:
        """Answers voted unhelpful in [since, until], newest first, once per answer (content-gap input)."""
        seen: set[str] = set()
        out = []
        for record in self.store.feedback(since=since, limit=None):
            if record.at <= until and not record.helpful and record.answer_id not in seen:
                seen.add(record.answer_id)
                out.append(record)
        return out

    def adjustments(self) -> SourceAdjustments:
        """The current adjustments: rebuilt after a vote here, or when older than `refresh_s` (other processes)."""
        if self._embedder is None:
            raise ConfigError("this feedback desk has no embedder: it stores votes but cannot re-rank")
        with self._lock:
            if self._cached is not None and time.monotonic() - self._loaded_at < self._refresh_s:
                return self._cached
            now = self.clock()
            records = self.store.feedback(since=now - timedelta(days=self.config.max_age_days), limit=None)
            new = sorted({r.question for r in records} - self._vectors.keys())
            if new:
                self._vectors.update(zip(new, self._embedder.embed_questions(new), strict=True))
            config = replace(self.config, min_similarity=self.scale().from_reference(self.config.min_similarity))
            self._cached = SourceAdjustments.build(records, [self._vectors[r.question] for r in records], now, config)
            self._loaded_at = time.monotonic()
            return self._cached

    def adjust(self, question_vector: Sequence[float], hits: Sequence[SourceHit]) -> builtins.list[SourceHit]:
        """Hits re-ranked by the feedback on similar questions (the retriever calls this after ranking)."""
        return self.adjustments().adjust(question_vector, hits)


def _role(value: str) -> Role:
    roles: tuple[Role, ...] = get_args(Role)
    for role in roles:
        if value == role:
            return role
    raise ValidationFailed(f"unknown role {value!r}", [{"field": "role", "allowed": list(roles)}])


def _comment(comment: str | None, scrub: Scrub | None) -> str | None:
    if comment is None or not comment.strip():
        return None
    if len(comment) > MAX_COMMENT:
        raise ValidationFailed(
            f"comment is longer than {MAX_COMMENT} characters",
            [{"field": "comment", "problem": "too_long", "limit": MAX_COMMENT}],
        )
    text = comment.strip()
    return scrub(text) if scrub else text


def _source(source_id: str | None) -> str | None:
    if source_id is None:
        return None
    text = source_id.strip()
    if not text or len(text) > MAX_SOURCE_ID:
        raise ValidationFailed(
            "correct_source must be a source id (1 to 300 characters)",
            [{"field": "correct_source", "problem": "empty" if not text else "too_long"}],
        )
    return text
