"""The narrow seams to the outside world. Each has a first-party fake in `deflect.testing`."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import NamedTuple, Protocol, TextIO, runtime_checkable

from deflect.domain.escalation import AuditEvent, Escalation, PendingKnowledge, Priority, State, Tier
from deflect.domain.feedback import FeedbackRecord
from deflect.domain.keys import KeyRecord
from deflect.domain.models import Anchor, Answer, Chunk, Landing, ScoredChunk, SourceHit


class Embedder(Protocol):
    """Turns text into unit-length vectors.

    Two kinds of text: what the KB says (chunks, answers' sentences, link text) and what people ask (questions, and
    titles or headings asked as questions). Symmetric models (MiniLM, mpnet) embed both alike; asymmetric ones (e5)
    were trained with a different prefix for each, and a question embedded as a passage ranks worse."""

    name: str

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """What the KB says."""
        ...

    def embed_questions(self, texts: Sequence[str]) -> list[list[float]]:
        """What people ask."""
        ...


Span = tuple[int, int]  # [start, end) characters of a text


@runtime_checkable
class SpanEmbedder(Protocol):
    """An embedder that also gives the vector of parts of what it embeds, pooled from the text's own pass through
    the model: a link's sentence inside a chunk costs nothing more than the chunk (ingest embeds both)."""

    def embed_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]]
    ) -> tuple[list[list[float]], list[list[list[float] | None]]]:
        """The texts' vectors, as `embed` gives them, and for each text the unit vector of each of its spans; None
        where a span lies beyond what the model reads of the text, or the model cannot pool a part."""
        ...


class Index(Protocol):
    """A vector store of chunks. Audience filtering happens inside `query`, never after it."""

    def upsert(self, chunks: Sequence[Chunk], embeddings: Sequence[Sequence[float]]) -> None: ...

    def delete_chunks(self, chunk_ids: Iterable[str]) -> None: ...

    def query(self, embedding: Sequence[float], k: int, audiences: frozenset[str]) -> list[ScoredChunk]: ...

    def nearest(self, embedding: Sequence[float], k: int, audiences: frozenset[str]) -> list[tuple[str, float]]:
        """`query`'s chunk ids and cosines, in its order, without reading the chunks (their text and metadata are
        most of a query's cost: the retriever reads them from the keyword index, deflect.retrieval.hybrid)."""
        ...

    def chunks(
        self,
        audiences: frozenset[str] | None = None,
        source_ids: Collection[str] | None = None,
        chunk_ids: Collection[str] | None = None,
    ) -> list[Chunk]:
        """Stored chunks, optionally only of some audiences, sources and/or ids (every filter given applies)."""
        ...

    def count(self) -> int: ...

    def pages(self, size: int = 1000) -> Iterator[list[Chunk]]:
        """Every stored chunk, `size` at a time (reading all at once fails on large indexes)."""
        ...


class KeywordIndex(Protocol):
    """Full-text search over chunks, kept in step with the Index chunk by chunk and shared by every process that
    opens the same store. Audience filtering happens inside `search`, never after it."""

    def upsert(self, chunks: Sequence[Chunk]) -> None:
        """Insert or replace chunks by id."""
        ...

    def delete_chunks(self, chunk_ids: Iterable[str]) -> None:
        """Remove chunks by id; unknown ids are ignored."""
        ...

    def search(self, query: str, k: int, audiences: frozenset[str]) -> list[ScoredChunk]:
        """At most k chunks the audiences may see sharing a stemmed term with the query, best first, with
        `keyword` in (0, 1] relative to the best (1.0)."""
        ...

    def chunks(self, chunk_ids: Collection[str], audiences: frozenset[str]) -> list[Chunk]:
        """The stored chunks with these ids that the audiences may see, every field as written but `embed_text`
        (an answer's page openings and neighbours, read by id); ids not stored, or not visible, are absent."""
        ...

    def manifest(self, source_ids: Collection[str] | None = None) -> dict[str, str]:
        """Chunk id -> source hash of the stored chunks (optionally of some sources), to find what is missing."""
        ...

    def count(self) -> int:
        """Number of stored chunks."""
        ...


