"""Fault injection at the Index seam: an in-memory index whose reads can fail or hang on demand."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from deflect.domain.models import ScoredChunk
from deflect.testing.fakes import InMemoryIndex


class FaultyIndex(InMemoryIndex):
    """`mode`: "ok"; "fail" (queries raise, like chromadb's InternalError after a foreign ingest, while `count`
    still works); "hang" (queries and counts block until `release` is set, like a SIGSTOPped server)."""

    def __init__(self) -> None:
        super().__init__()
        self.mode = "ok"
        self.queries = 0
        self.release = threading.Event()

    def query(self, embedding: Sequence[float], k: int, audiences: frozenset[str]) -> list[ScoredChunk]:
        self._fault()
        return super().query(embedding, k, audiences)

    def nearest(self, embedding: Sequence[float], k: int, audiences: frozenset[str]) -> list[tuple[str, float]]:
        self._fault()
        return [(s.chunk.chunk_id, s.dense) for s in super().query(embedding, k, audiences)]

    def _fault(self) -> None:
        self.queries += 1
        if self.mode == "fail":
            raise RuntimeError("Error finding id")
        if self.mode == "hang":
            self.release.wait(30)

    def count(self) -> int:
        if self.mode == "hang":
            self.release.wait(30)
        return super().count()
