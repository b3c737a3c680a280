"""Chroma-backed AnchorIndex: one collection per audience beside the chunks' (chroma.py).

An anchor's record: id `Anchor.anchor_id` (prefixed by where it lands), our vector of its sentence, the sentence and
the rest as metadata (not as Chroma's document: see SENTENCE). One collection per audience for the reason the chunks
have one: a customer's question reads only the public anchors and can never be reordered by what an internal page
says.

A question needs only the anchors that land on its candidates' sections, every one of them (deflect.retrieval.anchors),
and Chroma cannot fetch those fast: a `get` of the ~600-800 anchors landing on one SQLite question's 40 dense
candidates, by id or by a `where` on target, took 13-52 ms with their vectors, against 4-11 ms for the k=1,000 kNN
this replaced (which could miss one). So each collection's anchors are also held in this process, by where they land
(`_Landings`: the vectors, 1.5 KB an anchor, 26 MB for SQLite's 16,806), read once and scored with numpy (0.6-0.9 ms
a question inside `deflect serve` at load 9, against 12-21 ms for the k=1,000 kNN). They stay true to the collection
through a version token in its metadata: every write of anchors sets a new one, a question reads it when it is older
than RECHECK_S (a second: another process's writes show within it), and a token this object did not write reloads
the collection (1.4-2.1 s for SQLite's on the reference machine). Its own writes are applied to what it holds
instead, so an ingest while serving does not reload at every page; setting the token costs 11-24 ms (Chroma's
`modify`) per linking page written.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deflect.domain.models import Anchor, Landing, landing_of
from deflect.errors import IndexUnavailable
from deflect.index.chroma import drop_collections, embedded_client, http_client, open_collections, stored_text

AUDIENCES = ("public", "internal")
_FIELDS = ("source_id", "source_hash", "audience", "target", "fragment", "text")
# The collection metadata key holding the anchors' version token (a new one at every write).
VERSION_KEY = "deflect_anchors_version"
# How often a question looks at that token. Reading it cost 0.15 ms alone but 1.3-3.4 ms an ask inside `deflect serve`
# on the loaded 2-core machine (py-spy, session 13), so another process's anchor writes are seen within this long.
RECHECK_S = 1.0


def anchor_collection_names(collection: str) -> dict[str, str]:
    """The Chroma collection of each audience's anchors, beside the chunks' collections of `collection`."""
    return {"public": f"{collection}-anchors", "internal": f"{collection}-anchors-internal"}


# The sentence is a metadata value, not Chroma's document, for the reason the chunks' text is (chroma.TEXT): Chroma's
# full-text index over documents is never searched and was most of a write's cost. Older records keep it as document.
SENTENCE = "sentence"


def _anchor(document: str | None, meta: dict[str, Any]) -> Anchor:
    return Anchor(sentence=stored_text(meta, SENTENCE, document), **{key: str(meta.get(key, "")) for key in _FIELDS})


class ChromaAnchorIndex:
    """Anchors in Chroma collections (one per audience); vectors are always ours, never Chroma's."""

    def __init__(self, client: Any, collection: str, ef_search: int, recheck_s: float = RECHECK_S) -> None:
        self._client = client
        self._recheck_s = recheck_s
        self._names = anchor_collection_names(collection)
        try:
            self._cols = open_collections(client, self._names, ef_search)
            self._step = max(1, min(1000, int(client.get_max_batch_size())))
        except Exception as exc:  # chromadb raises many types for an unreachable server
            raise IndexUnavailable(f"cannot open Chroma anchor collections of {collection!r}: {exc}") from exc
        self._held: dict[str, _Landings | None] = dict.fromkeys(self._cols)
        self._lock = threading.Lock()  # one reload at a time; a write's patch never interleaves with one

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
        self.replace_many({source_id: (anchors, embeddings)})

    def replace_many(self, sources: Mapping[str, tuple[Sequence[Anchor], Sequence[Sequence[float]]]]) -> None:
        """`replace` of many linking sources in one write per audience (and step): the ingest writes a group of
        pages at a time. Per source, a stale-record read and a version token cost ~60 ms (Chroma's `get` with a
        `where` and `modify`): 20.5 s of a 10k ingest's anchor writes for 317 linking pages (session 22)."""
        rows: list[tuple[Anchor, Sequence[float]]] = []
        for source_id, (anchors, embeddings) in sources.items():
            mine = list(zip(anchors, embeddings, strict=True))
            if any(a.source_id != source_id for a, _ in mine):
                raise ValueError(f"every anchor given must be of {source_id}")
            rows += mine
        if not sources:
            return
        ids = sorted(sources)
        for audience, col in self._cols.items():
            theirs = [(a, e) for a, e in rows if a.audience == audience]
            for start in range(0, len(theirs), self._step):
                part = theirs[start : start + self._step]
                col.upsert(
                    ids=[a.anchor_id for a, _ in part],
                    embeddings=[list(e) for _, e in part],
                    metadatas=[{**{key: getattr(a, key) for key in _FIELDS}, SENTENCE: a.sentence} for a, _ in part],
                )
            keep = {a.anchor_id for a, _ in theirs}
            stale = [
                i
                for start in range(0, len(ids), self._step)
                for i in col.get(where={"source_id": {"$in": ids[start : start + self._step]}}, include=[])["ids"]
                if i not in keep
            ]
            for start in range(0, len(stale), self._step):
                col.delete(ids=stale[start : start + self._step])
            if theirs or stale:
                self._written(audience, ids, theirs)

    def delete_sources(self, source_ids: Iterable[str]) -> None:
        """Remove every anchor of these linking sources."""
        ids = sorted(set(source_ids))
        if not ids:
            return
        for audience, col in self._cols.items():
            for start in range(0, len(ids), self._step):
                col.delete(where={"source_id": {"$in": ids[start : start + self._step]}})
            self._written(audience, ids, [])

    def landing(
        self, embedding: Sequence[float], keys: Collection[Landing], audiences: frozenset[str]
    ) -> dict[Landing, float]:
        """Best cosine per key of the anchors landing there, every one of them, from what this process holds of each
        audience's collection (read again when another process wrote it since)."""
        if not keys:
            return {}
        question = _unit(np.asarray(embedding, dtype=np.float32))
        out: dict[Landing, float] = {}
        for audience in sorted(audiences & set(AUDIENCES)):
            for key, cosine in self._current(audience).best(question, keys).items():
                out[key] = max(out.get(key, cosine), cosine)
        return out

    def _version(self, audience: str) -> str | None:
        """The collection's version token as stored now (None: never written by a deflect that sets one)."""
        meta = self._client.get_collection(self._names[audience], embedding_function=None).metadata or {}
        version = meta.get(VERSION_KEY)
        return None if version is None else str(version)

    def _current(self, audience: str) -> _Landings:
        """What this process holds of the audience's anchors, read again if the collection's token moved (looked at
        once per `recheck_s`)."""
        held = self._held[audience]
        now = time.monotonic()
        if held is not None and now - held.checked < self._recheck_s:
            return held
        version = self._version(audience)  # before reading: a write during the read moves it again, so a reload
        if held is not None and held.version == version:
            held.checked = now
            return held
        with self._lock:
            held = self._held[audience]
            if held is None or held.version != version:
                held = _Landings.read(self._cols[audience], version, self._step)
                self._held[audience] = held
            held.checked = now
            return held

    def _written(self, audience: str, sources: Sequence[str], added: Sequence[tuple[Anchor, Sequence[float]]]) -> None:
        """After this process wrote the audience's anchors of `sources` (`added` now theirs): a new version token, and
        what it holds patched to match, or dropped if another process wrote since it was read (a write between
        reading the token and setting the new one, a few ms, would be missed until the next reload)."""
        with self._lock:
            before = self._version(audience)
            token = uuid.uuid4().hex
            self._cols[audience].modify(metadata={VERSION_KEY: token})
            held = self._held[audience]
            if held is None or held.version != before:
                self._held[audience] = None
                return
            held.drop(sources)
            held.add([a.anchor_id for a, _ in added], np.asarray([e for _, e in added], dtype=np.float32))
            held.version = token

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


