"""with_openings: each article passed to an answer gets its page's opening (the text before its first heading) from
the index, read with the asker's audience filter, unless retrieval already returned it or the page has none."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from deflect.domain.models import Chunk, ScoredChunk, SourceHit
from deflect.errors import IndexUnavailable
from deflect.retrieval.openings import opens_page, with_openings
from deflect.testing import HashEmbedder, InMemoryIndex
from deflect.testing.contracts import PUBLIC
from deflect.testing.keyword import InMemoryKeywordIndex

OPENING = "To use this tool, you must specify `--tool=tracer` on the command line."
COUNTS = "Tracer counts every call made by each function and writes the counts to `tracer.out.<pid>`."


def chunk(
    source_id: str, n: int, text: str, heading: str = "", audience: str = "public", kind: str = "article"
) -> Chunk:
    return Chunk(
        chunk_id=f"{source_id}#{n}",
        source_id=source_id,
        kind=kind,  # type: ignore[arg-type]
        title="7. Tracer: a call profiler",
        heading_path=heading,
        audience=audience,  # type: ignore[arg-type]
        text=text,
        origin=f"{source_id}.html",
        source_hash="hash",
        source_chunks=3,
    )


def indexed(*chunks: Chunk) -> InMemoryIndex:
    index = InMemoryIndex()
    index.upsert(list(chunks), HashEmbedder().embed([c.text for c in chunks]))
    return index


def hit(*chunks: Chunk) -> SourceHit:
    first = chunks[0]
    return SourceHit(
        source_id=first.source_id,
        title=first.title,
        url="",
        kind=first.kind,
        score=0.7,
        dense=0.7,
        chunks=[ScoredChunk(chunk=c, dense=0.7, score=0.7) for c in chunks],
    )


def tracer_page(audience: str = "public") -> list[Chunk]:
    return [
        chunk("doc:tracer", 0, OPENING, audience=audience),
        chunk("doc:tracer", 1, "Tracer is a call profiler.", "7.1. Overview", audience),
        chunk("doc:tracer", 2, COUNTS, "7.2. Using Tracer > 7.2.3. Call counts", audience),
    ]


def test_an_article_answered_from_a_later_section_gets_its_pages_opening() -> None:
    page = tracer_page()
    sources = [hit(page[2])]

    out = with_openings(indexed(*page), sources, frozenset({"public"}))

    assert out[0].opening == page[0]
    assert out[0].chunks == sources[0].chunks, "the retrieved chunks are unchanged"
    assert sources[0].opening is None, "the caller's hits are not modified"


def test_no_opening_is_fetched_when_retrieval_returned_it() -> None:
    page = tracer_page()

    out = with_openings(indexed(*page), [hit(page[2], page[0])], frozenset({"public"}))

    assert out[0].opening is None


def test_a_page_that_starts_with_a_section_has_no_opening() -> None:
    page = [chunk("doc:faq", 0, "Valgrind is pronounced with a short i.", "1. Background > How do you say it?")]
    page.append(chunk("doc:faq", 1, COUNTS, "2. Profiling > Where do the counts go?"))

    out = with_openings(indexed(*page), [hit(page[1])], frozenset({"public"}))

    assert out[0].opening is None
    assert not opens_page(page[0])


def test_the_opening_is_read_with_the_askers_audience() -> None:
    # Not reachable through real ingestion (a page has one audience), but the read must filter all the same.
    page = tracer_page()
    page[0] = chunk("doc:tracer", 0, OPENING, audience="internal")

    out = with_openings(indexed(*page), [hit(page[2])], frozenset({"public"}))

    assert out[0].opening is None


def test_escalations_get_no_opening() -> None:
    first = chunk("esc:1042", 0, "Customer: it fails.\n\nResolution: run `tally verify`.", kind="escalation")
    second = chunk("esc:1042", 1, "More of the resolution.", kind="escalation")
    index = indexed(first, second)

    out = with_openings(index, [hit(second)], frozenset({"public"}))

    assert out[0].opening is None


class CountingIndex(InMemoryIndex):
    """Records every chunk read: what it filtered on."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[tuple[object, object]] = []

    def chunks(self, *args: Any, **kwargs: Any) -> list[Chunk]:
        self.reads.append((kwargs.get("source_ids"), kwargs.get("chunk_ids")))
        return super().chunks(*args, **kwargs)


def test_the_openings_of_all_sources_are_read_by_id_in_one_read() -> None:
    # A manual's chapter has hundreds of chunks: reading whole pages cost ~20 ms per ask on valgrind.
    tracer = tracer_page()
    other = [chunk("doc:probe", 0, "To use it, run `probe --all` first."), chunk("doc:probe", 1, COUNTS, "Counts")]
    index = CountingIndex()
    index.upsert(tracer + other, HashEmbedder().embed([c.text for c in tracer + other]))

    out = with_openings(index, [hit(tracer[2]), hit(other[1])], frozenset({"public"}))

    assert [s.opening for s in out] == [tracer[0], other[0]]
    assert index.reads == [(None, {"doc:tracer#0", "doc:probe#0"})]


