"""Anchor text at question time: link sentences near the question move the pages they land on, order only.

A made-up `frob` manual: the page that answers ("Timeouts") says little in the asker's words; another page links
to it with a sentence that does. The vectors are the hash embedder's, so every cosine here is computed, not set.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import pytest

from deflect.domain.cosine import CosineScale
from deflect.domain.models import Anchor, Chunk, Landing, ScoredChunk, SourceHit
from deflect.retrieval.anchors import anchor_bonus, landing_keys
from deflect.retrieval.hybrid import Adjust, HybridRetriever
from deflect.testing.anchors import InMemoryAnchorIndex
from deflect.testing.fakes import HashEmbedder, InMemoryIndex

QUESTION = "how long does frob wait when the database is busy"
PUBLIC = frozenset({"public"})
EVERYONE = frozenset({"public", "internal"})


def chunk(chunk_id: str, text: str, fragments: tuple[str, ...] = ("",), audience: str = "public") -> Chunk:
    source_id = chunk_id.split("#")[0]
    return Chunk(
        chunk_id=chunk_id,
        source_id=source_id,
        kind="article",
        title=source_id,
        url=f"https://frob.example/{source_id.removeprefix('doc:')}",
        audience=audience,  # type: ignore[arg-type]
        text=text,
        origin=source_id.removeprefix("doc:") + ".html",
        source_hash="h",
        source_chunks=2,
        fragments=fragments,
    )


# The page that wins on its own words, and the one other pages link to about the question.
OVERVIEW = chunk("doc:overview#0", "frob overview: the database file, when frob is busy it will wait")
TIMEOUTS = [
    chunk("doc:timeouts#0", "Set the timeout in milliseconds with frob_set_timeout", ("", "intro")),
    chunk("doc:timeouts#1", "Retries happen after a lock is released by the database", ("retry",)),
]
LINK = "You can change how long frob will wait when the database is busy with frob_set_timeout"


def anchor(sentence: str = LINK, audience: str = "public", fragment: str = "", target: str = "doc:timeouts") -> Anchor:
    return Anchor(
        source_id="doc:locking",
        source_hash="h",
        audience=audience,  # type: ignore[arg-type]
        target=target,
        fragment=fragment,
        text="frob_set_timeout",
        sentence=sentence,
    )


class CountingAnchors(InMemoryAnchorIndex):
    def __init__(self) -> None:
        super().__init__()
        self.searches = 0

    def landing(
        self, embedding: Sequence[float], keys: Collection[Landing], audiences: frozenset[str]
    ) -> dict[Landing, float]:
        self.searches += 1
        return super().landing(embedding, keys, audiences)


@pytest.fixture
def embedder() -> HashEmbedder:
    return HashEmbedder()


def retriever(
    embedder: HashEmbedder,
    anchors: list[Anchor],
    weight: float = 1.0,
    store: CountingAnchors | None = None,
    adjust: Adjust | None = None,
) -> HybridRetriever:
    index = InMemoryIndex()
    chunks = [OVERVIEW, *TIMEOUTS]
    index.upsert(chunks, embedder.embed([c.text for c in chunks]))
    store = store if store is not None else CountingAnchors()
    if anchors:
        store.replace("doc:locking", anchors, embedder.embed([a.sentence for a in anchors]))
    return HybridRetriever(
        index, embedder, None, 0.0, 10, adjust=adjust, anchors=store, anchor_weight=weight, anchor_floor=0.0
    )


def test_the_scene_without_anchors_puts_the_overview_first(embedder: HashEmbedder) -> None:
    hits = retriever(embedder, [], weight=0.0).retrieve(QUESTION, PUBLIC)
    assert [h.source_id for h in hits] == ["doc:overview", "doc:timeouts"]


def test_an_anchor_reorders_sources_but_changes_no_score_or_chunk(embedder: HashEmbedder) -> None:
    plain = retriever(embedder, [], weight=0.0).retrieve(QUESTION, PUBLIC)
    moved = retriever(embedder, [anchor()]).retrieve(QUESTION, PUBLIC)
    assert [h.source_id for h in moved] == ["doc:timeouts", "doc:overview"]
    # Order only: each source keeps its own score (what confidence reads) and its own chunks in their order.
    before = {h.source_id: h for h in plain}
    for hit in moved:
        assert hit.score == before[hit.source_id].score
        assert hit.dense == before[hit.source_id].dense
        assert [c.chunk.chunk_id for c in hit.chunks] == [c.chunk.chunk_id for c in before[hit.source_id].chunks]
        assert [c.score for c in hit.chunks] == [c.score for c in before[hit.source_id].chunks]


def shift(source_id: str, by: float) -> Adjust:
    """Feedback as the retriever sees it: a score shift for one source, then a re-sort by score."""

    def adjust(vector: Sequence[float], hits: list[SourceHit]) -> list[SourceHit]:
        out = [h.model_copy(update={"score": h.score + by}) if h.source_id == source_id else h for h in hits]
        return sorted(out, key=lambda h: (-h.score, h.source_id))

    return adjust


def test_feedback_shifts_add_to_the_anchors_order_instead_of_undoing_it(embedder: HashEmbedder) -> None:
    plain = {h.source_id: h.score for h in retriever(embedder, [], weight=0.0).retrieve(QUESTION, PUBLIC)}
    # A vote that nudges the overview up by less than the anchors lift the timeouts page: the anchors' order holds.
    nudged = retriever(embedder, [anchor()], adjust=shift("doc:overview", 0.001)).retrieve(QUESTION, PUBLIC)
    assert [h.source_id for h in nudged] == ["doc:timeouts", "doc:overview"]
    assert nudged[1].score == pytest.approx(plain["doc:overview"] + 0.001), "feedback's shift is in the score"
    # A vote against the timeouts page larger than any lift moves it back down.
    sunk = retriever(embedder, [anchor()], adjust=shift("doc:timeouts", -5.0)).retrieve(QUESTION, PUBLIC)
    assert [h.source_id for h in sunk] == ["doc:overview", "doc:timeouts"]


def test_weight_zero_gives_identical_results_and_searches_no_anchor(embedder: HashEmbedder) -> None:
    store = CountingAnchors()
    off = retriever(embedder, [anchor()], weight=0.0, store=store).retrieve(QUESTION, PUBLIC)
    plain = retriever(embedder, [], weight=0.0).retrieve(QUESTION, PUBLIC)
    assert off == plain
    assert store.searches == 0


def test_an_internal_pages_anchor_never_reorders_a_customers_results(embedder: HashEmbedder) -> None:
    found = retriever(embedder, [anchor(audience="internal")])
    assert [h.source_id for h in found.retrieve(QUESTION, PUBLIC)] == ["doc:overview", "doc:timeouts"]
    assert [h.source_id for h in found.retrieve(QUESTION, EVERYONE)] == ["doc:timeouts", "doc:overview"]


def test_an_anchor_counts_however_many_others_are_nearer_the_question(embedder: HashEmbedder) -> None:
    # 1,200 anchors closer to the question than the link, landing on a page that is no candidate: a search for the
    # nearest 1,000 of all anchors (session 10) would not have read the link, which the exact read still finds.
    crowd = [anchor(f"{QUESTION} {i}", target="doc:elsewhere") for i in range(1200)]
    store = CountingAnchors()
    found = retriever(embedder, [*crowd, anchor()], store=store).retrieve(QUESTION, PUBLIC)
    assert [h.source_id for h in found] == ["doc:timeouts", "doc:overview"]
    assert store.searches == 1


def test_an_anchor_far_from_the_question_moves_nothing(embedder: HashEmbedder) -> None:
    hits = retriever(embedder, [anchor("Install the package from the archive")]).retrieve(QUESTION, PUBLIC)
    assert [h.source_id for h in hits] == ["doc:overview", "doc:timeouts"]


def test_the_floor_is_read_on_the_models_own_scale(embedder: HashEmbedder) -> None:
    # The floor (0 here) is a MiniLM cosine, which the link passes. A model whose unrelated texts sit at 0.78, as e5's
    # do, reads that floor as 0.763 on its own scale: the same link cosine (0.725) is unrelated there and moves nothing.
    link = sum(x * y for x, y in zip(*embedder.embed_questions([QUESTION, LINK]), strict=True))
    e5_like = CosineScale(0.78)
    assert 0.0 < link < e5_like.from_reference(0.0)
    found = retriever(embedder, [anchor()])
    assert [h.source_id for h in found.retrieve(QUESTION, PUBLIC)] == ["doc:timeouts", "doc:overview"]
    found.scale = lambda: e5_like
    assert [h.source_id for h in found.retrieve(QUESTION, PUBLIC)] == ["doc:overview", "doc:timeouts"]


def test_a_fragment_lands_on_its_section_and_no_fragment_on_the_first() -> None:
    candidates = [ScoredChunk(chunk=c, dense=0.5, score=0.5) for c in [OVERVIEW, *TIMEOUTS]]
    best = {("doc:timeouts", "retry"): 0.8}
    assert anchor_bonus(candidates, best, 0.2, 0.3) == {"doc:timeouts#1": pytest.approx(0.2 * 0.5)}
    assert set(anchor_bonus(candidates, {("doc:timeouts", ""): 0.8}, 0.2, 0.3)) == {"doc:timeouts#0"}
    # A section's best cosine counts, once, however many keys of the chunk's section it has; under the floor: nothing.
    best = {("doc:timeouts", ""): 0.6, ("doc:timeouts", "intro"): 0.7}
    assert anchor_bonus(candidates, best, 0.2, 0.3) == {"doc:timeouts#0": pytest.approx(0.2 * 0.4)}
    assert anchor_bonus(candidates, {("doc:timeouts", ""): 0.29}, 0.2, 0.3) == {}


def test_a_markdown_link_by_url_lands_on_the_page_with_that_url() -> None:
    candidates = [ScoredChunk(chunk=c, dense=0.5, score=0.5) for c in TIMEOUTS]
    assert landing_keys(candidates) >= {("https://frob.example/timeouts", ""), ("doc:timeouts", "")}
    best = {("https://frob.example/timeouts", ""): 0.8}
    assert set(anchor_bonus(candidates, best, 0.2, 0.3)) == {"doc:timeouts#0"}
