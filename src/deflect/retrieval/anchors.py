"""Anchor text at question time: the link sentences nearest the question move the pages they land on up.

Measured in session 9 (docs/retrieval.md, "anchor text"): a candidate chunk of a section that an anchor lands on
(the section of the link's fragment; a link without one: the page's first section) adds weight x max(0, cosine -
floor) of its best such anchor, and that bonus only ORDERS sources. Each source keeps its own chunks, in their own
order, and its own unboosted score, so confidence, the answer's passages and the self-calibration never see it:
letting confidence see it answered an out-of-scope question on the sample kb.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from deflect.domain.models import Chunk, Landing, ScoredChunk, SourceHit
from deflect.ingest.links import page_url


def landing_keys(chunks: Sequence[ScoredChunk]) -> set[Landing]:
    """Every (target, fragment) an anchor landing on one of these chunks' sections has: the only anchors that can
    move them (AnchorIndex.landing reads those, every one; session 10 read the 1,000 nearest of all anchors)."""
    return {key for scored in chunks for key in _landing_keys(scored.chunk)}


def anchor_bonus(
    chunks: Sequence[ScoredChunk], best: Mapping[Landing, float], weight: float, floor: float
) -> dict[str, float]:
    """Chunk id -> its bonus: weight x (cosine - floor) of the best anchor landing on its section (positive only);
    `best` is that cosine per (target, fragment), as AnchorIndex.landing gives it."""
    out: dict[str, float] = {}
    for scored in chunks:
        cosine = max((best.get(key, floor) for key in _landing_keys(scored.chunk)), default=floor)
        if cosine > floor:
            out[scored.chunk.chunk_id] = weight * (cosine - floor)
    return out


def _landing_keys(chunk: Chunk) -> list[Landing]:
    """The (target, fragment) pairs an anchor landing on this chunk's section has: by source id, and by page url."""
    targets = [chunk.source_id]
    if chunk.url:
        targets.append(page_url(chunk.url))
    return [(target, fragment) for target in targets for fragment in chunk.fragments]


def ordered_by_anchors(
    ranked: list[SourceHit], bonus: dict[str, float], fused: Sequence[ScoredChunk]
) -> list[SourceHit]:
    """`ranked` (every source of `fused`, as rank_sources gives them, maybe with feedback shifts in their scores)
    reordered by each source's score plus what its anchors add: how much its best chunk score with the bonus exceeds
    its best chunk score without it. The hits themselves (chunks, scores) unchanged."""
    if not bonus:
        return ranked
    with_bonus: dict[str, float] = {}
    without: dict[str, float] = {}
    for scored in fused:
        sid = scored.chunk.source_id
        value = scored.score + bonus.get(scored.chunk.chunk_id, 0.0)
        with_bonus[sid] = max(with_bonus.get(sid, value), value)
        without[sid] = max(without.get(sid, scored.score), scored.score)
    lift = {sid: with_bonus[sid] - without[sid] for sid in with_bonus}
    return sorted(ranked, key=lambda h: (-(h.score + lift.get(h.source_id, 0.0)), h.source_id))
