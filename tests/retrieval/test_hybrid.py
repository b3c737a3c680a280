"""Hybrid retrieval: weighted fusion and ranking by source (keyword search: tests/index, test_keyword.py)."""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence

import pytest

from deflect.domain.models import Chunk, ScoredChunk
from deflect.errors import IndexUnavailable
from deflect.retrieval.hybrid import (
    CHUNKS_PER_SOURCE,
    RELEASE_NOTES_PENALTY,
    HybridRetriever,
    fuse,
    is_release_notes,
    rank_sources,
)
from deflect.retrieval.keyword import KeywordSearch
from deflect.testing.fakes import HashEmbedder, InMemoryIndex
from deflect.testing.keyword import InMemoryKeywordIndex


def chunk(chunk_id: str, text: str = "", audience: str = "public") -> Chunk:
    """`chunk_id` is `<source>#<n>`; the source id is the part before '#'."""
    source_id = chunk_id.split("#")[0]
    return Chunk(
        chunk_id=chunk_id,
        source_id=source_id,
        kind="article",
        title=f"Title {source_id}",
        url=f"https://help.example/{source_id}",
        audience=audience,  # type: ignore[arg-type]
        text=text or chunk_id,
        origin=f"{source_id}.md",
        source_hash="h",
        source_chunks=1,
    )


def dense(chunk_id: str, cosine: float) -> ScoredChunk:
    return ScoredChunk(chunk=chunk(chunk_id), dense=cosine, score=cosine)


def keyword(chunk_id: str, bm25: float) -> ScoredChunk:
    return ScoredChunk(chunk=chunk(chunk_id), keyword=bm25)


def ranked(chunk_id: str, score: float, cosine: float | None = None) -> ScoredChunk:
    return ScoredChunk(chunk=chunk(chunk_id), dense=score if cosine is None else cosine, score=score)


# fuse


def test_fuse_merges_by_chunk_id_and_adds_weighted_keyword_scores() -> None:
    fused = fuse(
        [dense("a#0", 0.9), dense("b#0", 0.6), dense("c#0", 0.4)],
        [keyword("b#0", 1.0), keyword("d#0", 0.5)],
        weight=0.2,
    )

    by_id = {h.chunk.chunk_id: h for h in fused}
    assert len(fused) == 4
    assert by_id["b#0"].dense == pytest.approx(0.6) and by_id["b#0"].keyword == pytest.approx(1.0)
    assert by_id["b#0"].score == pytest.approx(0.6 + 0.2 * 1.0)
    assert by_id["a#0"].score == pytest.approx(0.9)
    assert by_id["c#0"].score == pytest.approx(0.4)
    assert [h.chunk.chunk_id for h in fused] == ["a#0", "b#0", "d#0", "c#0"]


def titled(hit: ScoredChunk, title: str, heading_path: str = "") -> ScoredChunk:
    return hit.model_copy(update={"chunk": hit.chunk.model_copy(update={"title": title, "heading_path": heading_path})})


@pytest.mark.parametrize(
    ("title", "heading_path"),
    [
        ("Change Log", ""),
        ("Important notes", "Change Log > Version 1.2.4 (2023-03-24)"),
        ("2. NEWS", ""),
        ("3. OLDER NEWS", ""),
        ("Kettle", "Release notes > 3.1"),
        ("Kettle", "Version 3.1.0"),
        ("Release History Of Kettle", ""),
        ("History Of Kettle Releases", ""),
        ("Recent Kettle News", ""),
        ("Kettle", "2018-09-15 (3.25.0)"),
        ("CHANGES", "[1.0.0] - 2017-06-20"),
        ("Kettle", "v2.1.0"),
    ],
)
def test_a_release_notes_chunk_ranks_below_the_page_it_changed_at_like_relevance(title: str, heading_path: str) -> None:
    # a change log names every option in passing ("create --compression lz4 added"); the how-to is on the command page
    notes = titled(dense("changes#4", 0.62), title, heading_path)
    command = titled(dense("create#2", 0.60), "kettle create", "Description")

    fused = fuse([notes, command], [], weight=0.05)

    assert [h.chunk.chunk_id for h in fused] == ["create#2", "changes#4"]
    assert fused[1].score == pytest.approx(0.62 - RELEASE_NOTES_PENALTY)