class AnchorIndex(Protocol):
    """Anchors (what a page says where it links to another page), one vector each, kept per linking source. Audience
    filtering happens inside `landing`, never after it: a caller only ever sees anchors of pages it may see."""

    def replace(self, source_id: str, anchors: Sequence[Anchor], embeddings: Sequence[Sequence[float]]) -> None:
        """Make `anchors` (all of `source_id`'s) the linking source's records: new ones are written first, then the
        source's others are deleted (none given: all of them)."""
        ...

    def replace_many(self, sources: Mapping[str, tuple[Sequence[Anchor], Sequence[Sequence[float]]]]) -> None:
        """`replace` for each linking source (id -> its anchors and their vectors), in as few writes as the store
        allows: what it leaves is what replacing them one by one would."""
        ...

    def delete_sources(self, source_ids: Iterable[str]) -> None:
        """Remove every anchor of these linking sources; unknown ones are ignored."""
        ...

    def landing(
        self, embedding: Sequence[float], keys: Collection[Landing], audiences: frozenset[str]
    ) -> dict[Landing, float]:
        """For each of `keys` ((target, fragment) pairs) that anchors of linking pages the audiences may see land
        on, the best cosine of those anchors to `embedding`: every such anchor, none missed. Keys no anchor lands on
        are absent."""
        ...

    def of_source(self, source_id: str) -> list[Anchor]:
        """The stored anchors of one linking source, every field as written."""
        ...

    def manifest(self, source_ids: Collection[str] | None = None) -> dict[str, frozenset[str]]:
        """Linking source id -> the source hashes its stored anchors carry (optionally of some sources only)."""
        ...

    def count(self) -> int:
        """Number of stored anchors."""
        ...


class Generator(Protocol):
    """Composes a cited answer from ranked sources. Every sentence must be supported by a cited source."""

    name: str

    def generate(self, question: str, sources: Sequence[SourceHit]) -> Answer: ...


@runtime_checkable
class StreamingGenerator(Generator, Protocol):
    """A generator that can hand out its answer while it writes it (an LLM): each piece is text that passed the
    citation check, and the pieces emitted join to the start of the answer's text."""

    def stream(self, question: str, sources: Sequence[SourceHit], emit: Callable[[str], None] | None) -> Answer: ...


class StoredEscalation(NamedTuple):
    """An escalation as stored, with the version an `update` must name to replace it."""

    escalation: Escalation
    version: int


