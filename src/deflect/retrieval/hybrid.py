"""Fuse dense and keyword candidates, then rank sources by their best chunk.

Fusion is a weighted sum, `cosine + w * bm25/max_bm25`, not reciprocal-rank fusion: on paraphrase-heavy support
data equal-weight RRF with BM25 is worse than dense alone (see docs/retrieval.md for the measurements that chose w).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import lru_cache
from typing import Any, TypeVar

from deflect.domain.cosine import CosineScale
from deflect.domain.models import Chunk, ScoredChunk, SourceHit, by_score
from deflect.domain.ports import AnchorIndex, Embedder, Index, KeywordIndex
from deflect.errors import IndexUnavailable
from deflect.retrieval.anchors import anchor_bonus, landing_keys, ordered_by_anchors
from deflect.retrieval.keyword import KeywordSearch

_T = TypeVar("_T")
log = logging.getLogger(__name__)
CHUNKS_PER_SOURCE = 3
# Release notes (a change log, NEWS, "Version 1.2.4 (2023-03-24)") name every command and option in passing, for
# someone upgrading; a how-to question is answered by the pages they changed. Their chunks are scored this much lower:
# on the borg manual's tuning questions any value from 0.02 to 0.1 gave the same ranking (docs/retrieval.md).
RELEASE_NOTES_PENALTY = 0.05
_VERSION = r"\[?v?\d+(?:\.\d+)+\]?"
_DATE = r"\(?\d{4}-\d{2}-\d{2}\)?"
_RELEASE_NOTES = re.compile(
    r"\b(change ?logs?|release (notes|history|log)|what'?s new)\b|\bhistory of\b.*\breleases\b|\bnews\s*$"
    r"|^\s*(version|release)\s+v?\d+(\.\d+)+"
    # A heading that is only a version and/or a date: "[1.0.0] - 2017-06-20" (Keep a Changelog), "2018-09-15 (3.25.0)".
    rf"|^\s*({_VERSION}(\s*[-–]?\s*{_DATE})?|{_DATE}(\s*[-–]?\s*\(?{_VERSION}\)?)?)\s*$",
    re.IGNORECASE,
)
# Told how long each stage of a retrieval took, in seconds: "embed", "dense", "keyword" or "anchors" (/metrics
# listens).
StageObserver = Callable[[str, float], None]
# Re-ranks ranked sources given the question's vector (feedback adjustments); must not drop or add sources.
Adjust = Callable[[Sequence[float], list[SourceHit]], list[SourceHit]]


class HybridRetriever:
    """Dense retrieval from the index plus optional BM25, fused per chunk and aggregated per source."""

    def __init__(
        self,
        index: Index,
        embedder: Embedder,
        keyword: KeywordSearch | None,
        bm25_weight: float,
        candidates: int,
        adjust: Adjust | None = None,
        anchors: AnchorIndex | None = None,
        anchor_weight: float = 0.0,
        anchor_floor: float = 0.3,
    ) -> None:
        self._adjust = adjust
        # Anchor text orders sources (deflect.retrieval.anchors); weight 0 searches no anchors at all.
        self._anchors = anchors if anchor_weight > 0 else None
        self._anchor_weight = anchor_weight
        self._anchor_floor = anchor_floor
        # The anchor floor is a MiniLM cosine: with another model it is read on that model's scale (the calibration's,
        # set by wiring; e5 puts unrelated texts near 0.78, so 0.3 would pass every link sentence and lift every linked
        # page alike). Self-calibration never adds anchors, so the scale it measures is known before it matters here.
        self.scale: Callable[[], CosineScale] = CosineScale
        self._index = index
        self._embedder = embedder
        self._keyword = keyword
        self._w = bm25_weight
        self._candidates = candidates
        self.stage_observers: list[StageObserver] = []
        # The keyword search needs only the question's words, not its vector: it runs on this pool while the
        # question is embedded (torch and SQLite both release the GIL; the machine has two cores), so its cost
        # hides behind the embedding. Threads start on demand, one per concurrent retrieval up to 8 (the server
        # runs at most 4 asks' retrievals at once: the index calls' Bounded pool).
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="keyword") if keyword else None

    @property
    def keyword(self) -> KeywordIndex | None:
        """The keyword index searched, if any (metrics report its size)."""
        return self._keyword.keyword if self._keyword else None

    @property
    def anchors(self) -> AnchorIndex | None:
        """The anchor index searched, if anchor text is on."""
        return self._anchors

    @property
    def bm25_weight(self) -> float:
        """The fusion weight in force."""
        return self._w

    def retrieve(self, question: str, audiences: frozenset[str], k: int = 10) -> list[SourceHit]:
        """Top-k sources the audience may see, best first (anchor text moving pages, not their scores), adjusted by
        feedback on similar questions."""
        dense, keyword, vector = self._gather(question, audiences, with_keyword=self._w > 0)
        fused = fuse(dense, keyword, self._w)
        bonus: dict[str, float] = {}
        if self._anchors and fused:
            # Every anchor landing on a candidate's section, and no other: the only ones that can move a candidate.
            best = self._timed("anchors", self._anchors.landing, vector, landing_keys(fused), audiences)
            floor = self.scale().from_reference(self._anchor_floor)
            bonus = anchor_bonus(fused, best, self._anchor_weight, floor) if best else {}
        if not bonus:
            hits = rank_sources(fused, k)
            return self._adjust(vector, hits) if self._adjust else hits
        # Feedback shifts scores and re-sorts by them; the anchors' lift is added after it, so a question with votes
        # on similar ones keeps both (feedback alone would undo the anchors' order).
        ranked = rank_sources(fused, len(fused))
        if self._adjust:
            ranked = self._adjust(vector, ranked)
        return ordered_by_anchors(ranked, bonus, fused)[:k]

    def candidates(
        self, question: str, audiences: frozenset[str], with_keyword: bool = True
    ) -> tuple[list[ScoredChunk], list[ScoredChunk]]:
        """Dense and keyword candidates before fusion (the eval sweeps fusion weights over these)."""
        dense, keyword, _ = self._gather(question, audiences, with_keyword)
        return dense, keyword

    def _gather(
        self, question: str, audiences: frozenset[str], with_keyword: bool
    ) -> tuple[list[ScoredChunk], list[ScoredChunk], Sequence[float]]:
        """Dense and keyword candidates and the question's vector; the keyword search runs while the question is
        embedded and searched densely, and its errors are raised here as if it had run in line."""
        pending: Future[list[ScoredChunk]] | None = None
        if self._keyword and with_keyword and self._pool:
            pending = self._pool.submit(
                self._timed, "keyword", self._keyword.search, question, self._candidates, audiences
            )
        try:
            vector = self._timed("embed", self._embedder.embed_questions, [question])[0]
            dense = self._timed("dense", self._dense, vector, audiences)
        except BaseException:
            if pending is not None:
                pending.cancel()
            raise
        keyword = pending.result() if pending is not None else []
        return dense, keyword, vector

    def _dense(self, vector: Sequence[float], audiences: frozenset[str]) -> list[ScoredChunk]:
        """The nearest chunks. With a keyword index, the vector index gives only their ids and cosines and the chunks
        are read from the keyword index, which holds the same chunks (written in the same step by ingestion) in one
        row each: Chroma reads a chunk's text and metadata from rows of its SQLite, 3.3 of its 5.2 ms per query at
        10,000 chunks, where this read takes ~0.9 ms (benchmarks/scale.py's index). A chunk the keyword index lacks
        (it is being backfilled, or a write is between the two indexes) is read from the vector index, and when the
        keyword index cannot be read at all the vector index is queried with the chunks, as without one."""
        if self._keyword is None:
            return self._index.query(vector, self._candidates, audiences)
        nearest = self._index.nearest(vector, self._candidates, audiences)
        ids = [cid for cid, _ in nearest]
        try:
            found = {c.chunk_id: c for c in self._keyword.keyword.chunks(ids, audiences)}
        except IndexUnavailable as exc:
            log.warning("reading the nearest chunks from the vector index: %s", exc.message)
            return self._index.query(vector, self._candidates, audiences)
        missing = [cid for cid in ids if cid not in found]
        if missing:
            found |= {c.chunk_id: c for c in self._index.chunks(audiences=audiences, chunk_ids=missing)}
        # A chunk neither holds now was deleted since the kNN: it is left out, as a query a moment later would. A chunk
        # id rewritten with new text is read as the keyword index holds it: new once ingestion wrote both indexes (a
        # crash between the two writes leaves the old text until the next ingest rewrites it, as for keyword hits).
        return [ScoredChunk(chunk=found[cid], dense=cos, score=cos) for cid, cos in nearest if cid in found]

    def _timed(self, stage: str, call: Callable[..., _T], *args: Any) -> _T:
        started = time.perf_counter()
        try:
            return call(*args)
        finally:
            for observe in self.stage_observers:
                observe(stage, time.perf_counter() - started)

    def invalidate(self) -> None:
        """Drop caches after the index changed."""
        if self._keyword:
            self._keyword.invalidate()


def fuse(dense: Sequence[ScoredChunk], keyword: Sequence[ScoredChunk], weight: float) -> list[ScoredChunk]:
    """Merge two candidate lists by chunk id; score = cosine + weight * normalised BM25 (less RELEASE_NOTES_PENALTY
    for a chunk of release notes).

    A chunk that only BM25 found was outside the dense top-N, so its cosine is at most the lowest one seen: use
    that as a conservative estimate rather than 0, which would bury every keyword-only hit.
    """
    floor = min((d.dense for d in dense), default=0.0)
    merged: dict[str, ScoredChunk] = {d.chunk.chunk_id: d.model_copy() for d in dense}
    for kw in keyword:
        hit = merged.get(kw.chunk.chunk_id)
        if hit is None:
            merged[kw.chunk.chunk_id] = hit = kw.model_copy()
            hit.dense = floor  # set on the copy: model_copy(update=...) cost 7 us a hit, this 1
        else:
            hit.keyword = kw.keyword
    out = list(merged.values())
    for hit in out:
        hit.score = hit.dense + weight * hit.keyword - (RELEASE_NOTES_PENALTY if is_release_notes(hit.chunk) else 0.0)
    out.sort(key=lambda h: (-h.score, h.chunk.chunk_id))
    return out


def is_release_notes(chunk: Chunk) -> bool:
    """Whether a chunk is part of release notes: its page's title or a heading above it says so. Only articles: an
    escalation's title is a customer's subject ("News feed is empty")."""
    return chunk.kind == "article" and _release_notes_heading(chunk.title, chunk.heading_path)


@lru_cache(maxsize=8192)
def _release_notes_heading(title: str, heading_path: str) -> bool:
    # Cached: every fusion asks this of ~80 candidates, whose few hundred distinct headings repeat from ask to ask
    # (the searches were 0.23 of fusion's 0.34 ms at 10,000 chunks).
    return bool(_RELEASE_NOTES.search(title)) or any(_RELEASE_NOTES.search(part) for part in heading_path.split(" > "))


def rank_sources(chunks: Sequence[ScoredChunk], k: int) -> list[SourceHit]:
    """Group ranked chunks by source; a source scores as its best chunk."""
    by_source: dict[str, list[ScoredChunk]] = {}
    for hit in chunks:  # already sorted best first
        by_source.setdefault(hit.chunk.source_id, []).append(hit)
    hits = [
        SourceHit(
            source_id=sid,
            title=group[0].chunk.title,
            url=group[0].chunk.url,
            kind=group[0].chunk.kind,
            score=group[0].score,
            dense=max(h.dense for h in group),
            chunks=group[:CHUNKS_PER_SOURCE],
        )
        for sid, group in by_source.items()
    ]
    hits.sort(key=by_score)
    return hits[:k]
