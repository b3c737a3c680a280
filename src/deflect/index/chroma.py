"""Chroma-backed Index: embedded PersistentClient or a `chroma run` server over HTTP."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import chromadb
from chromadb.config import Settings as ChromaSettings

from deflect.domain.models import Chunk, ScoredChunk
from deflect.errors import IndexUnavailable
from deflect.index.owner import claim

_SCALARS = (
    "source_id",
    "kind",
    "title",
    "heading_path",
    "url",
    "audience",
    "product",
    "updated",
    "origin",
    "origin_root",
    "source_hash",
)


# The chunk's text is kept as a metadata value, not as Chroma's document: Chroma builds a full-text index over
# documents, which deflect never searches (its keyword index is its own), and that index was most of a write's cost
# (2,000 chunks in writes of 256: 2.7 s as documents, 1.3 s as metadata, 1.2 s without the text; session 25). An index
# written before keeps the text of its older records as their document, read when the metadata has none.
TEXT = "text"


def stored_text(meta: dict[str, Any], key: str, document: str | None) -> str:
    """A text kept under `key` in a record's metadata, or, for a record written before the move, its document."""
    value = meta.get(key)
    return value if isinstance(value, str) else document or ""


def _to_metadata(chunk: Chunk) -> dict[str, Any]:
    meta: dict[str, Any] = {key: getattr(chunk, key) for key in _SCALARS}
    meta[TEXT] = chunk.text
    # Chroma rejects empty lists, so tags travel as one comma-joined string.
    meta["tags"] = ",".join(chunk.tags)
    meta["quote_from"] = chunk.quote_from
    meta["source_chunks"] = chunk.source_chunks
    if chunk.fragments:  # a list in JSON: ids may hold any character, and Chroma takes no empty lists
        meta["fragments"] = json.dumps(chunk.fragments)
    return meta


def _from_record(chunk_id: str, document: str | None, meta: dict[str, Any]) -> Chunk:
    fields = {key: meta.get(key, "") for key in _SCALARS}
    tags = tuple(t for t in str(meta.get("tags", "")).split(",") if t)
    return Chunk(
        chunk_id=chunk_id,
        text=stored_text(meta, TEXT, document),
        tags=tags,
        quote_from=int(meta.get("quote_from", 0)),
        source_chunks=int(meta.get("source_chunks", 0)),
        fragments=tuple(json.loads(meta.get("fragments") or "[]")),
        **fields,
    )


def embedded_client(path: Path) -> Any:
    """Chroma's PersistentClient under `path`, which this process then holds (deflect.index.owner); Chroma shares
    one per path in a process, so the chunks' and the anchors' collections use the same."""
    claim(path)
    return chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False))


def http_client(host: str, port: int, timeout_s: float | None = None) -> Any:
    """A client of a `chroma run` server; with `timeout_s`, every HTTP call gives up after that long."""
    try:
        client = chromadb.HttpClient(host=host, port=port, settings=ChromaSettings(anonymized_telemetry=False))
    except Exception as exc:
        raise IndexUnavailable(f"cannot reach Chroma at {host}:{port}: {exc}") from exc
    session = getattr(getattr(client, "_server", None), "_session", None)
    if timeout_s is not None and session is not None:
        # chromadb builds its httpx client with timeout=None: a paused server would hold a thread forever.
        import httpx

        session.timeout = httpx.Timeout(timeout_s)
    return client


def open_collections(client: Any, names: dict[str, str], ef_search: int) -> dict[str, Any]:
    """Each audience's collection (created if absent) with cosine HNSW and no embedding function of Chroma's, searched
    with `ef_search`."""
    cols = {
        audience: client.get_or_create_collection(
            name,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine", "ef_search": ef_search, "ef_construction": 200}},
        )
        for audience, name in names.items()
    }
    for col in cols.values():
        _search_with(col, ef_search)
    return cols


def _search_with(col: Any, ef_search: int) -> None:
    """Chroma applies a configuration only when it creates the collection: an index built under another
    `ef_search` would keep it, and the setting would silently do nothing. ef_search is one of the HNSW parameters
    Chroma lets an existing collection change (it is stored with the collection, so this writes only on change)."""
    hnsw = (col.configuration or {}).get("hnsw") or {}
    if hnsw.get("ef_search") != ef_search:
        col.modify(configuration={"hnsw": {"ef_search": ef_search}})


