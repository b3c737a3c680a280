"""Keyword search for the retriever: the shared KeywordIndex, filled once from the vector index when it lags.

The KeywordIndex is written chunk by chunk in the same step as the vector index (deflect.ingest.pipeline), so
nothing is rebuilt after a write and every process sees the same index. An index built before the keyword index
existed (or one that lost chunks) is backfilled here once per process, page by page, before the first search.
"""

from __future__ import annotations

import logging
import time
from threading import Lock

from deflect.domain.models import ScoredChunk
from deflect.domain.ports import Index, KeywordIndex

log = logging.getLogger(__name__)

PAGE = 1000


def backfill(index: Index, keyword: KeywordIndex, page: int = PAGE) -> int:
    """Add to the keyword index every chunk of the vector index it lacks or holds at another source hash, reading
    `page` chunks at a time; the number written. Chunks only the keyword index holds are left to ingestion,
    which knows what was deleted."""
    have = keyword.manifest()
    written = 0
    for chunks in index.pages(page):
        missing = [c for c in chunks if have.get(c.chunk_id) != c.source_hash]
        keyword.upsert(missing)
        written += len(missing)
    return written


class KeywordSearch:
    """Searches the KeywordIndex; the first search of a process backfills it if it holds fewer chunks than the
    vector index (a count comparison: two cheap reads)."""

    def __init__(self, keyword: KeywordIndex, index: Index) -> None:
        self.keyword = keyword
        self._index = index
        self._checked = False
        self._lock = Lock()

    def search(self, query: str, k: int, audiences: frozenset[str]) -> list[ScoredChunk]:
        """Top-k chunks of the audiences by keyword relevance, `keyword` in (0, 1]."""
        self.ensure_filled()
        return self.keyword.search(query, k, audiences)

    def ensure_filled(self) -> None:
        """Backfill once per process when the keyword index holds fewer chunks than the vector index."""
        if self._checked:
            return
        with self._lock:
            if self._checked:
                return
            if self.keyword.count() < self._index.count():
                started = time.perf_counter()
                written = backfill(self._index, self.keyword)
                log.info("keyword index backfilled: %d chunks in %.1f s", written, time.perf_counter() - started)
            self._checked = True

    def invalidate(self) -> None:
        """Nothing to drop: the keyword index is written in step with the vector index."""
