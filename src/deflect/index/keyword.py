"""The embedded KeywordIndex: SQLite FTS5 in one file under the data folder, ranked by FTS5's `bm25()`.

Every process that opens the file sees every write at once (WAL: readers never block the writer), so two API
workers on one machine never disagree, and a write costs only the chunks it touches. Stemming is ours
(`deflect.index.terms`, as the PostgreSQL index does): FTS5 stores pre-stemmed terms with a tokenizer that only
splits on what our tokenizer already split on.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from deflect.domain.models import Chunk, ScoredChunk
from deflect.errors import IndexUnavailable
from deflect.index.terms import query_terms, terms
from deflect.sqlite_wal import enable_wal

SCHEMA = """
CREATE TABLE IF NOT EXISTS chunk (
    id INTEGER PRIMARY KEY,
    chunk_id TEXT NOT NULL UNIQUE,
    source_id TEXT NOT NULL,
    source_hash TEXT NOT NULL,
    audience TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunk_source ON chunk (source_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunk_terms
    USING fts5 (terms, tokenize = "unicode61 remove_diacritics 0 tokenchars '_'");
CREATE VIRTUAL TABLE IF NOT EXISTS chunk_vocab USING fts5vocab (chunk_terms, 'row');
"""
# SQLite's default limit on bound parameters is 32,766 on current builds but 999 on old ones: stay below both.
BATCH = 500
# Matches ranked before their audiences are looked up, per result asked for (see _search_best).
PREFETCH = 10
# Rows a search scores at most, when it can (see weighted_terms): FTS5 scored ~1.1-1.5 us per row on the 2-core
# reference machine, so ~3 ms; a question's terms held ~3,800 rows at 10,000 chunks and ~38,000 at 100,000.
ROW_BUDGET = 2000


class SqliteKeywordIndex:
    """Chunks and their stemmed terms in one SQLite file; one connection per thread."""

    def __init__(self, path: Path, busy_timeout_s: float = 30.0) -> None:
        self.path = path
        self._timeout = busy_timeout_s
        self._local = threading.local()
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._conn()
        with _errors("open"):
            enable_wal(conn, busy_timeout_s)
            conn.executescript(SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False)
            except sqlite3.Error as exc:
                raise IndexUnavailable(f"cannot open the keyword index {self.path}: {exc}") from exc
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def upsert(self, chunks: Sequence[Chunk]) -> None:
        """Insert or replace chunks by id, all in one transaction."""
        if not chunks:
            return
        conn = self._conn()
        with _errors("upsert"), _transaction(conn):
            for chunk in chunks:
                row = conn.execute(
                    "INSERT INTO chunk (chunk_id, source_id, source_hash, audience, data) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (chunk_id) DO UPDATE SET source_id = excluded.source_id, "
                    "source_hash = excluded.source_hash, audience = excluded.audience, data = excluded.data "
                    "RETURNING id",
                    (chunk.chunk_id, chunk.source_id, chunk.source_hash, chunk.audience, _dump(chunk)),
                ).fetchone()
                conn.execute("DELETE FROM chunk_terms WHERE rowid = ?", (row[0],))
                conn.execute(
                    "INSERT INTO chunk_terms (rowid, terms) VALUES (?, ?)", (row[0], " ".join(terms(chunk.text)))
                )

    def delete_chunks(self, chunk_ids: Iterable[str]) -> None:
        """Remove chunks by id; unknown ids are ignored."""
        ids = list(chunk_ids)
        if not ids:
            return
        conn = self._conn()
        with _errors("delete"), _transaction(conn):
            for start in range(0, len(ids), BATCH):
                part = ids[start : start + BATCH]
                marks = ",".join("?" * len(part))
                rows = conn.execute(f"SELECT id FROM chunk WHERE chunk_id IN ({marks})", part).fetchall()
                conn.executemany("DELETE FROM chunk_terms WHERE rowid = ?", rows)
                conn.executemany("DELETE FROM chunk WHERE id = ?", rows)

    def search(self, query: str, k: int, audiences: frozenset[str]) -> list[ScoredChunk]:
        """Best k chunks of the audiences by BM25 (any query term matches); `keyword` relative to the best."""
        words = query_terms(query)
        if not words or not audiences or k <= 0:
            return []
        marks = ",".join("?" * len(audiences))
        with _errors("search"):
            conn = self._conn()
            words = weighted_terms(conn, words)
            if not words:
                return []
            match = " OR ".join(f'"{w}"' for w in words)  # terms are word characters only: nothing to escape
            rows = self._search_best(conn, match, k, audiences) if PREFETCH * k <= BATCH else None
            if rows is None:
                rows = conn.execute(
                    "SELECT chunk.data, -bm25(chunk_terms) AS score FROM chunk_terms "
                    "JOIN chunk ON chunk.id = chunk_terms.rowid "
                    f"WHERE chunk_terms MATCH ? AND chunk.audience IN ({marks}) "
                    "ORDER BY score DESC, chunk.chunk_id LIMIT ?",
                    (match, *sorted(audiences), k),
                ).fetchall()
        return normalised([(_load(data), float(score)) for data, score in rows])

    def _search_best(
        self, conn: sqlite3.Connection, match: str, k: int, audiences: frozenset[str]
    ) -> list[tuple[str, float]] | None:
        """The same k as the query above, found among the PREFETCH * k best matches of any audience, or None when
        they cannot tell (too few of the audiences' chunks among them, or the k-th ties with the last one fetched).
        Ranking by FTS5 alone skips the lookup of every match's audience: at 100,000 chunks a question's common
        words match about half of them, and those lookups cost as much as the ranking."""
        limit = PREFETCH * k
        top = conn.execute(
            "SELECT rowid, -bm25(chunk_terms) AS score FROM chunk_terms WHERE chunk_terms MATCH ? "
            "ORDER BY score DESC LIMIT ?",
            (match, limit),
        ).fetchall()
        if not top:
            return []
        score_of = dict(top)
        found = conn.execute(
            f"SELECT id, chunk_id FROM chunk WHERE id IN ({','.join('?' * len(top))}) "
            f"AND audience IN ({','.join('?' * len(audiences))})",
            (*score_of, *sorted(audiences)),
        ).fetchall()
        kept = sorted(((float(score_of[i]), cid, i) for i, cid in found), key=lambda t: (-t[0], t[1]))[:k]
        every_match = len(top) < limit
        # Any match not fetched scores at most the last fetched: below the k-th kept, it could not displace it.
        if not (every_match or (len(kept) == k and kept[-1][0] > float(top[-1][1]))):
            return None
        # Only the k kept are read whole (reading all PREFETCH * k took most of this search's time at 10,000 chunks).
        data = dict(
            conn.execute(
                f"SELECT id, data FROM chunk WHERE id IN ({','.join('?' * len(kept))})", [i for _, _, i in kept]
            ).fetchall()
        )
        return [(data[i], score) for score, _, i in kept]

    def chunks(self, chunk_ids: Collection[str], audiences: frozenset[str]) -> list[Chunk]:
        """The stored chunks with these ids that the audiences may see (a lookup by the unique chunk_id)."""
        if not audiences:
            return []
        ids = sorted(chunk_ids)
        marks = ",".join("?" * len(audiences))
        out: list[Chunk] = []
        with _errors("read"):
            conn = self._conn()
            for start in range(0, len(ids), BATCH):
                part = ids[start : start + BATCH]
                out += [
                    _load(data)
                    for (data,) in conn.execute(
                        f"SELECT data FROM chunk WHERE chunk_id IN ({','.join('?' * len(part))}) "
                        f"AND audience IN ({marks})",
                        (*part, *sorted(audiences)),
                    )
                ]
        return out

    def manifest(self, source_ids: Collection[str] | None = None) -> dict[str, str]:
        """Chunk id -> source hash of the stored chunks, optionally of some sources only."""
        conn = self._conn()
        with _errors("read"):
            if source_ids is None:
                return dict(conn.execute("SELECT chunk_id, source_hash FROM chunk").fetchall())
            out: dict[str, str] = {}
            ids = sorted(source_ids)
            for start in range(0, len(ids), BATCH):
                part = ids[start : start + BATCH]
                marks = ",".join("?" * len(part))
                out.update(conn.execute(f"SELECT chunk_id, source_hash FROM chunk WHERE source_id IN ({marks})", part))
            return out

    def count(self) -> int:
        """Number of stored chunks."""
        with _errors("count"):
            return int(self._conn().execute("SELECT count(*) FROM chunk").fetchone()[0])

    def close(self) -> None:
        """Close this thread's connection (others close when their threads end)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def weighted_terms(conn: sqlite3.Connection, words: Sequence[str]) -> list[str]:
    """The query terms searched: those that move FTS5's BM25, rarest first, within ROW_BUDGET rows.

    FTS5 scores every row holding any query term, so a search costs the rows its terms hold (at 100,000 chunks
    "use" alone is in half of them), while a term's weight falls as it gets common. Two steps, rarest first:
    - a term in half of the rows or more weighs 1e-6 in `bm25()` (its IDF, log((N - n + 0.5) / (n + 0.5)), is
      not positive): leaving it out changes no ranking, only drops the rows found through it alone (scored ~1e-6,
      a millionth of a rare term). Terms no chunk holds go too. When every term is that common, all held are kept.
    - of the rest, the rarest are kept while their rows add up to at most ROW_BUDGET (the rarest always): below
      that, as on a knowledge base of a few thousand chunks, the search is BM25 over every weighing term; above,
      the most common terms (the least weight each) are left out. The kb and StackFAQ sets (a few hundred chunks)
      never reach the budget, so their evaluations are unchanged; on larger indexes this is an approximation of
      BM25, whose effect on quality is not measured (keyword scores move the dense ranking by at most
      DEFLECT_FUSION_BM25_WEIGHT)."""
    marks = ",".join("?" * len(words))
    held = dict(conn.execute(f"SELECT term, doc FROM chunk_vocab WHERE term IN ({marks})", list(words)).fetchall())
    if not held:
        return []
    rows = fts_rows(conn)
    informative = sorted((w for w in words if 0 < 2 * held.get(w, 0) < rows), key=lambda w: (held[w], w))
    if not informative:
        return [w for w in words if w in held]
    kept, budget = informative[:1], ROW_BUDGET - held[informative[0]]
    for word in informative[1:]:
        if held[word] > budget:
            break
        kept.append(word)
        budget -= held[word]
    return kept


def fts_rows(conn: sqlite3.Connection) -> int:
    """The row count FTS5's bm25() uses, read from its averages record (row 1 of the %_data table: a varint row
    count, then one varint token total per column; SQLite keeps its file formats stable): O(1), where count(*)
    reads every row (2.6 ms at 100,000 chunks)."""
    found = conn.execute("SELECT block FROM chunk_terms_data WHERE id = 1").fetchone()
    value = 0
    for i, byte in enumerate(found[0][:9] if found else b""):
        if i == 8:  # SQLite's varint: the ninth byte carries 8 bits
            return (value << 8) | byte
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value
    return 0


def normalised(scored: Sequence[tuple[Chunk, float]]) -> list[ScoredChunk]:
    """Ranked (chunk, raw score) pairs as ScoredChunks with `keyword` = score / best score, positives only."""
    best = max((s for _, s in scored), default=0.0)
    if best <= 0:
        return []
    return [ScoredChunk(chunk=chunk, keyword=score / best) for chunk, score in scored if score > 0]


def _dump(chunk: Chunk) -> str:
    return json.dumps(chunk.model_dump(mode="json", exclude={"embed_text"}), ensure_ascii=False)


def _load(data: str) -> Chunk:
    # pydantic's own JSON parser: half the CPU of json.loads + model_validate (2.4 vs 4.9 us a chunk), same chunks.
    return Chunk.model_validate_json(data)


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error: a write is all of its chunks or none."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextmanager
def _errors(doing: str) -> Iterator[None]:
    """sqlite3 errors (locked past the timeout, disk full, a damaged file) become IndexUnavailable."""
    try:
        yield
    except sqlite3.Error as exc:
        raise IndexUnavailable(f"the keyword index failed while {doing}: {exc}") from exc