class EscalationStore(Protocol):
    """Escalations and the append-only audit log. Each write is one transaction: all of it is stored, or none.

    Datetimes must be timezone-aware (naive ones raise ValidationFailed). A packet comes back as written (the same
    instants); audit event times come back in UTC.
    """

    def ping(self) -> None:
        """Return if the database takes writes now; StoreUnavailable (within its timeout) if not."""
        ...

    def create(self, escalation: Escalation, events: Sequence[AuditEvent] = ()) -> None:
        """Store a new escalation (version 1) with its audit events; Conflict if the id exists."""
        ...

    def get(self, escalation_id: str) -> StoredEscalation:
        """The escalation and its version; NotFound if absent."""
        ...

    def list(
        self,
        *,
        state: State | Collection[State] | None = None,
        priority: Priority | None = None,
        tier: Tier | None = None,
        customer_id: str | None = None,
        since: datetime | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> builtins.list[Escalation]:
        """Escalations matching every given filter (`since` bounds created_at), newest first, the first `offset`
        skipped; limit None is all."""
        ...

    def count(
        self,
        *,
        state: State | Collection[State] | None = None,
        priority: Priority | None = None,
        tier: Tier | None = None,
        customer_id: str | None = None,
        since: datetime | None = None,
    ) -> int:
        """How many escalations `list` would return with the same filters and no limit."""
        ...

    def update(
        self,
        escalation: Escalation,
        expected_version: int,
        events: Sequence[AuditEvent] = (),
        knowledge: PendingKnowledge | None = None,
    ) -> int:
        """Replace the packet if its version is still `expected_version`, with its events (and a pending-knowledge
        record, in the same transaction); the new version.

        NotFound if absent; Conflict if someone else updated it first (nothing is written then).
        """
        ...

    def pending_knowledge(self, limit: int = 100) -> builtins.list[PendingKnowledge]:
        """Knowledge records not yet indexed, oldest first."""
        ...

    def knowledge(self, escalation_id: str) -> PendingKnowledge | None:
        """The knowledge record of a resolution (pending or searchable), or None."""
        ...

    def mark_knowledge(self, escalation_id: str, indexed_at: datetime | None, error: str | None = None) -> None:
        """Record an indexing attempt: done at `indexed_at`, or failed with `error` (attempts counts both)."""
        ...

    def append_audit(self, events: Sequence[AuditEvent]) -> None:
        """Append events that change no escalation (e.g. an answer decision). Ids are assigned by the store."""
        ...

    def audit(
        self,
        *,
        escalation_id: str | None = None,
        answer_id: str | None = None,
        kind: str | None = None,
        since: datetime | None = None,
    ) -> builtins.list[AuditEvent]:
        """Events matching every given filter (`since` bounds `at`, inclusive), oldest first (by id)."""
        ...

    def export_audit(self, out: Path | TextIO) -> int:
        """Write the whole audit log as JSONL, oldest first, to a file path or a text stream; the line count."""
        ...


class FeedbackStore(Protocol):
    """Feedback on answers, append-only, tied to the answers' audit records (same database as the audit log)."""

    def add_feedback(self, record: FeedbackRecord, events: Sequence[AuditEvent] = ()) -> None:
        """Store a vote with its audit events in one transaction.

        NotFound if no decision event exists for `record.answer_id`; Conflict if the id exists. Nothing is written
        then."""
        ...

    def feedback(
        self, *, answer_id: str | None = None, since: datetime | None = None, limit: int | None = 100
    ) -> builtins.list[FeedbackRecord]:
        """Votes matching every given filter (`since` bounds `at`, inclusive), newest first; limit None is all."""
        ...

    def self_served_without_vote(self, *, since: datetime, limit: int | None = 100) -> builtins.list[Escalation]:
        """Escalations in state self_served naming a page (not OTHER_PAGE), created at or after `since`, whose
        self-serve vote (id `self_served_vote_id(escalation.id)`) is not stored: the votes failed writes lost.
        Oldest first; limit None is all. Cheap when none is lost: one read, not one per escalation."""
        ...

    def audit(
        self,
        *,
        escalation_id: str | None = None,
        answer_id: str | None = None,
        kind: str | None = None,
        since: datetime | None = None,
    ) -> builtins.list[AuditEvent]:
        """As EscalationStore.audit: the answer's decision event is read from here."""
        ...


class KeyStore(Protocol):
    """API keys and widget ids, by the SHA-256 of their secret (never the secret). Every process reads the same rows,
    so a revocation holds at once in all of them. Writes carry audit events, stored in the same transaction."""

    def add_key(self, record: KeyRecord, events: Sequence[AuditEvent] = ()) -> None:
        """Store a new key; Conflict if its id or its secret's hash exists."""
        ...

    def key_by_hash(self, secret_hash: str) -> KeyRecord | None:
        """The key whose secret has this hash, revoked or not; None if there is none."""
        ...

    def get_key(self, key_id: str) -> KeyRecord:
        """The key with this id; NotFound if absent."""
        ...

    def list_keys(self, *, include_revoked: bool = False) -> builtins.list[KeyRecord]:
        """Keys, oldest first (active ones only unless `include_revoked`)."""
        ...

    def update_key(self, record: KeyRecord, events: Sequence[AuditEvent] = ()) -> None:
        """Replace a key that is still active (a rotation, new origins, or its revocation). NotFound if absent;
        Conflict if it was revoked meanwhile (a revoked key never comes back); nothing is written then."""
        ...


class Store(EscalationStore, FeedbackStore, KeyStore, Protocol):
    """Everything deflect persists in one database: escalations, audit log, feedback, keys (SqlStore,
    InMemoryStore)."""