@pytest.mark.parametrize(
    ("title", "heading_path"),
    [
        ("Kettle", "9.1. Overview"),  # a numbered section of a DocBook manual
        ("Upgrading to version 2", "Before you start"),
        ("Newsletter settings", "Unsubscribe"),
        ("News feed is empty", "Refresh the feed"),  # a product's news feature
        ("Kettle", "Versioning your recipes"),
        ("History of the kettle", "Early days"),
        ("Kettle", "1. Installing"),
        ("Backing up your history", "Exporting 2.1 files"),
        ("Kettle", "Newsletter sign-up"),
    ],
)
def test_a_numbered_section_or_a_page_about_versions_is_not_release_notes(title: str, heading_path: str) -> None:
    assert not is_release_notes(titled(dense("a#0", 0.5), title, heading_path).chunk)


def test_an_escalation_about_a_changelog_is_not_release_notes() -> None:
    hit = titled(dense("esc#0", 0.5), "Changelog page is blank after the update", "Problem")
    escalation = hit.chunk.model_copy(update={"kind": "escalation"})

    assert is_release_notes(hit.chunk)  # the same words on an article page would be
    assert not is_release_notes(escalation)


def test_a_keyword_only_chunk_gets_the_lowest_dense_score_seen() -> None:
    fused = fuse([dense("a#0", 0.8), dense("b#0", 0.35)], [keyword("z#0", 0.5)], weight=0.1)

    z = next(h for h in fused if h.chunk.chunk_id == "z#0")
    assert z.dense == pytest.approx(0.35)
    assert z.score == pytest.approx(0.35 + 0.1 * 0.5)
    assert [h.chunk.chunk_id for h in fused] == ["a#0", "z#0", "b#0"]


def test_keyword_only_fusion_ranks_by_keyword_score() -> None:
    fused = fuse([], [keyword("a#0", 0.3), keyword("b#0", 1.0)], weight=1.0)

    assert [h.chunk.chunk_id for h in fused] == ["b#0", "a#0"]
    assert [h.score for h in fused] == [pytest.approx(1.0), pytest.approx(0.3)]


def test_zero_weight_keeps_the_dense_order() -> None:
    dense_hits = [dense("c#0", 0.9), dense("a#0", 0.7), dense("b#0", 0.5), dense("d#0", 0.45)]
    keyword_hits = [keyword("d#0", 1.0), keyword("b#0", 0.9), keyword("e#0", 0.8)]

    fused = fuse(dense_hits, keyword_hits, weight=0.0)

    kept = [h for h in fused if h.chunk.chunk_id != "e#0"]
    assert [h.chunk.chunk_id for h in kept] == ["c#0", "a#0", "b#0", "d#0"]
    assert [h.score for h in kept] == [pytest.approx(x) for x in (0.9, 0.7, 0.5, 0.45)]


def test_fuse_leaves_its_inputs_unchanged() -> None:
    dense_hits = [dense("a#0", 0.5)]
    keyword_hits = [keyword("a#0", 1.0), keyword("b#0", 0.4)]

    fuse(dense_hits, keyword_hits, weight=0.5)

    assert (dense_hits[0].keyword, dense_hits[0].score) == (0.0, 0.5)
    assert (keyword_hits[1].dense, keyword_hits[1].score) == (0.0, 0.0)


# rank_sources


def test_rank_sources_groups_by_source_and_scores_each_by_its_best_chunk() -> None:
    chunks = [
        ranked("s1#2", 0.9, cosine=0.5),
        ranked("s2#0", 0.8),
        ranked("s1#0", 0.7, cosine=0.75),
        ranked("s3#1", 0.6),
        ranked("s2#4", 0.5),
    ]

    hits = rank_sources(chunks, k=10)

    assert [h.source_id for h in hits] == ["s1", "s2", "s3"]
    assert [h.score for h in hits] == [0.9, 0.8, 0.6]
    s1 = hits[0]
    assert [c.chunk.chunk_id for c in s1.chunks] == ["s1#2", "s1#0"]
    assert s1.dense == pytest.approx(0.75)  # best cosine of the source, not of its best fused chunk
    assert (s1.title, s1.url, s1.kind) == ("Title s1", "https://help.example/s1", "article")


