"""Grounded extractive answers: the best-supported sentences and steps of the top sources, each marked [n].

Nothing is paraphrased, so every sentence of an answer is, verbatim, text of the source it cites.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from deflect.answer.units import Unit, split_units
from deflect.domain.models import Answer, Citation, SourceHit
from deflect.domain.ports import Embedder

# A second source is cited only when it is nearly as relevant as the first; otherwise it dilutes the answer.
SECOND_SOURCE_RATIO = 0.9
# Units must score at least this share of the best unit's similarity to be included.
UNIT_RATIO = 0.75
MAX_STEPS = 8
SNIPPET_CHARS = 240
# Long resolutions hold hundreds of sentences; embedding them all per question costs seconds. Candidates come in
# order (best source, best chunk, earliest sentence), so the cap drops the least likely ones.
MAX_CANDIDATES = 48


@dataclass
class _Candidate:
    unit: Unit
    source_rank: int
    chunk_rank: int
    chunk_key: str
    score: float = 0.0


class ExtractiveGenerator:
    """Selects sentences by embedding similarity to the question; includes whole procedures when a step wins."""

    name = "extractive"

    def __init__(self, embedder: Embedder, max_sources: int = 2, max_sentences: int = 4) -> None:
        self._embedder = embedder
        self._max_sources = max_sources
        self._max_sentences = max_sentences

    def generate(self, question: str, sources: Sequence[SourceHit]) -> Answer:
        """Compose an answer from `sources` (best first)."""
        chosen_sources = _eligible_sources(sources, self._max_sources)
        candidates = [
            _Candidate(unit, s_rank, c_rank, scored.chunk.chunk_id)
            for s_rank, source in enumerate(chosen_sources)
            for c_rank, scored in enumerate(source.chunks)
            for unit in split_units(scored.chunk.quotable)
        ]
        candidates = _dedupe(candidates)[:MAX_CANDIDATES]
        if not candidates:
            return Answer(text="", citations=[])
        # Wire a CachedEmbedder in (wiring does): the question and recurring sentences are then embedded once.
        vectors = self._embedder.embed([question, *[c.unit.text for c in candidates]])
        q = vectors[0]
        for cand, vec in zip(candidates, vectors[1:], strict=True):
            # Earlier chunks of better sources win ties: retrieval already judged them more relevant.
            cand.score = _dot(q, vec) - 0.02 * cand.source_rank - 0.01 * cand.chunk_rank
        picked = self._select(candidates)
        return _compose(picked, chosen_sources)

    def _select(self, candidates: list[_Candidate]) -> list[_Candidate]:
        ranked = sorted(candidates, key=lambda c: -c.score)
        best = ranked[0]
        if best.unit.numbered and best.unit.list_id is not None:
            # A winning step means the answer is a procedure: give the whole list, in order.
            steps = [c for c in candidates if c.chunk_key == best.chunk_key and c.unit.list_id == best.unit.list_id][
                :MAX_STEPS
            ]
            lead = [
                c
                for c in candidates
                if c.chunk_key == best.chunk_key
                and c.unit.list_id is None
                and c.unit.position < steps[0].unit.position
                and c.score >= UNIT_RATIO * best.score
            ][-1:]
            return lead + steps
        floor = UNIT_RATIO * best.score
        picked = [c for c in ranked if c.score >= floor][: self._max_sentences]
        return sorted(picked, key=lambda c: (c.source_rank, c.chunk_rank, c.unit.position))


def _eligible_sources(sources: Sequence[SourceHit], limit: int) -> list[SourceHit]:
    if not sources:
        return []
    top = sources[0].score
    return [s for i, s in enumerate(sources[:limit]) if i == 0 or s.score >= SECOND_SOURCE_RATIO * top]


def _dedupe(candidates: list[_Candidate]) -> list[_Candidate]:
    """Overlapping chunks repeat sentences; keep the first occurrence."""
    seen: set[str] = set()
    out = []
    for cand in candidates:
        key = " ".join(cand.unit.text.lower().split())
        if key not in seen:
            seen.add(key)
            out.append(cand)
    return out


def _compose(picked: list[_Candidate], sources: list[SourceHit]) -> Answer:
    numbers: dict[int, int] = {}
    citations: list[Citation] = []
    lines: list[str] = []
    for cand in picked:
        if cand.source_rank not in numbers:
            numbers[cand.source_rank] = len(numbers) + 1
            source = sources[cand.source_rank]
            chunk = source.chunks[cand.chunk_rank].chunk
            citations.append(
                Citation(
                    n=numbers[cand.source_rank],
                    source_id=source.source_id,
                    title=source.title,
                    url=source.url,
                    snippet=_snippet(chunk.quotable, cand.unit.text),
                )
            )
        lines.append(f"{cand.unit.text} [{numbers[cand.source_rank]}]")
    steps = any(c.unit.list_id is not None for c in picked)
    text = ("\n" if steps else " ").join(lines)
    return Answer(text=text, citations=citations, sentences=[c.unit.text for c in picked])


def _snippet(text: str, around: str) -> str:
    start = max(0, text.find(around))
    snippet = text[start : start + SNIPPET_CHARS].strip()
    return snippet + ("…" if start + SNIPPET_CHARS < len(text) else "")


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return float(sum(x * y for x, y in zip(a, b, strict=True)))
