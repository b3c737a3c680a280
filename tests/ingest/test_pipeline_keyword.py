"""Ingestion keeps the keyword index in step with the vector index, chunk by chunk, and repairs it from there.

Runs on embedded Chroma with SQLite FTS5, the production pair, and on the in-memory fakes.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from deflect.domain.ports import Index, KeywordIndex
from deflect.index.chroma import ChromaIndex
from deflect.index.keyword import SqliteKeywordIndex
from deflect.ingest.chunking import Chunker
from deflect.ingest.pipeline import Ingestor
from deflect.testing import HashEmbedder, InMemoryIndex
from deflect.testing.contracts import make_chunk
from deflect.testing.keyword import InMemoryKeywordIndex

EVERYONE = frozenset({"public", "internal"})
RESET_BODY = """---
title: Resetting your password
audience: public
---
# Resetting your password

Use the Forgot password link on the sign-in page. The zeppelin link expires in an hour.
"""


@pytest.fixture(params=["memory", "chroma+sqlite"])
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Index, KeywordIndex]:
    if request.param == "memory":
        return InMemoryIndex(), InMemoryKeywordIndex()
    return (
        ChromaIndex.embedded(tmp_path / "chroma", f"kw-{uuid.uuid4().hex}", 64),
        SqliteKeywordIndex(tmp_path / "kw.sqlite3"),
    )


def in_step(index: Index, keyword: KeywordIndex) -> bool:
    return keyword.manifest() == {c.chunk_id: c.source_hash for c in index.chunks()}


def test_ingest_writes_edits_and_deletes_keyword_chunks_in_step(pair: tuple[Index, KeywordIndex], kb: Path) -> None:
    index, keyword = pair
    ingestor = Ingestor(index, HashEmbedder(), Chunker(200, 30), keyword)

    ingestor.ingest_paths([kb], kb)
    assert in_step(index, keyword) and keyword.count() > 0
    assert keyword.search("zeppelin", 5, EVERYONE) == []

    (kb / "articles" / "reset-password.md").write_text(RESET_BODY, encoding="utf-8")
    (kb / "articles" / "invoices.html").unlink()
    ingestor.ingest_paths([kb], kb)

    assert in_step(index, keyword)
    assert [h.chunk.source_id for h in keyword.search("zeppelin", 5, EVERYONE)] == ["doc:articles/reset-password"]
    assert "doc:articles/invoices" not in {h.chunk.source_id for h in keyword.search("invoices pdf", 5, EVERYONE)}


def test_a_lost_keyword_index_is_refilled_without_embedding_anything(
    pair: tuple[Index, KeywordIndex], kb: Path
) -> None:
    index, keyword = pair
    embedder = HashEmbedder()
    Ingestor(index, embedder, Chunker(200, 30), keyword).ingest_paths([kb], kb)
    embedded = embedder.texts
    keyword.delete_chunks(list(keyword.manifest())[:3])
    keyword.upsert([make_chunk("gone#0", text="a chunk the vector index never had")])

    report = Ingestor(index, embedder, Chunker(200, 30), keyword).ingest_paths([kb], kb)

    assert report.added == report.updated == 0
    assert embedder.texts == embedded
    assert in_step(index, keyword)


def test_syncing_some_sources_touches_only_their_keyword_chunks(pair: tuple[Index, KeywordIndex], kb: Path) -> None:
    index, keyword = pair
    ingestor = Ingestor(index, HashEmbedder(), Chunker(200, 30), keyword)
    ingestor.ingest_paths([kb], kb)
    other = make_chunk("other#0", text="kept although the vector index lacks it")
    keyword.upsert([other])

    ingestor.sync([])  # the knowledge loop's call, with nothing given: nothing is pruned

    assert "other#0" in keyword.manifest()
