"""Pages that may help an escalated asker while they wait: the standard help-desk deflection. Pure.

A suggestion points at a page and says nothing about it (no quoted text): deflect could not vouch for an answer,
so it names where to read, not what to do. Only sources the asker may see, only those about the question."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from deflect.domain.models import SourceHit, Suggestion

SUGGEST_MAX = 3


def suggested_pages(
    hits: Sequence[SourceHit], visible: Collection[str], relevance_floor: float, limit: int = SUGGEST_MAX
) -> list[Suggestion]:
    """Up to `limit` of the ranked hits, in rank order, whose every chunk the asker may see (`visible`: the
    audience's content audiences) and whose cosine clears `relevance_floor` (below it nothing is about the
    question). The audience check repeats the retriever's filter on purpose: a customer must never be pointed at an
    internal page, whatever fed the hits."""
    pages: list[Suggestion] = []
    for hit in hits:
        if len(pages) >= limit:
            break
        if not hit.chunks or any(c.chunk.audience not in visible for c in hit.chunks):
            continue
        if hit.dense < relevance_floor:
            continue
        best = hit.chunks[0].chunk  # retrieval keeps a source's chunks best first
        # A resolved escalation's sections (question, resolution) are its record's structure, not a place to read.
        heading = best.heading_path if best.kind == "article" else ""
        pages.append(Suggestion(source_id=hit.source_id, title=hit.title, url=hit.url, heading=heading))
    return pages
