"""Contract tests every `Index` implementation must pass (in the manner of haystack's document-store tests).

Subclass `IndexContract` as a `Test...` class and override the `make_index` fixture so it returns a factory of
fresh, empty, mutually isolated indexes (for a server: a new collection per call):

    class TestMyIndex(IndexContract):
        @pytest.fixture
        def make_index(self, tmp_path):
            return lambda: MyIndex(tmp_path / "store", collection=f"c-{uuid.uuid4().hex}")

Plain pytest classes: no plugin is needed; `IndexContract` itself is not collected (its name lacks `Test`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import pytest

from deflect.domain.models import Chunk
from deflect.domain.ports import Index

PUBLIC = frozenset({"public"})
EVERYONE = frozenset({"public", "internal"})
DIM = 8


def unit(*values: float) -> list[float]:
    """A unit vector of dimension DIM from its leading components."""
    vec = [*values, *([0.0] * (DIM - len(values)))]
    norm = math.sqrt(sum(v * v for v in vec))
    return [v / norm for v in vec]


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine of two unit vectors."""
    return sum(x * y for x, y in zip(a, b, strict=True))


def make_chunk(chunk_id: str, audience: str = "public", text: str | None = None, **fields: object) -> Chunk:
    """A valid chunk with every field filled in, so a store that drops one is caught."""
    source_id = chunk_id.split("#", 1)[0]
    base: dict[str, object] = {
        "chunk_id": chunk_id,
        "source_id": source_id,
        "kind": "article",
        "title": f"Title of {source_id}",
        "heading_path": "Billing > Invoices",
        "url": f"https://help.example/{source_id}",
        "audience": audience,
        "product": "billing",
        "tags": ("invoices", "pdf"),
        "updated": "2026-02-01",
        "text": text if text is not None else f"Heading\n\nBody of {chunk_id}.",
        "embed_text": f"Title\n\nBody of {chunk_id}.",
        "quote_from": 9,
        "origin": f"articles/{source_id}.md",
        "source_hash": "hash-" + source_id,
        "source_chunks": 3,
    }
    base.update(fields)
    return Chunk.model_validate(base)


def _ids(chunks: Sequence[Chunk]) -> set[str]:
    return {c.chunk_id for c in chunks}


