"""find_gaps: cluster the questions that went badly in a window and say what the KB offers and gets wrong there."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import numpy as np

from deflect.domain.models import ScoredChunk
from deflect.domain.ports import Embedder, Index
from deflect.gaps.cluster import cluster
from deflect.gaps.contradiction import differs, older, parse_when
from deflect.gaps.models import (
    Contradiction,
    GapCluster,
    GapParams,
    GapQuestion,
    GapReport,
    NearestSource,
    Recurrence,
    Resolution,
)

EVERYONE = frozenset({"public", "internal"})  # gaps are a staff view: internal sources count too
RESOLUTION_LABEL = "Resolution:"  # how ingestion joins an escalation's question and resolution in a chunk

METHOD = (
    "Questions escalated or marked unhelpful in the window are embedded and grouped by average-linkage "
    "agglomerative clustering (merge while the mean pairwise cosine >= cluster_threshold). Nearest sources: the "
    "index queried with the normalised centroid, best chunk per source. A resolution is related to a cluster when "
    "its escalation is a member, or its question (a resolved escalation in the store, or an `esc:` source among "
    "the centroid's hits) has mean cosine >= cluster_threshold with the members, i.e. it would have joined the "
    "cluster. recurring_after_resolution: some member was escalated or marked unhelpful after a related "
    "resolution was resolved. contradicted_article: a nearest source (an article, or an older `esc:` entry) was "
    "last updated before a related resolution's day, one of its chunks has cosine >= contradiction_threshold with "
    "the resolution text, the resolution contains a replacement cue (no longer, instead, deprecated, superseded, "
    "now, don't, ...) and fewer than max_overlap of the resolution's content words appear in that chunk."
)


def canonical_id(source_or_escalation_id: str) -> str:
    """`esc:ESC-1083-public` and `ESC-1083` name the same resolution."""
    name = source_or_escalation_id.removeprefix("esc:")
    return name.removesuffix("-public")


def find_gaps(
    questions: Sequence[GapQuestion],
    embedder: Embedder,
    index: Index,
    resolved: Sequence[Resolution],
    now: datetime,
    window: timedelta,
    min_size: int = 2,
    params: GapParams | None = None,
) -> GapReport:
    """The gap report for questions in [now - window, now]; clusters smaller than `min_size` are left out."""
    params = params or GapParams()
    since = now - window
    picked = _in_window(questions, since, now)
    report = GapReport(
        since=since,
        until=now,
        min_size=min_size,
        questions=len(picked),
        escalated=sum(q.origin == "escalated" for q in picked),
        unhelpful=sum(q.origin == "unhelpful" for q in picked),
        clustered=0,
        params=params,
        method=METHOD,
        clusters=[],
    )
    if not picked:
        return report
    vectors = np.asarray(embedder.embed_questions([q.text for q in picked]), dtype=np.float64)
    groups = [g for g in cluster([q.text for q in picked], vectors, params.cluster_threshold) if len(g) >= min_size]
    known = [r for r in resolved if r.resolved_at <= now]
    known_vectors = (
        np.asarray(embedder.embed_questions([r.question for r in known]), dtype=np.float64) if known else None
    )
    texts = _TextVectors(embedder)
    clusters = [
        _describe([picked[i] for i in g], vectors[g], index, known, known_vectors, texts, params) for g in groups
    ]
    clusters.sort(key=lambda c: (-c.size, -c.last_at.timestamp(), c.label))
    report.clusters = [c.model_copy(update={"id": f"gap-{n}"}) for n, c in enumerate(clusters, 1)]
    report.clustered = sum(c.size for c in clusters)
    return report


def _in_window(questions: Iterable[GapQuestion], since: datetime, until: datetime) -> list[GapQuestion]:
    """Questions in the window, one per answer (an escalation wins over unhelpful feedback on the same answer)."""
    inside = [q for q in questions if since <= q.at <= until]
    inside.sort(key=lambda q: (q.origin != "escalated", q.at, q.text))
    seen: set[str] = set()
    kept = []
    for q in inside:
        if q.answer_id is not None:
            if q.answer_id in seen:
                continue
            seen.add(q.answer_id)
        kept.append(q)
    kept.sort(key=lambda q: (q.at, q.text))
    return kept


class _TextVectors:
    """Embeds each distinct text once per report (chunks and resolutions recur across clusters)."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder
        self._cache: dict[tuple[bool, str], np.ndarray] = {}

    def get(self, texts: Sequence[str], questions: bool = False) -> list[np.ndarray]:
        """Vectors of `texts`, embedded as questions or as what the KB says."""
        missing = sorted({t for t in texts if (questions, t) not in self._cache})
        if missing:
            embed = self._embedder.embed_questions if questions else self._embedder.embed
            for text, vec in zip(missing, embed(missing), strict=True):
                self._cache[questions, text] = np.asarray(vec, dtype=np.float64)
        return [self._cache[questions, t] for t in texts]