def test_neighbours_are_read_with_the_openings_in_the_same_read_and_given_to_their_own_source() -> None:
    tracer = tracer_page()
    other = [chunk("doc:probe", 0, "To use it, run `probe --all` first."), chunk("doc:probe", 1, COUNTS, "Counts")]
    index = CountingIndex()
    index.upsert(tracer + other, HashEmbedder().embed([c.text for c in tracer + other]))

    out = with_openings(index, [hit(tracer[2]), hit(other[0])], frozenset({"public"}), {"doc:tracer#1", "doc:probe#1"})

    assert index.reads == [(None, {"doc:tracer#0", "doc:tracer#1", "doc:probe#1"})], "one read; probe#0 was retrieved"
    assert [s.context for s in out] == [[tracer[1]], [other[1]]]
    assert out[0].opening == tracer[0]


def test_neighbours_alone_are_read_without_openings_and_with_the_askers_audience() -> None:
    page = tracer_page()
    page[1] = chunk("doc:tracer", 1, "Tracer is a call profiler.", "7.1. Overview", audience="internal")
    index = CountingIndex()
    index.upsert(page, HashEmbedder().embed([c.text for c in page]))

    out = with_openings(index, [hit(page[2])], frozenset({"public"}), {"doc:tracer#1"}, openings=False)

    assert index.reads == [(None, {"doc:tracer#1"})]
    assert out[0].opening is None and out[0].context == [], "an internal neighbour is not given to a customer"


def test_nothing_wanted_reads_nothing() -> None:
    index = CountingIndex()

    out = with_openings(index, [hit(tracer_page()[2])], frozenset({"public"}), (), openings=False)

    assert index.reads == [] and out[0].context == []


def test_the_chunks_after_the_first_sources_retrieved_ones_are_read_in_the_same_read() -> None:
    page = [*tracer_page(), chunk("doc:tracer", 3, "To count calls, run `tally --tool=tracer prog`.", "7.2. Using")]
    page = [c.model_copy(update={"source_chunks": 4}) for c in page]
    other = [chunk("doc:probe", 0, "To use it, run `probe --all` first."), chunk("doc:probe", 1, COUNTS, "Counts")]
    index = CountingIndex()
    index.upsert(page + other, HashEmbedder().embed([c.text for c in page + other]))

    out = with_openings(index, [hit(page[1]), hit(other[0])], frozenset({"public"}), following=2)

    assert index.reads == [(None, {"doc:tracer#0", "doc:tracer#2", "doc:tracer#3"})], "one read, first source only"
    assert out[0].following == [page[2], page[3]], "in page order"
    assert out[1].following == []


def test_following_chunks_stop_at_the_pages_end_and_skip_retrieved_ones() -> None:
    page = tracer_page()
    index = CountingIndex()
    index.upsert(page, HashEmbedder().embed([c.text for c in page]))

    out = with_openings(index, [hit(page[1], page[2])], frozenset({"public"}), openings=False, following=3)

    assert index.reads == [], "#2 was retrieved and the page has three chunks: nothing to read"
    assert out[0].following == []


def test_an_internal_following_chunk_is_not_given_to_a_customer() -> None:
    page = tracer_page()
    page[2] = chunk("doc:tracer", 2, COUNTS, "7.1. Overview", audience="internal")
    index = indexed(*page)

    out = with_openings(index, [hit(page[1])], frozenset({"public"}), openings=False, following=1)

    assert out[0].following == []


def sections_page(audience: str = "public") -> list[Chunk]:
    """A help article of short sections, one chunk each."""
    texts = ["Webhooks tell your server what happened.", "1. Open Settings.\n2. Click Add.", "| Event |\n|---|\n| a |"]
    texts += ["Answer within 10 seconds.", "Failed deliveries are retried."]
    headings = ["", "How to create a webhook", "Available webhook events", "Endpoint requirements", "Failures"]
    return [
        chunk("doc:hooks", n, text, heading, audience).model_copy(update={"source_chunks": len(texts)})
        for n, (text, heading) in enumerate(zip(texts, headings, strict=True))
    ]


def test_the_chunks_next_to_the_first_sources_retrieved_ones_are_read_in_the_same_read() -> None:
    page = sections_page()
    other = [chunk("doc:probe", 0, "To use it, run `probe --all` first."), chunk("doc:probe", 1, COUNTS, "Counts")]
    index = CountingIndex()
    index.upsert(page + other, HashEmbedder().embed([c.text for c in page + other]))

    out = with_openings(index, [hit(page[3], page[1]), hit(other[1])], frozenset({"public"}), openings=False, nearby=1)

    assert index.reads == [(None, {"doc:hooks#0", "doc:hooks#2", "doc:hooks#4"})], "one read, first source only"
    assert out[0].nearby == [page[0], page[2], page[4]], "in page order, the retrieved ones not again"
    assert out[1].nearby == []


