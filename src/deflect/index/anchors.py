"""Chroma-backed AnchorIndex: one collection per audience beside the chunks' (chroma.py), cosine HNSW.

An anchor's record: id `Anchor.anchor_id` (prefixed by its linking source), our vector of its sentence, the sentence
as document, the rest as metadata. One collection per audience for the reason the chunks have one: a customer's
question searches only the public anchors, unfiltered, and can never be reordered by what an internal page says.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from operator import attrgetter
from pathlib import Path
from typing import Any

import numpy as np

from deflect.domain.models import Anchor, AnchorHit
from deflect.errors import IndexUnavailable
from deflect.index.chroma import drop_collections, embedded_client, http_client, open_collections

AUDIENCES = ("public", "internal")
_FIELDS = ("source_id", "source_hash", "audience", "target", "fragment", "text")


def anchor_collection_names(collection: str) -> dict[str, str]:
    """The Chroma collection of each audience's anchors, beside the chunks' collections of `collection`."""
    return {"public": f"{collection}-anchors", "internal": f"{collection}-anchors-internal"}


def _anchor(document: str, meta: dict[str, Any]) -> Anchor:
    return Anchor(sentence=document or "", **{key: str(meta.get(key, "")) for key in _FIELDS})


class ChromaAnchorIndex:
    """Anchors in Chroma collections (one per audience); vectors are always ours, never Chroma's."""

    def __init__(self, client: Any, collection: str, ef_search: int) -> None:
        try:
            self._cols = open_collections(client, anchor_collection_names(collection), ef_search)
            self._step = max(1, min(1000, int(client.get_max_batch_size())))
        except Exception as exc:  # chromadb raises many types for an unreachable server
            raise IndexUnavailable(f"cannot open Chroma anchor collections of {collection!r}: {exc}") from exc

    @classmethod
    def embedded(cls, path: Path, collection: str, ef_search: int) -> ChromaAnchorIndex:
        """In the embedded Chroma folder `path` (the chunks' folder: one client per path in a process)."""
        return cls(embedded_client(path), collection, ef_search)

    @staticmethod
    def drop_embedded(path: Path, collection: str) -> None:
        """Delete the anchor collections of `collection` under `path` (see ChromaIndex.drop_embedded)."""
        drop_collections(path, anchor_collection_names(collection).values())

    @classmethod
    def http(
        cls, host: str, port: int, collection: str, ef_search: int, timeout_s: float | None = None
    ) -> ChromaAnchorIndex:
        """A client of a `chroma run` server; with `timeout_s`, every HTTP call gives up after that long."""
        return cls(http_client(host, port, timeout_s), collection, ef_search)

    def replace(self, source_id: str, anchors: Sequence[Anchor], embeddings: Sequence[Sequence[float]]) -> None:
        """Write the source's anchors, each in its audience's collection, then delete the source's other records
        (an audience change included: written first, so a crash in between leaves the old ones, never none)."""
        rows = list(zip(anchors, embeddings, strict=True))
        if any(a.source_id != source_id for a, _ in rows):
            raise ValueError(f"every anchor given must be of {source_id}")
        keep: dict[str, set[str]] = {audience: set() for audience in self._cols}
        for audience, col in self._cols.items():
            mine = [(a, e) for a, e in rows if a.audience == audience]
            for start in range(0, len(mine), self._step):
                part = mine[start : start + self._step]
                col.upsert(
                    ids=[a.anchor_id for a, _ in part],
                    embeddings=[list(e) for _, e in part],
                    documents=[a.sentence for a, _ in part],
                    metadatas=[{key: getattr(a, key) for key in _FIELDS} for a, _ in part],
                )
            keep[audience] = {a.anchor_id for a, _ in mine}
        for audience, col in self._cols.items():
            stale = [i for i in col.get(where={"source_id": source_id}, include=[])["ids"] if i not in keep[audience]]
            for start in range(0, len(stale), self._step):
                col.delete(ids=stale[start : start + self._step])

    def delete_sources(self, source_ids: Iterable[str]) -> None:
        """Remove every anchor of these linking sources."""
        ids = sorted(set(source_ids))
        for col in self._cols.values():
            for start in range(0, len(ids), self._step):
                col.delete(where={"source_id": {"$in": ids[start : start + self._step]}})

    def nearest(
        self,
        embedding: Sequence[float],
        k: int,
        audiences: frozenset[str],
    ) -> list[AnchorHit]:
        """Nearest anchors among those the audiences may see: only their collections are searched, unfiltered.
        Ids and distances only: where an anchor lands is in its id, and reading each record's metadata cost
        ~0.05 ms an anchor (12 ms for 200), the search itself a few."""
        out: list[AnchorHit] = []
        for audience in sorted(audiences & set(AUDIENCES)):
            res = self._cols[audience].query(query_embeddings=[list(embedding)], n_results=k, include=["distances"])
            # Cosines of the 1,000 in one numpy step (the same doubles as 1 - float(d) clipped one by one, 8x faster).
            cosines = np.clip(1.0 - np.asarray(res["distances"][0], dtype=np.float64), -1.0, 1.0).tolist()
            out += [AnchorHit.from_id(i, cosine) for i, cosine in zip(res["ids"][0], cosines, strict=True)]
        out.sort(key=attrgetter("cosine"), reverse=True)  # stable, as the key -cosine was: ties keep Chroma's order
        return out[:k]

    def of_source(self, source_id: str) -> list[Anchor]:
        """The stored anchors of one linking source (every audience's collection)."""
        out = []
        for col in self._cols.values():
            res = col.get(where={"source_id": source_id}, include=["documents", "metadatas"])
            out += [_anchor(doc, meta) for doc, meta in zip(res["documents"], res["metadatas"], strict=True)]
        return sorted(out, key=lambda a: a.anchor_id)

    def manifest(self, source_ids: Collection[str] | None = None) -> dict[str, frozenset[str]]:
        """Linking source -> the source hashes of its stored anchors, read in pages (a large KB has many)."""
        if source_ids is not None and not source_ids:
            return {}
        where = {"source_id": {"$in": sorted(source_ids)}} if source_ids else None
        out: dict[str, set[str]] = {}
        for col in self._cols.values():
            offset = 0
            while True:
                res = col.get(where=where, limit=1000, offset=offset, include=["metadatas"])
                if not res["ids"]:
                    break
                for meta in res["metadatas"]:
                    out.setdefault(str(meta["source_id"]), set()).add(str(meta["source_hash"]))
                offset += len(res["ids"])
        return {sid: frozenset(hashes) for sid, hashes in out.items()}

    def count(self) -> int:
        """Number of stored anchors."""
        return sum(int(col.count()) for col in self._cols.values())