def test_rank_sources_keeps_at_most_three_chunks_per_source() -> None:
    chunks = [ranked(f"s1#{i}", 0.9 - 0.1 * i) for i in range(5)]

    (hit,) = rank_sources(chunks, k=10)

    assert CHUNKS_PER_SOURCE == 3
    assert [c.chunk.chunk_id for c in hit.chunks] == ["s1#0", "s1#1", "s1#2"]


def test_rank_sources_sorts_best_first_and_cuts_at_k() -> None:
    chunks = sorted([ranked(f"s{i}#0", i / 10) for i in range(1, 8)], key=lambda h: -h.score)

    hits = rank_sources(chunks, k=3)

    assert [h.source_id for h in hits] == ["s7", "s6", "s5"]
    assert rank_sources([], k=3) == []


def test_rank_sources_breaks_score_ties_by_source_id() -> None:
    hits = rank_sources([ranked("zeta#0", 0.5), ranked("alpha#0", 0.5)], k=10)

    assert [h.source_id for h in hits] == ["alpha", "zeta"]


# retrieve: the keyword search runs while the question is embedded


PUBLIC = frozenset({"public"})
TEXTS = {
    "reset#0": "Reset your password from the sign-in page.",
    "reset#1": "A password reset link expires after one hour.",
    "billing#0": "Invoices are sent on the first day of the month.",
    "export#0": "Export your data as CSV from the settings page.",
    "secret#0": "Internal: reset a locked password by hand in the admin tool.",
}


def filled(embedder: HashEmbedder) -> tuple[InMemoryIndex, InMemoryKeywordIndex]:
    chunks = [chunk(cid, text, "internal" if cid.startswith("secret") else "public") for cid, text in TEXTS.items()]
    index, keyword_index = InMemoryIndex(), InMemoryKeywordIndex()
    index.upsert(chunks, embedder.embed([c.text for c in chunks]))
    keyword_index.upsert(chunks)
    return index, keyword_index


def test_retrieve_gives_what_the_sequential_steps_give() -> None:
    embedder = HashEmbedder()
    index, keyword_index = filled(embedder)
    retriever = HybridRetriever(index, embedder, KeywordSearch(keyword_index, index), 0.3, 40)
    question = "how do I reset my password on the settings page"

    got = retriever.retrieve(question, PUBLIC, k=10)

    vector = embedder.embed([question])[0]
    expected = rank_sources(fuse(index.query(vector, 40, PUBLIC), keyword_index.search(question, 40, PUBLIC), 0.3), 10)
    assert got == expected
    assert [h.source_id for h in got] == [h.source_id for h in expected] and len(got) == 3  # never "secret"
    dense, keyword_hits = retriever.candidates(question, PUBLIC)
    assert keyword_hits == keyword_index.search(question, 40, PUBLIC) and dense == index.query(vector, 40, PUBLIC)


class _Handshake:
    """An embedder that waits for the keyword search to start, and a keyword index that says when it started: in
    line (search after embedding) the embedder would give up waiting."""

    def __init__(self, inner: InMemoryKeywordIndex, embedder: HashEmbedder) -> None:
        self.started = threading.Event()
        self.overlapped = False
        self._inner, self._embedder = inner, embedder
        self.name, self.dimension = embedder.name, embedder.dimension

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.overlapped = self.started.wait(timeout=5)
        return self._embedder.embed(texts)

    def embed_questions(self, texts: Sequence[str]) -> list[list[float]]:
        return self.embed(texts)

    def search(self, query: str, k: int, audiences: frozenset[str]) -> list[ScoredChunk]:
        self.started.set()
        return self._inner.search(query, k, audiences)

    def count(self) -> int:
        return self._inner.count()

    def chunks(self, chunk_ids: Collection[str], audiences: frozenset[str]) -> list[Chunk]:
        return self._inner.chunks(chunk_ids, audiences)


