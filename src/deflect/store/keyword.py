"""The KeywordIndex in PostgreSQL: one table of chunks with a `tsvector` of their terms under a GIN index, in the
same database as escalations and the audit log, so every worker on every machine searches the same index.

Terms are stemmed by deflect (`deflect.index.terms`) and written as tsvector literals (no PostgreSQL parser or
dictionary in between), so PostgreSQL matches exactly the words the SQLite index matches. Ranking is BM25 with
FTS5's constants and formula, computed in SQL from a small JSON map of term frequencies, not `ts_rank_cd`: cover
density has no inverse document frequency, so a word on every page counted as much as a rare one (a contract test
caught it), and the fusion weight measured on the embedded index would not carry over. (Reading frequencies from the
tsvector's positions by unnesting it was slower: search p50 50 ms against 29 ms at 10,000 chunks, same run.)

The table belongs to this index, like a Chroma collection to ChromaIndex: it is created when missing, and a
`collection` column keeps indexes of several collections apart.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from deflect.domain.models import Chunk, ScoredChunk
from deflect.errors import IndexUnavailable
from deflect.index.keyword import normalised
from deflect.index.terms import query_terms, terms
from deflect.store.engine import make_engine

SCHEMA = [
    "SELECT pg_advisory_xact_lock(727274)",  # concurrent first starts must not race on CREATE
    """CREATE TABLE IF NOT EXISTS keyword_chunks (
        collection TEXT NOT NULL,
        chunk_id TEXT NOT NULL,
        source_id TEXT NOT NULL,
        source_hash TEXT NOT NULL,
        audience TEXT NOT NULL,
        data TEXT NOT NULL,
        terms TSVECTOR NOT NULL,
        tf JSONB NOT NULL,
        length INTEGER NOT NULL,
        PRIMARY KEY (collection, chunk_id)
    )""",
    "CREATE INDEX IF NOT EXISTS keyword_chunks_terms ON keyword_chunks USING GIN (terms)",
    "CREATE INDEX IF NOT EXISTS keyword_chunks_source ON keyword_chunks (collection, source_id)",
]
BATCH = 500
K1, B = 1.2, 0.75  # SQLite FTS5's bm25() constants


class PostgresKeywordIndex:
    """Chunks of one collection in the `keyword_chunks` table of a PostgreSQL database."""

    def __init__(self, database_url: str, collection: str, timeout_s: float = 30.0) -> None:
        self._engine = make_engine(database_url, timeout_s)
        if self._engine.dialect.name != "postgresql":
            raise ValueError("PostgresKeywordIndex needs a PostgreSQL database URL")
        self.collection = collection
        with self._begin("create its table") as conn:
            for statement in SCHEMA:
                conn.execute(text(statement))

    @contextmanager
    def _begin(self, doing: str) -> Iterator[Connection]:
        try:
            with self._engine.begin() as conn:
                yield conn
        except DBAPIError as exc:
            raise IndexUnavailable(f"the keyword index failed to {doing}: {type(exc.orig).__name__}") from exc

    def upsert(self, chunks: Sequence[Chunk]) -> None:
        """Insert or replace chunks by id, all in one transaction."""
        if not chunks:
            return
        rows = [
            {
                "c": self.collection,
                "id": chunk.chunk_id,
                "source": chunk.source_id,
                "hash": chunk.source_hash,
                "audience": chunk.audience,
                "data": json.dumps(chunk.model_dump(mode="json", exclude={"embed_text"}), ensure_ascii=False),
                **_vector(terms(chunk.text)),
            }
            for chunk in chunks
        ]
        with self._begin("write") as conn:
            conn.execute(
                text(
                    "INSERT INTO keyword_chunks "
                    "(collection, chunk_id, source_id, source_hash, audience, data, terms, tf, length) "
                    "VALUES (:c, :id, :source, :hash, :audience, :data, CAST(:terms AS tsvector), CAST(:tf AS jsonb), "
                    ":length) "
                    "ON CONFLICT (collection, chunk_id) DO UPDATE SET source_id = excluded.source_id, "
                    "source_hash = excluded.source_hash, audience = excluded.audience, data = excluded.data, "
                    "terms = excluded.terms, tf = excluded.tf, length = excluded.length"
                ),
                rows,
            )

    def delete_chunks(self, chunk_ids: Iterable[str]) -> None:
        """Remove chunks by id; unknown ids are ignored."""
        ids = list(chunk_ids)
        if not ids:
            return
        with self._begin("delete") as conn:
            for start in range(0, len(ids), BATCH):
                conn.execute(
                    text("DELETE FROM keyword_chunks WHERE collection = :c AND chunk_id = ANY(:ids)"),
                    {"c": self.collection, "ids": ids[start : start + BATCH]},
                )

    def search(self, query: str, k: int, audiences: frozenset[str]) -> list[ScoredChunk]:
        """Best k chunks of the audiences by BM25 (any query term matches); `keyword` relative to the best."""
        words = query_terms(query)
        if not words or not audiences or k <= 0:
            return []
        # Terms are word characters only: quoted, none of them reads as tsquery syntax.
        params = {"c": self.collection, "q": " | ".join(f"'{w}'" for w in words), "words": words}
        with self._begin("search") as conn:
            # Statistics over the whole collection, as FTS5 keeps them: audiences pick results, not the corpus.
            n, avg = conn.execute(
                text("SELECT count(*), coalesce(avg(length), 1) FROM keyword_chunks WHERE collection = :c"), params
            ).one()
            df: dict[str, int] = dict(
                conn.execute(
                    text(
                        "SELECT w, (SELECT count(*) FROM keyword_chunks "
                        "WHERE collection = :c AND terms @@ CAST(quote_literal(w) AS tsquery)) "
                        "FROM unnest(CAST(:words AS text[])) AS w"
                    ),
                    params,
                ).all()
            )
            idf = [max(1e-6, math.log((n - df[w] + 0.5) / (df[w] + 0.5))) for w in words]
            rows = conn.execute(
                text(
                    # The GIN index finds the matches; term frequencies come from the small `tf` map, which is
                    # much cheaper per match than unnesting the whole tsvector.
                    "SELECT k.data, bm25.s FROM keyword_chunks AS k CROSS JOIN LATERAL ("
                    "SELECT sum(q.idf * f.tf * :k1p1 / (f.tf + :k1 * (1 - :b + :b * k.length / :avg))) AS s "
                    "FROM unnest(CAST(:words AS text[]), CAST(:idf AS float8[])) AS q (term, idf) "
                    "CROSS JOIN LATERAL (SELECT CAST(k.tf ->> q.term AS float8) AS tf) AS f WHERE f.tf IS NOT NULL"
                    ") AS bm25 "
                    "WHERE k.collection = :c AND k.audience = ANY(:audiences) AND k.terms @@ CAST(:q AS tsquery) "
                    "ORDER BY bm25.s DESC, k.chunk_id LIMIT :limit"
                ),
                {
                    **params,
                    "idf": idf,
                    "avg": float(avg),
                    "k1": K1,
                    "k1p1": K1 + 1,
                    "b": B,
                    "audiences": sorted(audiences),
                    "limit": k,
                },
            ).all()
        return normalised([(Chunk.model_validate(json.loads(data)), float(score)) for data, score in rows])

    def manifest(self, source_ids: Collection[str] | None = None) -> dict[str, str]:
        """Chunk id -> source hash of the stored chunks, optionally of some sources only."""
        sql = "SELECT chunk_id, source_hash FROM keyword_chunks WHERE collection = :c"
        with self._begin("read") as conn:
            if source_ids is None:
                return {cid: h for cid, h in conn.execute(text(sql), {"c": self.collection})}
            out: dict[str, str] = {}
            ids = sorted(source_ids)
            for start in range(0, len(ids), BATCH):
                params = {"c": self.collection, "sources": ids[start : start + BATCH]}
                out.update({cid: h for cid, h in conn.execute(text(sql + " AND source_id = ANY(:sources)"), params)})
            return out

    def count(self) -> int:
        """Number of stored chunks."""
        with self._begin("count") as conn:
            return int(
                conn.execute(
                    text("SELECT count(*) FROM keyword_chunks WHERE collection = :c"), {"c": self.collection}
                ).scalar_one()
            )

    def close(self) -> None:
        """Release the connection pool."""
        self._engine.dispose()


def _vector(words: Sequence[str]) -> dict[str, object]:
    """A tsvector literal of the distinct terms (matching needs no positions), their frequencies as JSON, and the
    number of terms."""
    counts = Counter(words)
    return {"terms": " ".join(f"'{w}'" for w in counts), "tf": json.dumps(counts), "length": len(words)}