def drop_collections(path: Path, names: Iterable[str]) -> None:
    """Delete collections under the embedded folder `path` through the client Chroma shares per path in this
    process (removing the folder instead would leave that client writing to deleted files)."""
    client = embedded_client(path)
    for name in names:
        with contextlib.suppress(chromadb.errors.NotFoundError):  # nothing to drop
            client.delete_collection(name)


# Chunks live in one collection per audience, so a caller's audiences pick collections and each kNN runs unfiltered:
# a metadata filter (`where audience $in ...`) made each query 79 ms instead of 12 ms at 10,000 chunks (issue 13), and
# a customer's question can never reach an internal chunk, whatever the query. Public chunks keep the configured
# collection name (an index from before the split needs only its internal chunks moved), internal ones its
# "-internal" sibling.
AUDIENCES = ("public", "internal")


def collection_names(collection: str) -> dict[str, str]:
    """The Chroma collection of each audience."""
    return {"public": collection, "internal": f"{collection}-internal"}


class ChromaIndex:
    """Chunks in Chroma collections (one per audience) with cosine HNSW; embeddings are always ours, never Chroma's."""

    def __init__(self, client: Any, collection: str, ef_search: int) -> None:
        self._client = client
        try:
            self._cols = open_collections(client, collection_names(collection), ef_search)
            self._move_internal_out_of_public()
            self._step = max(1, min(1000, int(client.get_max_batch_size())))
        except Exception as exc:  # chromadb raises many types for an unreachable server
            raise IndexUnavailable(f"cannot open Chroma collection {collection!r}: {exc}") from exc

    @property
    def client(self) -> Any:
        """The Chroma client (embedded or server) the collections were opened with: the anchors' use it too."""
        return self._client

    def _move_internal_out_of_public(self) -> None:
        """An index written before the split holds internal chunks in the public collection: move them, vectors and
        all, copy first (a crash in between leaves a copy in each, which the next open finishes moving)."""
        public, internal = self._cols["public"], self._cols["internal"]
        while True:
            res = public.get(
                where={"audience": "internal"}, limit=1000, include=["documents", "metadatas", "embeddings"]
            )
            if not res["ids"]:
                return
            # A record written before the text moved to the metadata brings it along from its document.
            metas = [{TEXT: doc or "", **meta} for doc, meta in zip(res["documents"], res["metadatas"], strict=True)]
            internal.upsert(ids=res["ids"], embeddings=res["embeddings"], metadatas=metas)
            public.delete(ids=res["ids"])

    @classmethod
    def embedded(cls, path: Path, collection: str, ef_search: int) -> ChromaIndex:
        """A PersistentClient under `path`, which this process then holds (deflect.index.owner)."""
        return cls(embedded_client(path), collection, ef_search)

    @staticmethod
    def drop_embedded(path: Path, collection: str) -> None:
        """Delete the collections of `collection` under `path`, through the client Chroma shares per path in this
        process (removing the folder instead would leave that client writing to deleted files)."""
        drop_collections(path, collection_names(collection).values())

    @classmethod
    def http(cls, host: str, port: int, collection: str, ef_search: int, timeout_s: float | None = None) -> ChromaIndex:
        """A client of a `chroma run` server; with `timeout_s`, every HTTP call gives up after that long."""
        return cls(http_client(host, port, timeout_s), collection, ef_search)

    def upsert(self, chunks: Sequence[Chunk], embeddings: Sequence[Sequence[float]]) -> None:
        """Insert or replace chunks, each in its audience's collection, in batches the server accepts."""
        for audience, col in self._cols.items():
            mine = [(c, e) for c, e in zip(chunks, embeddings, strict=True) if c.audience == audience]
            others = [c.chunk_id for c in chunks if c.audience != audience]
            # A chunk whose audience changed leaves its old collection first: a crash in between loses it (the next
            # ingest sees the source incomplete and rewrites it) rather than leaving an internal chunk public.
            if others and col.count():
                for start in range(0, len(others), self._step):
                    col.delete(ids=others[start : start + self._step])
            for start in range(0, len(mine), self._step):
                part = mine[start : start + self._step]
                col.upsert(
                    ids=[c.chunk_id for c, _ in part],
                    embeddings=[list(e) for _, e in part],
                    metadatas=[_to_metadata(c) for c, _ in part],
                )

    def delete_chunks(self, chunk_ids: Iterable[str]) -> None:
        """Remove chunks by id; unknown ids are ignored."""
        ids = list(chunk_ids)
        for col in self._cols.values():
            for start in range(0, len(ids), self._step):
                col.delete(ids=ids[start : start + self._step])

    def query(self, embedding: Sequence[float], k: int, audiences: frozenset[str]) -> list[ScoredChunk]:
        """Nearest chunks among those the audience may see: only the collections of those audiences are searched,
        each without a filter."""
        out = []
        for audience in sorted(audiences & set(AUDIENCES)):
            res = self._cols[audience].query(
                query_embeddings=[list(embedding)], n_results=k, include=["documents", "metadatas", "distances"]
            )
            for cid, doc, meta, dist in zip(
                res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0], strict=True
            ):
                cos = _cosine(dist)
                out.append(ScoredChunk(chunk=_from_record(cid, doc, meta), dense=cos, score=cos))
        out.sort(key=lambda h: -h.dense)
        return out[:k]

    def nearest(self, embedding: Sequence[float], k: int, audiences: frozenset[str]) -> list[tuple[str, float]]:
        """`query` without documents and metadata: at 10,000 chunks Chroma's query takes ~1.9 ms for ids and
        distances and ~5.2 ms with them (reading them from its SQLite, benchmarks/scale.py's index)."""
        out: list[tuple[str, float]] = []
        for audience in sorted(audiences & set(AUDIENCES)):
            res = self._cols[audience].query(query_embeddings=[list(embedding)], n_results=k, include=["distances"])
            out += [(cid, _cosine(dist)) for cid, dist in zip(res["ids"][0], res["distances"][0], strict=True)]
        out.sort(key=lambda h: -h[1])
        return out[:k]

    def chunks(
        self,
        audiences: frozenset[str] | None = None,
        source_ids: Collection[str] | None = None,
        chunk_ids: Collection[str] | None = None,
    ) -> list[Chunk]:
        """Stored chunks (optionally of some audiences, sources and/or ids), for keyword indexing, ingestion and
        answers (a page's opening, read by id: a lookup by key, not a scan of the page's chunks)."""
        empty = [f for f in (audiences, source_ids, chunk_ids) if f is not None and not f]
        if empty:
            return []  # an empty set sees nothing; treating it as "no filter" would leak internal chunks
        where = {"source_id": {"$in": sorted(source_ids)}} if source_ids else None
        ids = sorted(chunk_ids) if chunk_ids is not None else None
        out = []
        for audience, col in self._cols.items():
            if audiences is not None and audience not in audiences:
                continue
            res = col.get(ids=ids, where=where, include=["documents", "metadatas"])
            out += [
                _from_record(cid, doc, meta)
                for cid, doc, meta in zip(res["ids"], res["documents"], res["metadatas"], strict=True)
            ]
        return out

    def count(self) -> int:
        """Number of stored chunks."""
        return sum(int(col.count()) for col in self._cols.values())

    def pages(self, size: int = 1000) -> Iterator[list[Chunk]]:
        """Every chunk, `size` at a time (a page never spans two collections): one unpaged read of a large
        collection fails ("too many SQL variables" past ~32k chunks in embedded Chroma) and holds everything in
        memory at once."""
        for col in self._cols.values():
            offset = 0
            while True:
                res = col.get(limit=size, offset=offset, include=["documents", "metadatas"])
                if not res["ids"]:
                    break
                yield [
                    _from_record(cid, doc, meta)
                    for cid, doc, meta in zip(res["ids"], res["documents"], res["metadatas"], strict=True)
                ]
                offset += len(res["ids"])


def _cosine(distance: float) -> float:
    # float32 rounding can put an identical vector a hair past 1; cosine lives in [-1, 1].
    return min(1.0, max(-1.0, 1.0 - float(distance)))
