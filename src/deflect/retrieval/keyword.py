"""BM25 keyword search with bm25s, one index per audience set so filtering happens inside the search."""

from __future__ import annotations

from collections.abc import Sequence
from threading import Lock

import bm25s
import Stemmer

from deflect.domain.models import Chunk, ScoredChunk
from deflect.domain.ports import Index


class BM25Index:
    """BM25 over a fixed list of chunks; scores are normalised by the query's best score."""

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        self._stemmer = Stemmer.Stemmer("english")
        self._chunks = list(chunks)
        self._bm25 = bm25s.BM25()
        if self._chunks:
            tokens = bm25s.tokenize(
                [c.text for c in self._chunks], stopwords="en", stemmer=self._stemmer, show_progress=False
            )
            self._bm25.index(tokens, show_progress=False)

    def search(self, query: str, k: int) -> list[ScoredChunk]:
        """Top-k chunks with any term in common with the query; `keyword` in (0, 1]."""
        if not self._chunks:
            return []
        tokens = bm25s.tokenize([query], stopwords="en", stemmer=self._stemmer, show_progress=False, return_ids=False)
        if not tokens[0]:
            return []
        ids, scores = self._bm25.retrieve(tokens, k=min(k, len(self._chunks)), show_progress=False)
        best = float(scores[0][0]) if len(scores[0]) else 0.0
        return [
            ScoredChunk(chunk=self._chunks[int(i)], keyword=float(s) / best)
            for i, s in zip(ids[0], scores[0], strict=True)
            if s > 0 and best > 0
        ]


class KeywordSearch:
    """Lazily builds one BM25 index per audience set from the vector index's chunks; `invalidate` after writes."""

    def __init__(self, index: Index) -> None:
        self._index = index
        self._cache: dict[frozenset[str], BM25Index] = {}
        self._lock = Lock()

    def search(self, query: str, k: int, audiences: frozenset[str]) -> list[ScoredChunk]:
        with self._lock:
            bm25 = self._cache.get(audiences)
            if bm25 is None:
                bm25 = self._cache[audiences] = BM25Index(self._index.chunks(audiences))
        return bm25.search(query, k)

    def invalidate(self) -> None:
        """Forget built indexes (the chunks changed)."""
        with self._lock:
            self._cache.clear()