def test_the_keyword_search_runs_while_the_question_is_embedded() -> None:
    index, keyword_index = filled(HashEmbedder())
    both = _Handshake(keyword_index, HashEmbedder())
    retriever = HybridRetriever(index, both, KeywordSearch(both, index), 0.3, 40)  # type: ignore[arg-type]

    hits = retriever.retrieve("password reset", PUBLIC)

    assert both.overlapped
    assert hits[0].source_id == "reset" and hits[0].chunks[0].keyword > 0


class _Failing(InMemoryKeywordIndex):
    def search(self, query: str, k: int, audiences: frozenset[str]) -> list[ScoredChunk]:
        raise IndexUnavailable("the keyword index is locked")


def test_a_failing_keyword_search_fails_the_retrieval_as_in_line() -> None:
    embedder = HashEmbedder()
    index, _ = filled(embedder)
    retriever = HybridRetriever(index, embedder, KeywordSearch(_Failing(), index), 0.3, 40)

    with pytest.raises(IndexUnavailable, match="locked"):
        retriever.retrieve("password reset", PUBLIC)
    # Without keyword fusion the keyword index is not searched at all.
    assert HybridRetriever(index, embedder, KeywordSearch(_Failing(), index), 0.0, 40).retrieve("reset", PUBLIC)


# The dense side's chunks: ids and cosines from the vector index, the chunks themselves from the keyword index


def test_dense_candidates_read_from_the_keyword_index_are_the_vector_index_query() -> None:
    embedder = HashEmbedder()
    index, keyword_index = filled(embedder)
    retriever = HybridRetriever(index, embedder, KeywordSearch(keyword_index, index), 0.0, 40)
    vector = embedder.embed(["password reset page"])[0]

    dense, _ = retriever.candidates("password reset page", PUBLIC)

    assert dense == index.query(vector, 40, PUBLIC) and len(dense) == 4


def test_a_chunk_the_keyword_index_lacks_is_read_from_the_vector_index() -> None:
    embedder = HashEmbedder()
    index, keyword_index = filled(embedder)
    keyword_index.delete_chunks(["reset#1", "secret#0"])  # a write between the two indexes, or a backfill to come
    retriever = HybridRetriever(index, embedder, KeywordSearch(keyword_index, index), 0.0, 40)
    vector = embedder.embed(["password reset"])[0]

    for audiences in (PUBLIC, frozenset({"public", "internal"})):
        dense, _ = retriever.candidates("password reset", audiences)

        assert dense == index.query(vector, 40, audiences)
    assert "secret#0" in {s.chunk.chunk_id for s in dense}


class _Ghost(InMemoryIndex):
    """Its kNN still finds a chunk that was deleted (from both indexes) before the chunks were read."""

    def nearest(self, embedding: Sequence[float], k: int, audiences: frozenset[str]) -> list[tuple[str, float]]:
        return [("gone#0", 0.99), *super().nearest(embedding, k, audiences)]


def test_a_chunk_deleted_between_the_knn_and_the_read_is_left_out() -> None:
    embedder = HashEmbedder()
    plain, keyword_index = filled(embedder)
    index = _Ghost()
    index.upsert(plain.chunks(), embedder.embed([c.text for c in plain.chunks()]))
    retriever = HybridRetriever(index, embedder, KeywordSearch(keyword_index, index), 0.0, 40)

    dense, _ = retriever.candidates("password reset", PUBLIC)

    assert "gone#0" not in {s.chunk.chunk_id for s in dense}
    assert dense == plain.query(embedder.embed(["password reset"])[0], 40, PUBLIC)


class _Unreadable(InMemoryKeywordIndex):
    def chunks(self, chunk_ids: Collection[str], audiences: frozenset[str]) -> list[Chunk]:
        raise IndexUnavailable("the keyword index failed while reading: database is locked")


def test_an_unreadable_keyword_index_leaves_the_dense_candidates_to_the_vector_index() -> None:
    embedder = HashEmbedder()
    index, _ = filled(embedder)
    retriever = HybridRetriever(index, embedder, KeywordSearch(_Unreadable(), index), 0.0, 40)

    dense, _ = retriever.candidates("password reset", PUBLIC)

    assert dense == index.query(embedder.embed(["password reset"])[0], 40, PUBLIC) and dense
