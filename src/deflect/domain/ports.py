"""The narrow seams to the outside world. Each has a first-party fake in `deflect.testing`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from deflect.domain.models import Answer, Chunk, ScoredChunk, SourceHit


class Embedder(Protocol):
    """Turns text into unit-length vectors."""

    name: str

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class Index(Protocol):
    """A vector store of chunks. Audience filtering happens inside `query`, never after it."""

    def upsert(self, chunks: Sequence[Chunk], embeddings: Sequence[Sequence[float]]) -> None: ...

    def delete_chunks(self, chunk_ids: Iterable[str]) -> None: ...

    def query(self, embedding: Sequence[float], k: int, audiences: frozenset[str]) -> list[ScoredChunk]: ...

    def chunks(self, audiences: frozenset[str] | None = None) -> list[Chunk]: ...

    def count(self) -> int: ...


class Generator(Protocol):
    """Composes a cited answer from ranked sources. Every sentence must be supported by a cited source."""

    name: str

    def generate(self, question: str, sources: Sequence[SourceHit]) -> Answer: ...
