"""The KeywordIndex in PostgreSQL: one table of chunks with a `tsvector` of their terms under a GIN index, in the
same database as escalations and the audit log, so every worker on every machine searches the same index.

Terms are stemmed by deflect (`deflect.index.terms`) and written as tsvector literals (no PostgreSQL parser or
dictionary in between), so PostgreSQL matches exactly the words the SQLite index matches. Ranking is BM25 with
FTS5's constants and formula, computed in SQL from a small JSON map of term frequencies, not `ts_rank_cd`: cover
density has no inverse document frequency, so a word on every page counted as much as a rare one (a contract test
caught it), and the fusion weight measured on the embedded index would not carry over. (Reading frequencies from the
tsvector's positions by unnesting it was slower: search p50 50 ms against 29 ms at 10,000 chunks, same run.)

The corpus statistics BM25 needs (chunk count, total length, each term's document frequency) are kept in two small
tables, `keyword_stats` and `keyword_terms`, updated in the same transaction as the chunks, under a lock per
collection that serialises writers (readers never wait). Counting them at search time cost a scan of the collection
plus one GIN count per query word: about half of a search at 40,000 chunks. An index from before these tables is
counted once, when first opened. (A writer still running the former code would not update them: upgrade every
worker together.)

The tables belong to this index, like a Chroma collection to ChromaIndex: they are created when missing, and a
`collection` column keeps indexes of several collections apart.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

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
    """CREATE TABLE IF NOT EXISTS keyword_stats (
        collection TEXT PRIMARY KEY,
        chunks BIGINT NOT NULL,
        length BIGINT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS keyword_terms (
        collection TEXT NOT NULL,
        term TEXT NOT NULL,
        df BIGINT NOT NULL,
        PRIMARY KEY (collection, term)
    )""",
]
# Counts a collection written before keyword_stats and keyword_terms existed (or never written): once, at open.
COUNT_EXISTING = [
    "INSERT INTO keyword_stats (collection, chunks, length) "
    "SELECT :c, count(*), coalesce(sum(length), 0) FROM keyword_chunks WHERE collection = :c",
    "INSERT INTO keyword_terms (collection, term, df) SELECT :c, t, count(*) "
    "FROM keyword_chunks, jsonb_object_keys(tf) AS t WHERE collection = :c GROUP BY t",
]
LOCK_WRITES = "SELECT pg_advisory_xact_lock(727275, hashtext(:c))"
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
            params = {"c": collection}
            conn.execute(text(LOCK_WRITES), params)
            if conn.execute(text("SELECT 1 FROM keyword_stats WHERE collection = :c"), params).first() is None:
                for statement in COUNT_EXISTING:
                    conn.execute(text(statement), params)

    @contextmanager
    def _begin(self, doing: str) -> Iterator[Connection]:
        try:
            with self._engine.begin() as conn:
                yield conn
        except DBAPIError as exc:
            raise IndexUnavailable(f"the keyword index failed to {doing}: {type(exc.orig).__name__}") from exc

    def upsert(self, chunks: Sequence[Chunk]) -> None:
        """Insert or replace chunks by id, all in one transaction."""
        latest = {chunk.chunk_id: chunk for chunk in chunks}  # one row per id, the last one given
        if not latest:
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
            for chunk in latest.values()
        ]
        with self._begin("write") as conn:
            before = self._remove(conn, list(latest))
            conn.execute(
                text(
                    "INSERT INTO keyword_chunks "
                    "(collection, chunk_id, source_id, source_hash, audience, data, terms, tf, length) "
                    "VALUES (:c, :id, :source, :hash, :audience, :data, CAST(:terms AS tsvector), CAST(:tf AS jsonb), "
                    ":length)"
                ),
                rows,
            )
            terms_delta = Counter(term for row in rows for term in json.loads(str(row["tf"])))
            terms_delta.subtract(before.terms)
            length = sum(int(str(row["length"])) for row in rows)
            self._count(conn, len(rows) - before.chunks, length - before.length, terms_delta)

    def delete_chunks(self, chunk_ids: Iterable[str]) -> None:
        """Remove chunks by id; unknown ids are ignored."""
        ids = list(dict.fromkeys(chunk_ids))
        if not ids:
            return
        with self._begin("delete") as conn:
            gone = self._remove(conn, ids)
            self._count(conn, -gone.chunks, -gone.length, Counter({t: -n for t, n in gone.terms.items()}))

    def _remove(self, conn: Connection, ids: list[str]) -> _Removed:
        """Delete these chunks (after taking the collection's write lock); what they counted for."""
        conn.execute(text(LOCK_WRITES), {"c": self.collection})
        gone = _Removed()
        for start in range(0, len(ids), BATCH):
            for length, tf in conn.execute(
                text("DELETE FROM keyword_chunks WHERE collection = :c AND chunk_id = ANY(:ids) RETURNING length, tf"),
                {"c": self.collection, "ids": ids[start : start + BATCH]},
            ):
                gone.chunks += 1
                gone.length += int(length)
                gone.terms.update(tf.keys())
        return gone

    def _count(self, conn: Connection, chunks: int, length: int, terms_delta: Counter[str]) -> None:
        """Move the collection's statistics by these amounts (inside the write's transaction)."""
        params = {"c": self.collection}
        if chunks or length:
            conn.execute(
                text("UPDATE keyword_stats SET chunks = chunks + :n, length = length + :l WHERE collection = :c"),
                {**params, "n": chunks, "l": length},
            )
        changed = {term: n for term, n in terms_delta.items() if n}
        if changed:
            conn.execute(
                text(
                    "INSERT INTO keyword_terms (collection, term, df) "
                    "SELECT :c, t, d FROM unnest(CAST(:terms AS text[]), CAST(:deltas AS bigint[])) AS u (t, d) "
                    "ON CONFLICT (collection, term) DO UPDATE SET df = keyword_terms.df + excluded.df"
                ),
                {**params, "terms": list(changed), "deltas": list(changed.values())},
            )
            fewer = [term for term, n in changed.items() if n < 0]
            if fewer:  # terms no chunk holds any more
                conn.execute(
                    text("DELETE FROM keyword_terms WHERE collection = :c AND term = ANY(:terms) AND df <= 0"),
                    {**params, "terms": fewer},
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
            stats = conn.execute(text("SELECT chunks, length FROM keyword_stats WHERE collection = :c"), params).first()
            n, total = (int(stats[0]), int(stats[1])) if stats else (0, 0)
            df: dict[str, int] = dict(
                conn.execute(
                    text("SELECT term, df FROM keyword_terms WHERE collection = :c AND term = ANY(:words)"), params
                ).all()
            )
            idf = [max(1e-6, math.log((n - df.get(w, 0) + 0.5) / (df.get(w, 0) + 0.5))) for w in words]
            # The GIN index (or, when most chunks match, a scan) finds the matches; each term's frequency comes from
            # the small `tf` map, one expression per query word: no subquery per matching chunk.
            values: dict[str, object] = {}
            parts = []
            for i, (word, weight) in enumerate(zip(words, idf, strict=True)):
                values |= {f"w{i}": word, f"i{i}": weight}
                tf = f"CAST(k.tf ->> :w{i} AS float8)"
                parts.append(f"coalesce(:i{i} * {tf} * :k1p1 / ({tf} + :k1 * (1 - :b + :b * k.length / :avg)), 0)")
            rows = conn.execute(
                text(
                    f"SELECT k.data, {' + '.join(parts)} AS s FROM keyword_chunks AS k "
                    "WHERE k.collection = :c AND k.audience = ANY(:audiences) AND k.terms @@ CAST(:q AS tsquery) "
                    "ORDER BY s DESC, k.chunk_id LIMIT :limit"
                ),
                {
                    **params,
                    **values,
                    "avg": total / n if n else 1.0,
                    "k1": K1,
                    "k1p1": K1 + 1,
                    "b": B,
                    "audiences": sorted(audiences),
                    "limit": k,
                },
            ).all()
        return normalised([(Chunk.model_validate(json.loads(data)), float(score)) for data, score in rows])

    def chunks(self, chunk_ids: Collection[str], audiences: frozenset[str]) -> list[Chunk]:
        """The stored chunks with these ids that the audiences may see (a lookup by the primary key)."""
        ids = sorted(chunk_ids)
        if not ids or not audiences:
            return []
        out: list[Chunk] = []
        sql = (
            "SELECT data FROM keyword_chunks WHERE collection = :c AND chunk_id = ANY(:ids) "
            "AND audience = ANY(:audiences)"
        )
        with self._begin("read") as conn:
            for start in range(0, len(ids), BATCH):
                params = {"c": self.collection, "ids": ids[start : start + BATCH], "audiences": sorted(audiences)}
                out += [Chunk.model_validate_json(data) for (data,) in conn.execute(text(sql), params)]
        return out

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
                    text("SELECT coalesce(max(chunks), 0) FROM keyword_stats WHERE collection = :c"),
                    {"c": self.collection},
                ).scalar_one()
            )

    def close(self) -> None:
        """Release the connection pool."""
        self._engine.dispose()


@dataclass
class _Removed:
    """What deleted chunks counted for: chunks, their total length, and each term's chunks."""

    chunks: int = 0
    length: int = 0
    terms: Counter[str] = field(default_factory=Counter)


def _vector(words: Sequence[str]) -> dict[str, object]:
    """A tsvector literal of the distinct terms (matching needs no positions), their frequencies as JSON, and the
    number of terms."""
    counts = Counter(words)
    return {"terms": " ".join(f"'{w}'" for w in counts), "tf": json.dumps(counts), "length": len(words)}
