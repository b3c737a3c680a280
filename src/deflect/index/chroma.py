"""Chroma-backed Index: embedded PersistentClient or a `chroma run` server over HTTP."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import chromadb
from chromadb.config import Settings as ChromaSettings

from deflect.domain.models import Chunk, ScoredChunk
from deflect.errors import IndexUnavailable

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
    "source_hash",
)


def _to_metadata(chunk: Chunk) -> dict[str, Any]:
    meta: dict[str, Any] = {key: getattr(chunk, key) for key in _SCALARS}
    # Chroma rejects empty lists, so tags travel as one comma-joined string.
    meta["tags"] = ",".join(chunk.tags)
    meta["quote_from"] = chunk.quote_from
    meta["source_chunks"] = chunk.source_chunks
    return meta


def _from_record(chunk_id: str, document: str, meta: dict[str, Any]) -> Chunk:
    fields = {key: meta.get(key, "") for key in _SCALARS}
    tags = tuple(t for t in str(meta.get("tags", "")).split(",") if t)
    return Chunk(
        chunk_id=chunk_id,
        text=document or "",
        tags=tags,
        quote_from=int(meta.get("quote_from", 0)),
        source_chunks=int(meta.get("source_chunks", 0)),
        **fields,
    )


class ChromaIndex:
    """Chunks in one Chroma collection with cosine HNSW; embeddings are always ours, never Chroma's."""

    def __init__(self, client: Any, collection: str, ef_search: int) -> None:
        self._client = client
        try:
            self._col = client.get_or_create_collection(
                collection,
                embedding_function=None,
                configuration={"hnsw": {"space": "cosine", "ef_search": ef_search, "ef_construction": 200}},
            )
        except Exception as exc:  # chromadb raises many types for an unreachable server
            raise IndexUnavailable(f"cannot open Chroma collection {collection!r}: {exc}") from exc

    @classmethod
    def embedded(cls, path: Path, collection: str, ef_search: int) -> ChromaIndex:
        """A PersistentClient under `path`."""
        path.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False))
        return cls(client, collection, ef_search)

    @classmethod
    def http(cls, host: str, port: int, collection: str, ef_search: int, timeout_s: float | None = None) -> ChromaIndex:
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
        return cls(client, collection, ef_search)

    def upsert(self, chunks: Sequence[Chunk], embeddings: Sequence[Sequence[float]]) -> None:
        """Insert or replace chunks, in batches the server accepts."""
        step = max(1, min(1000, int(self._client.get_max_batch_size())))
        for start in range(0, len(chunks), step):
            part = chunks[start : start + step]
            self._col.upsert(
                ids=[c.chunk_id for c in part],
                embeddings=[list(e) for e in embeddings[start : start + step]],
                documents=[c.text for c in part],
                metadatas=[_to_metadata(c) for c in part],
            )

    def delete_chunks(self, chunk_ids: Iterable[str]) -> None:
        """Remove chunks by id; unknown ids are ignored."""
        ids = list(chunk_ids)
        if ids:
            self._col.delete(ids=ids)

    def query(self, embedding: Sequence[float], k: int, audiences: frozenset[str]) -> list[ScoredChunk]:
        """Nearest chunks among those the audience may see; the filter is part of the Chroma query."""
        n = min(k, self.count())
        if n == 0 or not audiences:  # an empty audience set sees nothing (and Chroma rejects an empty `$in`)
            return []
        res = self._col.query(
            query_embeddings=[list(embedding)],
            n_results=n,
            where={"audience": {"$in": sorted(audiences)}},
            include=["documents", "metadatas", "distances"],
        )
        out = []
        for cid, doc, meta, dist in zip(
            res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0], strict=True
        ):
            # float32 rounding can put an identical vector a hair past 1; cosine lives in [-1, 1].
            cos = min(1.0, max(-1.0, 1.0 - float(dist)))
            out.append(ScoredChunk(chunk=_from_record(cid, doc, meta), dense=cos, score=cos))
        return out

    def chunks(self, audiences: frozenset[str] | None = None, source_ids: Collection[str] | None = None) -> list[Chunk]:
        """Stored chunks (optionally of some audiences and/or sources), for keyword indexing and ingestion."""
        if (audiences is not None and not audiences) or (source_ids is not None and not source_ids):
            return []  # an empty set sees nothing; treating it as "no filter" would leak internal chunks
        clauses: list[dict[str, Any]] = []
        if audiences:
            clauses.append({"audience": {"$in": sorted(audiences)}})
        if source_ids:
            clauses.append({"source_id": {"$in": sorted(source_ids)}})
        where = clauses[0] if len(clauses) == 1 else {"$and": clauses} if clauses else None
        res = self._col.get(where=where, include=["documents", "metadatas"])
        return [
            _from_record(cid, doc, meta)
            for cid, doc, meta in zip(res["ids"], res["documents"], res["metadatas"], strict=True)
        ]

    def count(self) -> int:
        """Number of stored chunks."""
        return int(self._col.count())

    def pages(self, size: int = 1000) -> Iterator[list[Chunk]]:
        """Every chunk, `size` at a time: one unpaged read of a large collection fails ("too many SQL
        variables" past ~32k chunks in embedded Chroma) and holds everything in memory at once."""
        offset = 0
        while True:
            res = self._col.get(limit=size, offset=offset, include=["documents", "metadatas"])
            if not res["ids"]:
                return
            yield [
                _from_record(cid, doc, meta)
                for cid, doc, meta in zip(res["ids"], res["documents"], res["metadatas"], strict=True)
            ]
            offset += len(res["ids"])
