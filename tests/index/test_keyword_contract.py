"""The KeywordIndex contract against the in-memory fake and SQLite FTS5 (PostgreSQL: tests/integration)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from deflect.domain.ports import KeywordIndex
from deflect.index.keyword import SqliteKeywordIndex, fts_rows
from deflect.store.keyword import PostgresKeywordIndex
from deflect.testing.contracts import EVERYONE, make_chunk
from deflect.testing.keyword import InMemoryKeywordIndex
from deflect.testing.keyword_contract import KeywordIndexContract


class TestInMemoryKeywordIndex(KeywordIndexContract):
    @pytest.fixture
    def make_index(self) -> Callable[[], KeywordIndex]:
        return InMemoryKeywordIndex


class TestSqliteKeywordIndex(KeywordIndexContract):
    @pytest.fixture
    def make_index(self, tmp_path: Path) -> Callable[[], KeywordIndex]:
        return lambda: SqliteKeywordIndex(tmp_path / f"{uuid.uuid4().hex}.sqlite3")

    @pytest.fixture
    def reopen(self) -> Callable[[KeywordIndex], KeywordIndex]:
        def again(index: KeywordIndex) -> KeywordIndex:
            assert isinstance(index, SqliteKeywordIndex)
            return SqliteKeywordIndex(index.path)

        return again

    def test_the_row_count_read_from_fts5_is_the_chunk_count(self, make_index: Callable[[], KeywordIndex]) -> None:
        index = make_index()
        assert isinstance(index, SqliteKeywordIndex)
        assert fts_rows(index._conn()) == 0
        index.upsert([make_chunk(f"c{i}#0", text=f"chunk {i}") for i in range(300)])  # past one varint byte
        index.upsert([make_chunk("c1#0", text="replaced")])
        index.delete_chunks(["c2#0", "c3#0", "missing#0"])

        assert fts_rows(index._conn()) == index.count() == 298

    def test_terms_in_half_the_chunks_or_more_are_left_out_of_the_match_and_change_no_ranking(
        self, make_index: Callable[[], KeywordIndex]
    ) -> None:
        index = make_index()
        assert isinstance(index, SqliteKeywordIndex)
        chunks = [make_chunk(f"use{i:02d}#0", text=f"use the tool for report number {i}") for i in range(12)]
        chunks += [
            make_chunk("exp#0", text="use the exporter to write a csv report"),
            make_chunk("exp#1", text="the exporter stalls on large files"),
            make_chunk("csv#0", text="csv files open in any spreadsheet", audience="internal"),
        ]
        chunks += [make_chunk(f"other{i}#0", text=f"billing page {i}") for i in range(6)]
        index.upsert(chunks)
        oracle = InMemoryKeywordIndex()  # plain BM25 over every term, FTS5's constants
        oracle.upsert(chunks)
        matches: list[str] = []
        index._conn().set_trace_callback(lambda sql: matches.append(sql) if "MATCH" in sql else None)

        for question in ("how do I use the exporter for a csv report", "use the exporter"):
            got = index.search(question, 10, EVERYONE)
            # "use" (12 of 21 chunks) weighs 1e-6 in FTS5's bm25 and in the oracle: only its near-zero matches go.
            expected = [h for h in oracle.search(question, 40, EVERYONE) if h.keyword > 1e-4][:10]
            assert [h.chunk.chunk_id for h in got] == [h.chunk.chunk_id for h in expected], question
            assert [h.keyword for h in got] == pytest.approx([h.keyword for h in expected], rel=1e-4)
        assert matches and not any('"use"' in sql for sql in matches)

        # Every term that common: kept, so the ranking is still FTS5's own over all of them.
        matches.clear()
        alone = index.search("use", 20, EVERYONE)
        assert {h.chunk.chunk_id for h in alone} == {f"use{i:02d}#0" for i in range(12)} | {"exp#0"}
        assert any('"use"' in sql for sql in matches)
        assert index.search("nothing matches this", 5, EVERYONE) == []

    def test_the_rarest_terms_are_searched_within_the_row_budget(
        self, make_index: Callable[[], KeywordIndex], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        index = make_index()
        assert isinstance(index, SqliteKeywordIndex)
        held = {"alpha": 2, "beta": 3, "gamma": 4}  # rows holding each term, all below half of the 30 chunks
        chunks = [make_chunk(f"{w}{i}#0", text=f"{w} note {i}") for w, n in held.items() for i in range(n)]
        chunks += [make_chunk(f"filler{i}#0", text=f"billing page {i}") for i in range(30 - len(chunks))]
        index.upsert(chunks)
        oracle = InMemoryKeywordIndex()
        oracle.upsert(chunks)
        matches: list[str] = []
        index._conn().set_trace_callback(lambda sql: matches.append(sql) if "MATCH" in sql else None)

        monkeypatch.setattr("deflect.index.keyword.ROW_BUDGET", 5)  # alpha and beta fill it exactly
        got = index.search("gamma beta alpha", 10, EVERYONE)
        assert [h.chunk.chunk_id for h in got] == [h.chunk.chunk_id for h in oracle.search("alpha beta", 10, EVERYONE)]
        assert {h.chunk.chunk_id.rstrip("0123456789#") for h in got} == {"alpha", "beta"}
        assert '"alpha" OR "beta"' in matches[-1] and "gamma" not in matches[-1]

        monkeypatch.setattr("deflect.index.keyword.ROW_BUDGET", 1)  # below the rarest: it alone
        assert {h.chunk.chunk_id for h in index.search("gamma beta alpha", 10, EVERYONE)} == {"alpha0#0", "alpha1#0"}

        monkeypatch.setattr("deflect.index.keyword.ROW_BUDGET", 9)  # room for all: BM25 over every term
        got = index.search("gamma beta alpha", 10, EVERYONE)
        expected = oracle.search("gamma beta alpha", 10, EVERYONE)
        assert [h.chunk.chunk_id for h in got] == [h.chunk.chunk_id for h in expected]
        assert [h.keyword for h in got] == pytest.approx([h.keyword for h in expected], rel=1e-4)


@pytest.mark.integration
class TestPostgresKeywordIndex(KeywordIndexContract):
    """On the session's PostgreSQL (tests/conftest.py `postgres_url`); a collection per index keeps them apart."""

    @pytest.fixture
    def opened(self) -> Iterator[list[PostgresKeywordIndex]]:
        handles: list[PostgresKeywordIndex] = []
        yield handles
        for handle in handles:
            handle.close()

    @pytest.fixture
    def make_index(self, postgres_url: str, opened: list[PostgresKeywordIndex]) -> Callable[[], KeywordIndex]:
        def make(collection: str | None = None) -> PostgresKeywordIndex:
            opened.append(PostgresKeywordIndex(postgres_url, collection or f"c-{uuid.uuid4().hex}"))
            return opened[-1]

        return make

    @pytest.fixture
    def reopen(self, make_index: Callable[..., KeywordIndex]) -> Callable[[KeywordIndex], KeywordIndex]:
        def again(index: KeywordIndex) -> KeywordIndex:
            assert isinstance(index, PostgresKeywordIndex)
            return make_index(index.collection)

        return again

    def test_a_collection_written_before_the_statistics_tables_is_counted_when_opened(
        self, make_index: Callable[..., KeywordIndex], postgres_url: str
    ) -> None:
        index = make_index()
        assert isinstance(index, PostgresKeywordIndex)
        index.upsert([make_chunk(f"c{i}#0", text=f"account settings page {i}") for i in range(5)])
        index.upsert([make_chunk("rare#0", text="the SAML certificate expired", audience="internal")])
        before = [(h.chunk.chunk_id, h.keyword) for h in index.search("saml account page", 10, EVERYONE)]
        engine = create_engine(postgres_url)
        with engine.begin() as conn:  # as the former code left it: chunks, and no statistics
            for table in ("keyword_stats", "keyword_terms"):
                conn.execute(text(f"DELETE FROM {table} WHERE collection = :c"), {"c": index.collection})
        engine.dispose()

        again = make_index(index.collection)

        assert again.count() == 6
        assert [(h.chunk.chunk_id, h.keyword) for h in again.search("saml account page", 10, EVERYONE)] == before


def test_processes_opening_a_new_keyword_file_at_once_all_start_and_write(tmp_path: Path) -> None:
    """Workers starting together on a fresh data folder: every one opens the file and its writes all land."""
    import multiprocessing

    path = tmp_path / "shared.sqlite3"
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_open_and_write, args=(path, n)) for n in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)

    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    assert SqliteKeywordIndex(path).count() == 4 * 25


def _open_and_write(path: Path, n: int) -> None:
    from deflect.testing.contracts import make_chunk

    index = SqliteKeywordIndex(path)
    for i in range(25):
        index.upsert([make_chunk(f"w{n}-{i}#0", text=f"worker {n} chunk {i}")])
