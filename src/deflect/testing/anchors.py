"""InMemoryAnchorIndex: the first-party AnchorIndex fake, exact cosine over a dict."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence

from deflect.domain.models import Anchor, Landing


class InMemoryAnchorIndex:
    """Anchors and their vectors in this object; same contract as ChromaAnchorIndex."""

    def __init__(self) -> None:
        self._rows: dict[str, tuple[Anchor, list[float]]] = {}

    def replace(self, source_id: str, anchors: Sequence[Anchor], embeddings: Sequence[Sequence[float]]) -> None:
        self.replace_many({source_id: (anchors, embeddings)})

    def replace_many(self, sources: Mapping[str, tuple[Sequence[Anchor], Sequence[Sequence[float]]]]) -> None:
        rows = {sid: list(zip(anchors, vectors, strict=True)) for sid, (anchors, vectors) in sources.items()}
        for source_id, mine in rows.items():  # all checked before any is written, as ChromaAnchorIndex
            if any(a.source_id != source_id for a, _ in mine):
                raise ValueError(f"every anchor given must be of {source_id}")
        for source_id, mine in rows.items():
            new = {a.anchor_id: (a, list(e)) for a, e in mine}
            self._rows.update(new)
            for anchor_id in [i for i, (a, _) in self._rows.items() if a.source_id == source_id and i not in new]:
                del self._rows[anchor_id]

    def delete_sources(self, source_ids: Iterable[str]) -> None:
        gone = set(source_ids)
        for anchor_id in [i for i, (a, _) in self._rows.items() if a.source_id in gone]:
            del self._rows[anchor_id]

    def landing(
        self, embedding: Sequence[float], keys: Collection[Landing], audiences: frozenset[str]
    ) -> dict[Landing, float]:
        wanted = set(keys)
        out: dict[Landing, float] = {}
        for a, e in self._rows.values():
            if a.audience in audiences and a.landing in wanted:
                value = _cosine(embedding, e)
                out[a.landing] = max(out.get(a.landing, value), value)
        return out

    def of_source(self, source_id: str) -> list[Anchor]:
        return sorted((a for a, _ in self._rows.values() if a.source_id == source_id), key=lambda a: a.anchor_id)

    def manifest(self, source_ids: Collection[str] | None = None) -> dict[str, frozenset[str]]:
        out: dict[str, set[str]] = {}
        for a, _ in self._rows.values():
            if source_ids is None or a.source_id in source_ids:
                out.setdefault(a.source_id, set()).add(a.source_hash)
        return {sid: frozenset(hashes) for sid, hashes in out.items()}

    def count(self) -> int:
        return len(self._rows)


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return sum(x * y for x, y in zip(a, b, strict=True)) / norm if norm else 0.0
