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
        # InMemoryIndex.nearest goes through here too: the retriever's kNN fails or hangs like a full query.
        self.queries += 1
        if self.mode == "fail":
            raise RuntimeError("Error finding id")
        if self.mode == "hang":
            self.release.wait(30)
        return super().query(embedding, k, audiences)

    def count(self) -> int:
        if self.mode == "hang":
            self.release.wait(30)
        return super().count()
