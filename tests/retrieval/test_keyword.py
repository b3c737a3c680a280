"""Keyword search as the retriever uses it: the shared keyword index, backfilled once from an index built before it."""

from __future__ import annotations

from pathlib import Path

from deflect.domain.models import Chunk
from deflect.index.keyword import SqliteKeywordIndex
from deflect.retrieval.keyword import KeywordSearch, backfill
from deflect.testing import HashEmbedder, InMemoryIndex
from deflect.testing.contracts import make_chunk
from deflect.testing.keyword import InMemoryKeywordIndex

PUBLIC = frozenset({"public"})


def index_of(chunks: list[Chunk]) -> InMemoryIndex:
    index = InMemoryIndex()
    index.upsert(chunks, HashEmbedder().embed([c.text for c in chunks]))
    return index


CHUNKS = [make_chunk(f"doc{i}#0", text=f"topic{i} shared words about invoices") for i in range(25)]


def test_the_first_search_backfills_an_empty_keyword_index_from_the_vector_index_in_pages(tmp_path: Path) -> None:
    index = index_of(CHUNKS)
    keyword = SqliteKeywordIndex(tmp_path / "kw.sqlite3")
    search = KeywordSearch(keyword, index)

    hits = search.search("topic7", 5, PUBLIC)

    assert [h.chunk.chunk_id for h in hits] == ["doc7#0"]
    assert keyword.manifest() == {c.chunk_id: c.source_hash for c in CHUNKS}


def test_backfill_writes_only_what_is_missing_or_stale() -> None:
    index = index_of(CHUNKS)
    keyword = InMemoryKeywordIndex()
    keyword.upsert(CHUNKS[:20])
    keyword.upsert([CHUNKS[3].model_copy(update={"source_hash": "older"})])

    assert backfill(index, keyword, page=4) == 6  # 5 missing + 1 at another hash
    assert keyword.manifest() == {c.chunk_id: c.source_hash for c in CHUNKS}
    assert backfill(index, keyword, page=4) == 0


def test_a_full_keyword_index_is_not_read_back_and_later_writes_are_searchable_at_once() -> None:
    index = index_of(CHUNKS)
    keyword = InMemoryKeywordIndex()
    keyword.upsert(CHUNKS)
    search = KeywordSearch(keyword, index)
    assert search.search("zebra", 5, PUBLIC) == []

    new = make_chunk("new#0", text="zebra crossings")
    index.upsert([new], HashEmbedder().embed([new.text]))
    keyword.upsert([new])  # what ingestion does, in the same step

    assert [h.chunk.chunk_id for h in search.search("zebra", 5, PUBLIC)] == ["new#0"]