def _describe(
    members: list[GapQuestion],
    vectors: np.ndarray,
    index: Index,
    known: Sequence[Resolution],
    known_vectors: np.ndarray | None,
    texts: _TextVectors,
    params: GapParams,
) -> GapCluster:
    mean = vectors.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    centroid = mean / norm if norm > 0 else mean
    closeness = vectors @ centroid
    ranked = sorted(range(len(members)), key=lambda i: (-round(float(closeness[i]), 9), members[i].text))
    examples: list[str] = []
    for i in ranked:
        if members[i].text not in examples:
            examples.append(members[i].text)
    hits = index.query(centroid.tolist(), params.candidates, EVERYONE)
    nearest: list[NearestSource] = []
    for hit in hits:
        if len(nearest) < params.sources and all(n.source_id != hit.chunk.source_id for n in nearest):
            c = hit.chunk
            nearest.append(
                NearestSource(
                    source_id=c.source_id,
                    title=c.title,
                    kind=c.kind,
                    audience=c.audience,
                    updated=c.updated,
                    chunk_id=c.chunk_id,
                    score=round(hit.dense, 4),
                )
            )
    member_ids = {q.escalation_id for q in members if q.escalation_id}
    related = _related(member_ids, mean, known, known_vectors, hits, texts, params)
    recurrences = _recurrences(members, related)
    contradictions = _contradictions(nearest, related, index, texts, params)
    return GapCluster(
        id="",
        label=examples[0],
        size=len(members),
        escalated=sum(q.origin == "escalated" for q in members),
        unhelpful=sum(q.origin == "unhelpful" for q in members),
        first_at=min(q.at for q in members),
        last_at=max(q.at for q in members),
        examples=examples[: params.examples],
        escalation_ids=sorted(member_ids),
        nearest_sources=nearest,
        recurring_after_resolution=bool(recurrences),
        recurrences=recurrences,
        contradicted_article=bool(contradictions),
        contradictions=contradictions,
    )


def _related(
    member_ids: set[str],
    mean: np.ndarray,
    known: Sequence[Resolution],
    known_vectors: np.ndarray | None,
    hits: Sequence[ScoredChunk],
    texts: _TextVectors,
    params: GapParams,
) -> list[tuple[Resolution, float]]:
    """Resolutions of this cluster's problem with their closeness, oldest first: store resolutions, `esc:` hits.

    v . mean is the mean cosine of v with the members, so "related" means the resolution's question would have
    joined the cluster (the same average-linkage test as clustering)."""
    found: dict[str, tuple[Resolution, float]] = {}
    if known_vectors is not None:
        for r, sim in zip(known, (known_vectors @ mean).tolist(), strict=True):
            if r.id in member_ids or sim >= params.cluster_threshold:
                found.setdefault(canonical_id(r.id), (r, round(float(sim), 4)))
    candidates: dict[str, Resolution] = {}
    for hit in hits:  # best chunk first: keep one per source
        chunk = hit.chunk
        when = parse_when(chunk.updated)
        key = canonical_id(chunk.source_id)
        if chunk.kind != "escalation" or when is None or key in found or key in candidates:
            continue
        question = chunk.text[: chunk.quote_from].strip().removesuffix(RESOLUTION_LABEL).strip()
        candidates[key] = Resolution(
            id=key, question=question, resolution=chunk.quotable, resolved_at=when, source_id=chunk.source_id
        )
    questions = [r.question for r in candidates.values()]
    for (key, res), vec in zip(candidates.items(), texts.get(questions, questions=True), strict=True):
        sim = float(vec @ mean)
        if sim >= params.cluster_threshold:
            found[key] = (res, round(sim, 4))
    return sorted(found.values(), key=lambda pair: (pair[0].resolved_at, pair[0].id))


def _recurrences(members: Sequence[GapQuestion], related: Sequence[tuple[Resolution, float]]) -> list[Recurrence]:
    out = []
    for res, sim in related:
        later = [q for q in members if q.at > res.resolved_at and q.escalation_id != res.id]
        if later:
            out.append(
                Recurrence(
                    resolution_id=res.id,
                    source_id=res.source_id,
                    resolved_at=res.resolved_at,
                    similarity=sim,
                    later=len(later),
                    later_escalation_ids=sorted(q.escalation_id for q in later if q.escalation_id),
                )
            )
    return out


def _contradictions(
    nearest: Sequence[NearestSource],
    related: Sequence[tuple[Resolution, float]],
    index: Index,
    texts: _TextVectors,
    params: GapParams,
) -> list[Contradiction]:
    out = []
    for source in nearest:
        own = canonical_id(source.source_id)
        newer = [r for r, _ in related if r.id != own and older(source.updated, r.resolved_at)]
        if not newer:
            continue
        chunks = sorted(index.chunks(EVERYONE, source_ids={source.source_id}), key=lambda c: c.chunk_id)
        chunk_vectors = texts.get([c.text for c in chunks])
        for res in newer:
            (res_vector,) = texts.get([res.resolution])
            sims = [float(vec @ res_vector) for vec in chunk_vectors]
            close = [
                (sim, chunk) for sim, chunk in zip(sims, chunks, strict=True) if sim >= params.contradiction_threshold
            ]
            if not close:
                continue
            # The source already says it if any chunk about the same thing holds most of the resolution's words.
            shares = [differs(res.resolution, chunk.quotable or chunk.text, params.max_overlap) for _, chunk in close]
            if not all(different for different, _, _ in shares):
                continue
            best = max(range(len(close)), key=lambda i: (close[i][0], -i))
            sim, chunk = close[best]
            out.append(
                Contradiction(
                    source_id=source.source_id,
                    source_kind=source.kind,
                    source_updated=source.updated,
                    chunk_id=chunk.chunk_id,
                    resolution_id=res.id,
                    resolution_source_id=res.source_id,
                    resolved_at=res.resolved_at,
                    similarity=round(sim, 4),
                    overlap=round(max(share for _, _, share in shares), 4),
                    cues=shares[best][1],
                )
            )
    return out
