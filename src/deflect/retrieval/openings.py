"""The opening of each page an answer may quote from, read from the index when retrieval did not return it.

A manual's chapter often says once, before its first section, how to start what the chapter describes ("To use
this tool, you must specify `--tool=massif` on the Valgrind command line."); a question is then answered from a later
section that never repeats it. The answer may add the opening (deflect.answer.extractive), so it is fetched here:
one read by id (`<source id>#0`, the ingest's naming) of the first chunks of the articles passed on, with the asker's
audience filter. Reading each whole page instead cost ~20 ms per ask on valgrind's 200-chunk chapters.

For a how-to question it also brings the chunks right after the first source's retrieved ones: a section's
example (the code a customer types) often sits a chunk or two after the prose that retrieval matched.

For every question it brings the chunks right before and after the first source's retrieved ones: on a help article
of short sections, the section that answers often sits next to the ones retrieval ranked first ("Who to contact"
beside the introduction of a "Workspace is read-only" page).

The same read brings the neighbours an answer needs to quote a passage whole that a chunk boundary cut
(deflect.answer.passages.neighbours_wanted): asked by id with the openings, so an ask still reads the index at most
once more (a Chroma `get` by a few ids).

That read goes to the keyword index when there is one (`KeywordIndex.chunks`): it holds every chunk as written,
kept in step with the vector index chunk by chunk, and a lookup of a few ids there costs a fraction of a Chroma `get`
(~3 ms a read inside the server, issue 13). Exact, not a cache: a chunk is taken from it only at the version
(source hash) of its page's retrieved chunks; ids it does not hold (an index from before the keyword index, not yet
backfilled; a crash between the two writes) or holds at another version (a page being re-ingested) are read from
the vector index, the manifest of record, as before.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence

from deflect.domain.models import Chunk, SourceHit, chunk_id, chunk_number
from deflect.domain.ports import Index, KeywordIndex
from deflect.errors import IndexUnavailable

log = logging.getLogger(__name__)

# How many chunks after each of the first source's retrieved chunks a how-to answer reads for its section's example.
# Chosen on the tune questions (odd ids) of SQLite and valgrind, replaying the answer step: 2, 3 or 5 changed no
# answer; at 8 SQLite's "recursive query" answer reaches the `WITH RECURSIVE` example of its subsection, seven chunks
# after the prose retrieval found (docs/retrieval.md, session 10). By id, so a few more ids cost little.
FOLLOWING = 8
# How many chunks before and after each of the first source's retrieved ones every answer reads as candidates. 1 and
# 2 gave the kb's tune half the same facts (docs/retrieval.md, session 12); each more id is one more key to look up.
NEARBY = 1


def with_openings(
    index: Index,
    sources: Sequence[SourceHit],
    audiences: frozenset[str],
    neighbours: Collection[str] = (),
    openings: bool = True,
    following: int = 0,
    nearby: int = 0,
    keyword: KeywordIndex | None = None,
) -> list[SourceHit]:
    """`sources` with each article's opening attached (unless retrieval already returned it, the page has none or
    `openings` is off), the chunks named in `neighbours` that belong to it as its `context`, and for the first source
    the `following` chunks after each of its retrieved ones as its `following` and the `nearby` chunks before or after
    them as its `nearby`; one read (from `keyword` when given, see the module's docstring), none when nothing is
    wanted."""
    wanted = (
        {
            s.source_id: chunk_id(s.source_id, 0)
            for s in sources
            if s.kind == "article" and not any(chunk_number(c.chunk.chunk_id) == 0 for c in s.chunks)
        }
        if openings
        else {}
    )
    after = _around(sources[0], 1, following) if sources and following else set()
    near = _around(sources[0], -nearby, nearby) if sources and nearby else set()
    ids = set(wanted.values()) | set(neighbours) | after | near
    found = read_chunks(index, keyword, ids, audiences, sources) if ids else {}
    out = []
    for source in sources:
        update: dict[str, object] = {}
        first = found.get(wanted.get(source.source_id, ""))
        if first is not None and first.source_id == source.source_id and opens_page(first):
            update["opening"] = first
        for field, asked in (("context", neighbours), ("following", after), ("nearby", near)):
            mine = [found[i] for i in sorted(asked, key=chunk_number) if i in found]
            mine = [c for c in mine if c.source_id == source.source_id]
            if mine:
                update[field] = mine
        out.append(source.model_copy(update=update) if update else source)
    return out


def read_chunks(
    index: Index,
    keyword: KeywordIndex | None,
    ids: Collection[str],
    audiences: frozenset[str],
    sources: Sequence[SourceHit],
) -> dict[str, Chunk]:
    """The chunks of `ids` the audiences may see, by id: from `keyword` those of a source in `sources` at the version
    of its retrieved chunks, the rest (all of them without `keyword`) from `index`."""
    found: dict[str, Chunk] = {}
    if keyword is not None:
        versions: dict[str, set[str]] = {}
        for source in sources:
            versions.setdefault(source.source_id, set()).update(c.chunk.source_hash for c in source.chunks)
        try:
            held = keyword.chunks(ids, audiences)
        except IndexUnavailable as exc:  # the vector index may still answer: read it all there
            log.warning("reading openings from the vector index: %s", exc.message)
            held = []
        found = {c.chunk_id: c for c in held if c.chunk_id in ids and c.source_hash in versions.get(c.source_id, ())}
    rest = set(ids) - found.keys()
    if rest:
        found |= {c.chunk_id: c for c in index.chunks(audiences=audiences, chunk_ids=rest)}
    return found


def opens_page(chunk: Chunk) -> bool:
    """An article's first chunk, before any heading (a page that starts with a section has no opening; an
    escalation has no headings at all, and its first chunk is the case, not an opening)."""
    return chunk.kind == "article" and chunk_number(chunk.chunk_id) == 0 and not chunk.heading_path


def _around(source: SourceHit, first: int, last: int) -> set[str]:
    """Ids of the chunks `first` to `last` places from each retrieved chunk of an article (within the page), not
    retrieved themselves; whether they are in that chunk's section only their headings tell, once read
    (deflect.answer.extractive)."""
    if source.kind != "article":
        return set()
    have = {c.chunk.chunk_id for c in source.chunks}
    return {
        chunk_id(source.source_id, n + k)
        for c in source.chunks
        for n in (chunk_number(c.chunk.chunk_id),)
        for k in range(first, last + 1)
        if n >= 0 and 0 <= n + k < c.chunk.source_chunks
    } - have
