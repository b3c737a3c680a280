"""Pages that may help an escalated asker while they wait: the standard help-desk deflection. Pure.

A suggestion points at a page: deflect could not vouch for an answer, so it names where to read. Only sources the
asker may see, only those about the question. The first page may also carry an excerpt (`page_excerpt`): the
passages an extractive answer would quote from that page alone, shown as a quotation from the docs, not as
deflect's answer (the escalation stands and a person still follows up)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from deflect.domain.models import Answer, SourceHit, Suggestion

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


def page_excerpt(
    question: str, page: Suggestion, hits: Sequence[SourceHit], generate: Callable[[str, list[SourceHit]], Answer]
) -> str:
    """What `generate` (the extractive generator) quotes for the question from the page's own hit ALONE, so it can
    only quote that page, which `suggested_pages` already checked the asker may see; empty when the page is not
    among `hits`, nothing was quoted, or the answer cites anything else (it cannot: one source in, one out)."""
    hit = next((h for h in hits if h.source_id == page.source_id), None)
    if hit is None:
        return ""
    answer = generate(question, [hit])
    if not answer.text or not answer.citations or any(c.source_id != page.source_id for c in answer.citations):
        return ""
    return answer.text