class IndexContract:
    """Behaviour shared by every Index: upsert/replace/delete, nearest-first search, audience filtering."""

    # Only written to be embedded; a store need not keep it, so round-trips compare every other field.
    NOT_STORED = frozenset({"embed_text"})

    @pytest.fixture
    def make_index(self) -> Callable[[], Index]:
        """Override: return a factory of fresh, empty, isolated indexes."""
        raise NotImplementedError("subclasses of IndexContract must override the make_index fixture")

    @pytest.fixture
    def index(self, make_index: Callable[[], Index]) -> Index:
        return make_index()

    def roundtrip(self, chunk: Chunk) -> dict[str, object]:
        return chunk.model_dump(exclude=set(self.NOT_STORED))

    # --- writing -------------------------------------------------------------------------------------------

    def test_empty_index(self, index: Index) -> None:
        assert index.count() == 0
        assert index.chunks() == []
        assert index.query(unit(1.0), k=5, audiences=EVERYONE) == []

    def test_upsert_then_count(self, index: Index) -> None:
        index.upsert(
            [make_chunk("a#0"), make_chunk("a#1"), make_chunk("b#0")], [unit(1.0), unit(0.0, 1.0), unit(0.0, 0.0, 1.0)]
        )

        assert index.count() == 3
        assert _ids(index.chunks()) == {"a#0", "a#1", "b#0"}

    def test_upsert_same_id_replaces_text_and_vector(self, index: Index) -> None:
        index.upsert([make_chunk("a#0", text="old text"), make_chunk("b#0")], [unit(1.0), unit(0.0, 1.0)])

        index.upsert([make_chunk("a#0", text="new text", source_hash="hash-2")], [unit(0.0, 0.0, 1.0)])

        assert index.count() == 2
        stored = {c.chunk_id: c for c in index.chunks()}
        assert stored["a#0"].text == "new text"
        assert stored["a#0"].source_hash == "hash-2"
        top = index.query(unit(0.0, 0.0, 1.0), k=1, audiences=EVERYONE)[0]
        assert top.chunk.chunk_id == "a#0"
        assert top.chunk.text == "new text"
        assert top.dense == pytest.approx(1.0, abs=1e-4)

    def test_delete_chunks_removes_and_ignores_unknown_ids(self, index: Index) -> None:
        index.upsert(
            [make_chunk("a#0"), make_chunk("a#1"), make_chunk("b#0")], [unit(1.0), unit(0.0, 1.0), unit(0.0, 0.0, 1.0)]
        )

        index.delete_chunks(cid for cid in ["a#1", "never-written#0"])  # any iterable, unknown ids ignored
        index.delete_chunks([])

        assert index.count() == 2
        assert _ids(index.chunks()) == {"a#0", "b#0"}
        assert "a#1" not in _ids([s.chunk for s in index.query(unit(0.0, 1.0), k=5, audiences=EVERYONE)])

    def test_indexes_from_the_factory_are_isolated(self, make_index: Callable[[], Index]) -> None:
        first, second = make_index(), make_index()

        first.upsert([make_chunk("a#0")], [unit(1.0)])

        assert first.count() == 1
        assert second.count() == 0
        assert second.chunks() == []

    # --- searching -----------------------------------------------------------------------------------------

    def test_query_returns_nearest_first_with_cosine(self, index: Index) -> None:
        vectors = {
            "same#0": unit(1.0, 0.0),
            "near#0": unit(1.0, 0.5),
            "far#0": unit(0.2, 1.0),
            "opposite#0": unit(-1.0, 0.0),
        }
        index.upsert([make_chunk(cid) for cid in vectors], list(vectors.values()))
        probe = unit(1.0, 0.0)

        hits = index.query(probe, k=4, audiences=PUBLIC)

        assert [h.chunk.chunk_id for h in hits] == ["same#0", "near#0", "far#0", "opposite#0"]
        assert all(-1.0 <= h.dense <= 1.0 for h in hits)
        for hit in hits:
            assert hit.dense == pytest.approx(cosine(probe, vectors[hit.chunk.chunk_id]), abs=1e-4)
        assert hits[0].dense == pytest.approx(1.0, abs=1e-4)
        assert hits[-1].dense == pytest.approx(-1.0, abs=1e-4)

    def test_query_with_a_stored_vector_scores_it_one_and_never_above(self, index: Index) -> None:
        # Irregular components: float32 rounding shows up here, not on axis-aligned vectors.
        vectors = [unit(*[math.sin(3.7 * i + j) for j in range(DIM)]) for i in range(6)]
        index.upsert([make_chunk(f"v{i}#0") for i in range(6)], vectors)

        for i, vec in enumerate(vectors):
            hits = index.query(vec, k=6, audiences=PUBLIC)
            assert hits[0].chunk.chunk_id == f"v{i}#0"
            assert hits[0].dense == pytest.approx(1.0, abs=1e-4)
            assert all(-1.0 <= h.dense <= 1.0 for h in hits)
            assert [h.dense for h in hits] == sorted((h.dense for h in hits), reverse=True)

    def test_nearest_gives_the_ids_and_cosines_of_query_in_its_order(self, index: Index) -> None:
        vectors = [unit(*[math.cos(1.3 * i + j) for j in range(DIM)]) for i in range(8)]
        chunks = [make_chunk(f"n{i}#0", "internal" if i % 3 == 0 else "public") for i in range(8)]
        index.upsert(chunks, vectors)

        for audiences in (PUBLIC, EVERYONE):
            for k in (3, 10):
                near = index.nearest(vectors[1], k=k, audiences=audiences)
                hits = index.query(vectors[1], k=k, audiences=audiences)

                assert [cid for cid, _ in near] == [h.chunk.chunk_id for h in hits]
                assert [cos for _, cos in near] == pytest.approx([h.dense for h in hits], abs=1e-6)
        assert {cid for cid, _ in index.nearest(vectors[1], k=10, audiences=PUBLIC)} == {
            c.chunk_id for c in chunks if c.audience == "public"
        }

    def test_query_returns_at_most_k(self, index: Index) -> None:
        index.upsert([make_chunk(f"s{i}#0") for i in range(5)], [unit(1.0, i / 10) for i in range(5)])

        hits = index.query(unit(1.0), k=2, audiences=PUBLIC)

        assert [h.chunk.chunk_id for h in hits] == ["s0#0", "s1#0"]

    def test_query_never_returns_internal_chunks_to_the_public(self, index: Index) -> None:
        index.upsert(
            [
                make_chunk("secret#0", "internal"),
                make_chunk("pub#0"),
                make_chunk("pub#1"),
                make_chunk("secret#1", "internal"),
            ],
            [unit(1.0), unit(1.0, 1.0), unit(0.0, 1.0), unit(1.0, 0.1)],
        )

        # The internal chunk is the nearest, and k asks for more than there are public chunks.
        hits = index.query(unit(1.0), k=10, audiences=PUBLIC)

        assert [h.chunk.chunk_id for h in hits] == ["pub#0", "pub#1"]
        assert all(h.chunk.audience == "public" for h in hits)

    def test_query_with_both_audiences_sees_internal_chunks(self, index: Index) -> None:
        index.upsert([make_chunk("secret#0", "internal"), make_chunk("pub#0")], [unit(1.0), unit(1.0, 1.0)])

        hits = index.query(unit(1.0), k=10, audiences=EVERYONE)

        assert [h.chunk.chunk_id for h in hits] == ["secret#0", "pub#0"]

    def test_query_over_both_audiences_returns_the_nearest_k_of_all(self, index: Index) -> None:
        index.upsert(
            [
                make_chunk("pub#0"),
                make_chunk("secret#0", "internal"),
                make_chunk("pub#1"),
                make_chunk("secret#1", "internal"),
            ],
            [unit(1.0, 0.1), unit(1.0, 0.2), unit(1.0, 0.9), unit(0.0, 1.0)],
        )

        hits = index.query(unit(1.0), k=3, audiences=EVERYONE)

        assert [h.chunk.chunk_id for h in hits] == ["pub#0", "secret#0", "pub#1"]
        assert [h.dense for h in hits] == sorted((h.dense for h in hits), reverse=True)

    def test_a_chunk_moved_to_another_audience_is_only_there(self, index: Index) -> None:
        index.upsert([make_chunk("a#0"), make_chunk("b#0")], [unit(1.0), unit(0.0, 1.0)])

        index.upsert([make_chunk("a#0", "internal", text="now internal")], [unit(1.0)])

        assert [h.chunk.chunk_id for h in index.query(unit(1.0), k=5, audiences=PUBLIC)] == ["b#0"]
        both = index.query(unit(1.0), k=5, audiences=EVERYONE)
        assert [(h.chunk.chunk_id, h.chunk.audience) for h in both] == [("a#0", "internal"), ("b#0", "public")]
        assert index.count() == 2
        assert sorted(c.chunk_id for page in index.pages() for c in page) == ["a#0", "b#0"]

    def test_query_for_an_audience_with_no_chunks_is_empty(self, index: Index) -> None:
        index.upsert(
            [make_chunk("secret#0", "internal"), make_chunk("secret#1", "internal")], [unit(1.0), unit(0.0, 1.0)]
        )

        assert index.query(unit(1.0), k=5, audiences=PUBLIC) == []
        assert index.query(unit(1.0), k=5, audiences=frozenset()) == []

    # --- reading back --------------------------------------------------------------------------------------

    def test_chunks_round_trip_every_field(self, index: Index) -> None:
        full = make_chunk(
            "esc:ESC-9#1",
            "internal",
            kind="escalation",
            text="Q?\n\nResolution: Café — do X, then Y.",
            heading_path="Resolution",
            tags=("webhooks", "hmac", "api keys"),
            quote_from=16,
            source_chunks=4,
            origin="escalations/2026.jsonl",
            source_hash="0123456789abcdef",
            updated="2026-04-01T10:00:00Z",
            url="https://support.example/esc/9",
            product="api",
        )
        bare = Chunk(
            chunk_id="bare#0",
            source_id="bare",
            kind="article",
            title="Bare",
            audience="public",
            text="Only the required fields.",
            origin="bare.md",
            source_hash="h",
            source_chunks=1,
        )
        index.upsert([full, bare], [unit(1.0), unit(0.0, 1.0)])

        stored = {c.chunk_id: c for c in index.chunks()}

        assert self.roundtrip(stored["esc:ESC-9#1"]) == self.roundtrip(full)
        assert self.roundtrip(stored["bare#0"]) == self.roundtrip(bare)
        assert stored["esc:ESC-9#1"].tags == ("webhooks", "hmac", "api keys")
        assert stored["esc:ESC-9#1"].quotable == "Café — do X, then Y."
        assert stored["bare#0"].tags == ()
        hit = index.query(unit(1.0), k=1, audiences=EVERYONE)[0]
        assert self.roundtrip(hit.chunk) == self.roundtrip(full)

    def test_chunks_filters_by_audience(self, index: Index) -> None:
        index.upsert(
            [make_chunk("pub#0"), make_chunk("secret#0", "internal"), make_chunk("pub#1")],
            [unit(1.0), unit(0.0, 1.0), unit(0.0, 0.0, 1.0)],
        )

        assert _ids(index.chunks(PUBLIC)) == {"pub#0", "pub#1"}
        assert _ids(index.chunks(frozenset({"internal"}))) == {"secret#0"}
        assert _ids(index.chunks(EVERYONE)) == {"pub#0", "pub#1", "secret#0"}
        assert _ids(index.chunks()) == {"pub#0", "pub#1", "secret#0"}
        assert index.chunks(frozenset()) == []

    def test_chunks_filters_by_source(self, index: Index) -> None:
        index.upsert(
            [make_chunk("a#0"), make_chunk("a#1"), make_chunk("b#0"), make_chunk("c#0", "internal")],
            [unit(1.0), unit(0.0, 1.0), unit(0.0, 0.0, 1.0), unit(0.0, 0.0, 0.0, 1.0)],
        )

        assert _ids(index.chunks(source_ids={"a"})) == {"a#0", "a#1"}
        assert _ids(index.chunks(source_ids={"a", "c"})) == {"a#0", "a#1", "c#0"}
        assert _ids(index.chunks(PUBLIC, source_ids={"a", "c"})) == {"a#0", "a#1"}  # both filters apply
        assert index.chunks(source_ids={"nope"}) == []
        assert index.chunks(source_ids=set()) == []

    def test_chunks_filters_by_id(self, index: Index) -> None:
        index.upsert(
            [make_chunk("a#0"), make_chunk("a#1"), make_chunk("b#0"), make_chunk("c#0", "internal")],
            [unit(1.0), unit(0.0, 1.0), unit(0.0, 0.0, 1.0), unit(0.0, 0.0, 0.0, 1.0)],
        )

        assert _ids(index.chunks(chunk_ids={"a#0", "b#0"})) == {"a#0", "b#0"}
        assert _ids(index.chunks(PUBLIC, chunk_ids={"a#0", "c#0"})) == {"a#0"}  # the audience filter still applies
        assert _ids(index.chunks(source_ids={"a"}, chunk_ids={"a#1", "b#0"})) == {"a#1"}  # and the source filter
        assert index.chunks(chunk_ids={"nope#0"}) == []
        assert index.chunks(chunk_ids=set()) == []

    def test_pages_return_every_chunk_once_in_pages_of_the_size_asked(self, index: Index) -> None:
        index.upsert([make_chunk(f"p{i}#0") for i in range(7)], [unit(1.0, i / 10) for i in range(7)])
        index.delete_chunks(["p3#0"])

        pages = list(index.pages(3))

        assert [len(p) for p in pages] == [3, 3]
        assert sorted(c.chunk_id for p in pages for c in p) == sorted(f"p{i}#0" for i in range(7) if i != 3)
        assert list(index.pages(100))[0][0].text.startswith("Heading")