def test_nearby_chunks_stop_at_the_pages_ends() -> None:
    page = sections_page()
    index = CountingIndex()
    index.upsert(page, HashEmbedder().embed([c.text for c in page]))

    out = with_openings(index, [hit(page[0])], frozenset({"public"}), openings=False, nearby=2)

    assert out[0].nearby == [page[1], page[2]], "nothing before the first chunk"


def test_an_internal_nearby_chunk_is_not_given_to_a_customer_and_escalations_get_none() -> None:
    page = sections_page()
    page[2] = page[2].model_copy(update={"audience": "internal"})
    case = [chunk("esc:7", n, f"Part {n} of the case.", kind="escalation") for n in range(3)]
    index = indexed(*page, *case)

    out = with_openings(index, [hit(page[1])], frozenset({"public"}), openings=False, nearby=1)
    escalation = with_openings(index, [hit(case[1])], frozenset({"public"}), openings=False, nearby=1)

    assert out[0].nearby == [page[0]]
    assert escalation[0].nearby == []


class CountingKeyword(InMemoryKeywordIndex):
    """A keyword index that records the ids of every read by id (or fails them, when `fail`)."""

    def __init__(self, *chunks: Chunk, fail: bool = False) -> None:
        super().__init__()
        self.upsert(list(chunks))
        self.reads: list[set[str]] = []
        self.fail = fail

    def chunks(self, chunk_ids: Collection[str], audiences: frozenset[str]) -> list[Chunk]:
        self.reads.append(set(chunk_ids))
        if self.fail:
            raise IndexUnavailable("the keyword index failed while reading: database is locked")
        return super().chunks(chunk_ids, audiences)


def both(*chunks: Chunk) -> tuple[CountingIndex, CountingKeyword]:
    index = CountingIndex()
    index.upsert(list(chunks), HashEmbedder().embed([c.text for c in chunks]))
    return index, CountingKeyword(*chunks)


def test_with_a_keyword_index_the_one_read_goes_there_and_gives_what_the_vector_index_gives() -> None:
    page = [*sections_page(), *tracer_page()]
    index, keyword = both(*page)
    sources = [hit(page[3]), hit(page[7])]
    wanted = {"doc:hooks#2", "doc:tracer#1"}

    out = with_openings(index, sources, PUBLIC, wanted, following=2, nearby=1, keyword=keyword)
    before = with_openings(index, sources, PUBLIC, wanted, following=2, nearby=1)

    ids = {"doc:hooks#0", "doc:hooks#2", "doc:hooks#4", "doc:tracer#0", "doc:tracer#1"}
    assert keyword.reads == [ids]
    assert index.reads == [(None, ids)], "only the read made without the keyword index"
    assert out == before
    assert out[0].nearby and out[0].following and out[1].opening and out[1].context


def test_ids_the_keyword_index_lacks_are_read_from_the_vector_index() -> None:
    # An index from before the keyword index (not yet backfilled), or a crash between the two writes.
    page = tracer_page()
    index, _ = both(*page)
    keyword = CountingKeyword(page[1])

    out = with_openings(index, [hit(page[2])], PUBLIC, {"doc:tracer#1"}, keyword=keyword)

    assert keyword.reads == [{"doc:tracer#0", "doc:tracer#1"}]
    assert index.reads == [(None, {"doc:tracer#0"})], "the vector index is asked only for what the other lacks"
    assert out[0].opening == page[0] and out[0].context == [page[1]]


def test_a_chunk_the_keyword_index_holds_at_another_version_of_its_page_is_read_from_the_vector_index() -> None:
    # A page being ingested again: the vector index is written first, so for a moment the keyword index lags.
    page = tracer_page()
    index, _ = both(*page)
    stale = page[0].model_copy(update={"text": "To use this tool, type `tracer`.", "source_hash": "older"})
    keyword = CountingKeyword(stale, page[1])

    out = with_openings(index, [hit(page[2])], PUBLIC, keyword=keyword)

    assert index.reads == [(None, {"doc:tracer#0"})]
    assert out[0].opening == page[0]


def test_a_failing_keyword_index_leaves_the_whole_read_to_the_vector_index() -> None:
    page = tracer_page()
    index, _ = both(*page)
    keyword = CountingKeyword(*page, fail=True)

    out = with_openings(index, [hit(page[2])], PUBLIC, {"doc:tracer#1"}, keyword=keyword)

    assert index.reads == [(None, {"doc:tracer#0", "doc:tracer#1"})]
    assert out[0].opening == page[0] and out[0].context == [page[1]]


def test_the_keyword_index_is_read_with_the_askers_audience() -> None:
    page = tracer_page()
    page[0] = chunk("doc:tracer", 0, OPENING, audience="internal")
    index, keyword = both(*page)

    out = with_openings(index, [hit(page[2])], PUBLIC, keyword=keyword)

    assert out[0].opening is None
    assert index.reads == [(None, {"doc:tracer#0"})], "absent for this audience: the vector index is asked too"
