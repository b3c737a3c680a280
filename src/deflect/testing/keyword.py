"""InMemoryKeywordIndex: the first-party KeywordIndex fake, plain BM25 over a dict, same terms as the real ones."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Iterable, Sequence

from deflect.domain.models import Chunk, ScoredChunk
from deflect.index.keyword import normalised
from deflect.index.terms import query_terms, terms

K1, B = 1.2, 0.75  # the constants of SQLite FTS5's bm25()


class InMemoryKeywordIndex:
    """BM25 over the chunks in this object; private to it (the real indexes are shared through their store)."""

    def __init__(self) -> None:
        self._rows: dict[str, tuple[Chunk, Counter[str], int]] = {}

    def upsert(self, chunks: Sequence[Chunk]) -> None:
        for chunk in chunks:
            words = terms(chunk.text)
            self._rows[chunk.chunk_id] = (chunk, Counter(words), len(words))

    def delete_chunks(self, chunk_ids: Iterable[str]) -> None:
        for cid in chunk_ids:
            self._rows.pop(cid, None)

    def search(self, query: str, k: int, audiences: frozenset[str]) -> list[ScoredChunk]:
        words = query_terms(query)
        if not words or not self._rows or k <= 0:
            return []
        # Statistics over every chunk, as FTS5 keeps them: the audience filter picks results, not the corpus.
        n = len(self._rows)
        avg = sum(length for _, _, length in self._rows.values()) / n or 1.0
        df = {w: sum(1 for _, tf, _ in self._rows.values() if w in tf) for w in words}
        idf = {w: max(1e-6, math.log((n - d + 0.5) / (d + 0.5))) for w, d in df.items()}
        scored = []
        for chunk, tf, length in self._rows.values():
            if chunk.audience not in audiences or not any(w in tf for w in words):
                continue
            score = sum(idf[w] * tf[w] * (K1 + 1) / (tf[w] + K1 * (1 - B + B * length / avg)) for w in words if w in tf)
            scored.append((chunk, score))
        scored.sort(key=lambda cs: (-cs[1], cs[0].chunk_id))
        return normalised(scored[:k])

    def chunks(self, chunk_ids: Collection[str], audiences: frozenset[str]) -> list[Chunk]:
        found = (self._rows.get(cid) for cid in set(chunk_ids))
        return [row[0].model_copy(update={"embed_text": ""}) for row in found if row and row[0].audience in audiences]

    def manifest(self, source_ids: Collection[str] | None = None) -> dict[str, str]:
        return {
            cid: chunk.source_hash
            for cid, (chunk, _, _) in self._rows.items()
            if source_ids is None or chunk.source_id in source_ids
        }

    def count(self) -> int:
        return len(self._rows)
