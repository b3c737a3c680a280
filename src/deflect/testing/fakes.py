"""Deterministic stand-ins: a bag-of-words hash embedder, an in-memory index, a scripted generator."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Collection, Iterable, Iterator, Sequence

from deflect.domain.models import Answer, Chunk, Citation, ScoredChunk, SourceHit

_WORD = re.compile(r"[a-z0-9]+")


class HashEmbedder:
    """Hashes lower-cased words into a fixed-size vector: texts sharing words get a high cosine."""

    def __init__(self, dimension: int = 256) -> None:
        self.name = f"hash-{dimension}"
        self.dimension = dimension
        self.calls = 0
        self.texts = 0  # how many texts were embedded in all

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += 1
        self.texts += len(texts)
        return [self._vector(text) for text in texts]

    def embed_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[list[list[float]], list[list[list[float] | None]]]:
        """The texts' vectors and each span's: the vector of the span's own words (a model pools them in context)."""
        vectors = self.embed(texts)
        pooled: list[list[list[float] | None]] = [
            [self._vector(text[a:b]) for a, b in wanted] for text, wanted in zip(texts, spans, strict=True)
        ]
        return vectors, pooled

    def _vector(self, text: str) -> list[float]:
        vec = [0.0] * self.dimension
        for word in _WORD.findall(text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
            vec[int.from_bytes(digest, "big") % self.dimension] += 1.0
        norm = math.sqrt(sum(v * v for v in vec)) or 1.0
        return [v / norm for v in vec]

    def embed_questions(self, texts: Sequence[str]) -> list[list[float]]:
        """Symmetric, as MiniLM: a question is embedded as any text."""
        return self.embed(texts)


class InMemoryIndex:
    """Exact cosine search over a dict; same contract as ChromaIndex."""

    def __init__(self) -> None:
        self._rows: dict[str, tuple[Chunk, list[float]]] = {}

    def upsert(self, chunks: Sequence[Chunk], embeddings: Sequence[Sequence[float]]) -> None:
        for chunk, emb in zip(chunks, embeddings, strict=True):
            self._rows[chunk.chunk_id] = (chunk, list(emb))

    def delete_chunks(self, chunk_ids: Iterable[str]) -> None:
        for cid in chunk_ids:
            self._rows.pop(cid, None)

    def query(self, embedding: Sequence[float], k: int, audiences: frozenset[str]) -> list[ScoredChunk]:
        scored = [
            ScoredChunk(chunk=chunk, dense=_dot(embedding, emb), score=_dot(embedding, emb))
            for chunk, emb in self._rows.values()
            if chunk.audience in audiences
        ]
        scored.sort(key=lambda s: (-s.dense, s.chunk.chunk_id))
        return scored[:k]

    def nearest(self, embedding: Sequence[float], k: int, audiences: frozenset[str]) -> list[tuple[str, float]]:
        return [(s.chunk.chunk_id, s.dense) for s in self.query(embedding, k, audiences)]

    def chunks(
        self,
        audiences: frozenset[str] | None = None,
        source_ids: Collection[str] | None = None,
        chunk_ids: Collection[str] | None = None,
    ) -> list[Chunk]:
        return [
            c
            for c, _ in self._rows.values()
            if (audiences is None or c.audience in audiences)
            and (source_ids is None or c.source_id in source_ids)
            and (chunk_ids is None or c.chunk_id in chunk_ids)
        ]

    def count(self) -> int:
        return len(self._rows)

    def pages(self, size: int = 1000) -> Iterator[list[Chunk]]:
        rows = [chunk for chunk, _ in self._rows.values()]
        for start in range(0, len(rows), size):
            yield rows[start : start + size]


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return float(sum(x * y for x, y in zip(a, b, strict=True)))


class ScriptedGenerator:
    """Returns a fixed text citing the first source; records what it was asked."""

    name = "scripted"

    def __init__(self, text: str = "Scripted answer [1].") -> None:
        self.text = text
        self.calls: list[tuple[str, list[str]]] = []

    def generate(self, question: str, sources: Sequence[SourceHit]) -> Answer:
        self.calls.append((question, [s.source_id for s in sources]))
        if not sources:
            return Answer(text="", citations=[])
        top = sources[0]
        cite = Citation(
            n=1, source_id=top.source_id, title=top.title, url=top.url, snippet=top.chunks[0].chunk.text[:200]
        )
        return Answer(text=self.text, citations=[cite], sentences=[self.text])