def _unit(vectors: np.ndarray) -> np.ndarray:
    """Rows (or one vector) scaled to length 1, as Chroma's cosine space compares them."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


class _Landings:
    """One collection's anchors as this process holds them, by where they land: key -> (anchor ids, their unit vectors
    as the rows of a matrix), as of the collection's version token `version`. A key's entry is replaced whole, never
    changed in place, so a question reading it while a write patches another needs no lock."""

    def __init__(self, version: str | None) -> None:
        self.version = version
        self.checked = time.monotonic()  # when `version` was last compared with the collection's
        self._by_key: dict[Landing, tuple[tuple[str, ...], np.ndarray]] = {}
        self._keys_of: dict[str, set[Landing]] = {}  # linking source -> where its anchors land

    @classmethod
    def read(cls, col: Any, version: str | None, step: int) -> _Landings:
        """Every record of `col`, read in pages (ids and vectors only: where an anchor lands is in its id)."""
        out = cls(version)
        offset = 0
        while True:
            res = col.get(limit=step, offset=offset, include=["embeddings"])
            if not res["ids"]:
                break
            out.add(res["ids"], np.asarray(res["embeddings"], dtype=np.float32))
            offset += len(res["ids"])
        return out

    def add(self, anchor_ids: Sequence[str], vectors: np.ndarray) -> None:
        """Hold these anchors (an id held already is replaced)."""
        if not anchor_ids:
            return
        units = _unit(vectors)
        grouped: dict[Landing, list[int]] = {}
        for row, anchor_id in enumerate(anchor_ids):
            key, source_id = landing_of(anchor_id)
            grouped.setdefault(key, []).append(row)
            self._keys_of.setdefault(source_id, set()).add(key)
        for key, rows in grouped.items():
            new_ids = tuple(anchor_ids[r] for r in rows)
            ids, matrix = self._by_key.get(key, ((), units[:0]))
            keep = [i for i, anchor_id in enumerate(ids) if anchor_id not in new_ids]
            self._by_key[key] = (tuple(ids[i] for i in keep) + new_ids, np.vstack([matrix[keep], units[rows]]))

    def drop(self, source_ids: Iterable[str]) -> None:
        """Forget every anchor of these linking sources."""
        for source_id in source_ids:
            for key in self._keys_of.pop(source_id, set()):
                ids, matrix = self._by_key[key]
                keep = [i for i, anchor_id in enumerate(ids) if landing_of(anchor_id)[1] != source_id]
                if keep:
                    self._by_key[key] = (tuple(ids[i] for i in keep), matrix[keep])
                else:
                    del self._by_key[key]

    def best(self, question: np.ndarray, keys: Collection[Landing]) -> dict[Landing, float]:
        """Key -> the best cosine of its anchors to the (unit) question vector, for the keys held."""
        out: dict[Landing, float] = {}
        for key in keys:
            entry = self._by_key.get(key)
            if entry is not None:
                out[key] = min(1.0, max(-1.0, float((entry[1] @ question).max())))
        return out
