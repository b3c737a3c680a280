"""The opening of each page an answer may quote from, read from the index when retrieval did not return it.

A manual's chapter often says once, before its first section, how to start what the chapter describes ("To use
this tool, you must specify `--tool=massif` on the Valgrind command line."); a question is then answered from a later
section that never repeats it. The answer may add the opening (deflect.answer.extractive), so it is fetched here:
one read of the page's chunks from the index, with the asker's audience filter, for each article passed on.
"""

from __future__ import annotations

from collections.abc import Sequence

from deflect.domain.models import Chunk, SourceHit
from deflect.domain.ports import Index


def with_openings(index: Index, sources: Sequence[SourceHit], audiences: frozenset[str]) -> list[SourceHit]:
    """`sources` with each article's opening attached, unless retrieval already returned it or the page has none."""
    out = []
    for source in sources:
        if source.kind == "article" and not any(_number(c.chunk) == 0 for c in source.chunks):
            first = min(index.chunks(audiences=audiences, source_ids=[source.source_id]), key=_number, default=None)
            if first is not None and opens_page(first):
                source = source.model_copy(update={"opening": first})
        out.append(source)
    return out


def opens_page(chunk: Chunk) -> bool:
    """The page's first chunk, before any heading (a page that starts with a section has no opening)."""
    return _number(chunk) == 0 and not chunk.heading_path


def _number(chunk: Chunk) -> int:
    """Chunk ids are `<source id>#<n>`."""
    n = chunk.chunk_id.rpartition("#")[2]
    return int(n) if n.isdigit() else -1
