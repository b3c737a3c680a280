"""Contract tests every `KeywordIndex` implementation must pass: the in-memory fake, SQLite FTS5, PostgreSQL.

Subclass `KeywordIndexContract` as a `Test...` class and override `make_index` (a factory of fresh, empty,
mutually isolated indexes). Implementations shared through a store also override `reopen`, which opens a second
handle on the same store (as another worker process would), so the suite checks that writes are seen there.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from deflect.domain.ports import KeywordIndex
from deflect.testing.contracts import EVERYONE, PUBLIC, make_chunk

MakeKeyword = Callable[[], KeywordIndex]


class KeywordIndexContract:
    """Behaviour shared by every KeywordIndex: upsert/replace/delete, stemmed BM25-like search, audiences."""

    @pytest.fixture
    def make_index(self) -> MakeKeyword:
        """Override: return a factory of fresh, empty, isolated keyword indexes."""
        raise NotImplementedError("subclasses of KeywordIndexContract must override the make_index fixture")

    @pytest.fixture
    def reopen(self) -> Callable[[KeywordIndex], KeywordIndex] | None:
        """Override for shared stores: a second handle on the same store as the given index."""
        return None

    @pytest.fixture
    def index(self, make_index: MakeKeyword) -> KeywordIndex:
        return make_index()

    # --- writing -------------------------------------------------------------------------------------------

    def test_empty_index(self, index: KeywordIndex) -> None:
        assert index.count() == 0
        assert index.manifest() == {}
        assert index.search("password", k=5, audiences=EVERYONE) == []

    def test_upsert_then_count_and_manifest(self, index: KeywordIndex) -> None:
        index.upsert([make_chunk("a#0"), make_chunk("a#1"), make_chunk("b#0", source_hash="other")])

        assert index.count() == 3
        assert index.manifest() == {"a#0": "hash-a", "a#1": "hash-a", "b#0": "other"}
        assert index.manifest(source_ids={"b", "nope"}) == {"b#0": "other"}
        assert index.manifest(source_ids=set()) == {}

    def test_upsert_same_id_replaces_the_searchable_text(self, index: KeywordIndex) -> None:
        index.upsert([make_chunk("a#0", text="invoices are emailed monthly"), make_chunk("b#0", text="refunds")])

        index.upsert([make_chunk("a#0", text="passwords expire yearly", source_hash="hash-2")])

        assert index.count() == 2
        assert index.search("invoices", k=5, audiences=EVERYONE) == []
        hits = index.search("password", k=5, audiences=EVERYONE)
        assert [h.chunk.chunk_id for h in hits] == ["a#0"]
        assert hits[0].chunk.source_hash == "hash-2"
        assert index.manifest() == {"a#0": "hash-2", "b#0": "hash-b"}

    def test_delete_chunks_removes_and_ignores_unknown_ids(self, index: KeywordIndex) -> None:
        index.upsert([make_chunk(f"s{i}#0", text="webhook signature") for i in range(3)])

        index.delete_chunks(cid for cid in ["s1#0", "never-written#0"])
        index.delete_chunks([])

        assert index.count() == 2
        assert {h.chunk.chunk_id for h in index.search("webhook", k=5, audiences=EVERYONE)} == {"s0#0", "s2#0"}

    def test_many_chunks_in_one_write_and_one_delete(self, index: KeywordIndex) -> None:
        chunks = [make_chunk(f"m{i}#0", text=f"export number {i} of the audit log") for i in range(1200)]
        index.upsert(chunks)

        assert index.count() == 1200
        assert len(index.manifest(source_ids={f"m{i}" for i in range(1200)})) == 1200
        index.delete_chunks(c.chunk_id for c in chunks[:1100])
        assert index.count() == 100

    def test_indexes_from_the_factory_are_isolated(self, make_index: MakeKeyword) -> None:
        first, second = make_index(), make_index()

        first.upsert([make_chunk("a#0", text="invoices")])

        assert second.count() == 0
        assert second.search("invoices", k=5, audiences=EVERYONE) == []

    def test_a_second_handle_sees_writes_at_once(
        self, index: KeywordIndex, reopen: Callable[[KeywordIndex], KeywordIndex] | None
    ) -> None:
        if reopen is None:
            pytest.skip("this implementation is private to its object")
        other = reopen(index)

        index.upsert([make_chunk("a#0", text="rotate the API key")])
        assert [h.chunk.chunk_id for h in other.search("rotating keys", k=5, audiences=PUBLIC)] == ["a#0"]
        assert [c.chunk_id for c in other.chunks(["a#0"], PUBLIC)] == ["a#0"]

        other.delete_chunks(["a#0"])
        assert index.search("rotating keys", k=5, audiences=PUBLIC) == []
        assert index.chunks(["a#0"], PUBLIC) == []

    # --- searching -----------------------------------------------------------------------------------------

    def test_stemmed_terms_match_and_scores_are_relative_to_the_best(self, index: KeywordIndex) -> None:
        index.upsert(
            [
                make_chunk("both#0", text="Resetting a password: open the reset link in the email."),
                make_chunk("one#0", text="The password must have twelve characters and a symbol in it somewhere."),
                make_chunk("none#0", text="Invoices are listed under billing settings."),
                # In fewer than half of the chunks, "password" still weighs in BM25 (SQLite leaves out the rest).
                make_chunk("none#1", text="Exports run nightly."),
                make_chunk("none#2", text="Webhooks retry three times."),
            ]
        )

        hits = index.search("how do I reset my passwords?", k=10, audiences=PUBLIC)

        assert [h.chunk.chunk_id for h in hits] == ["both#0", "one#0"]
        assert hits[0].keyword == pytest.approx(1.0)
        assert 0.0 < hits[1].keyword < 1.0

    def test_a_rare_term_outweighs_a_common_one(self, index: KeywordIndex) -> None:
        common = [make_chunk(f"c{i}#0", text=f"account settings page number {i}") for i in range(8)]
        index.upsert([*common, make_chunk("rare#0", text="the SAML certificate expired")])

        hits = index.search("saml account", k=3, audiences=PUBLIC)

        assert hits[0].chunk.chunk_id == "rare#0"
        assert all(h.keyword < 1.0 for h in hits[1:])

    def test_scores_depend_on_the_chunks_held_not_on_the_writes_that_led_there(self, make_index: MakeKeyword) -> None:
        final = [
            make_chunk("a#0", text="export the nightly report as csv"),
            make_chunk("b#0", text="the report export stalls at ninety percent"),
            make_chunk("c#0", text="csv files open in any spreadsheet", audience="internal"),
            make_chunk("d#0", text="reset the report schedule"),
        ]
        edited = make_index()
        edited.upsert([make_chunk(f"x{i}#0", text=f"report export csv draft {i}") for i in range(6)])  # later deleted
        edited.upsert([*final[:2], make_chunk("c#0", text="report report export"), final[0]])  # a#0 given twice
        edited.upsert(final[2:])  # c#0 replaced: its former terms no longer count
        edited.delete_chunks([f"x{i}#0" for i in range(6)] + ["x0#0", "nope#0"])
        fresh = make_index()
        fresh.upsert(final)

        assert edited.count() == fresh.count() == 4
        for query in ("report export csv", "nightly report", "spreadsheet", "draft"):
            got = [(h.chunk.chunk_id, round(h.keyword, 9)) for h in edited.search(query, 10, EVERYONE)]
            assert got == [(h.chunk.chunk_id, round(h.keyword, 9)) for h in fresh.search(query, 10, EVERYONE)], query

    def test_the_audiences_best_are_found_below_many_better_chunks_of_another_audience(
        self, index: KeywordIndex
    ) -> None:
        secret = [make_chunk(f"s{i:02d}#0", "internal", text="quota quota quota exceeded") for i in range(30)]
        public = [make_chunk(f"p{i}#0", text=f"quota notes for page {i} of the handbook") for i in range(3)]
        index.upsert([*secret, *public])

        hits = index.search("quota", k=2, audiences=PUBLIC)

        assert [h.chunk.chunk_id for h in hits] == ["p0#0", "p1#0"]  # equal scores: by chunk id

    def test_equal_scores_beyond_k_are_ordered_by_chunk_id_however_many(self, index: KeywordIndex) -> None:
        # Written in reverse id order, many more than k alike: the first k by id, not the first k written.
        index.upsert([make_chunk(f"t{i:02d}#0", text="export stalls nightly") for i in reversed(range(30))])

        hits = index.search("export", k=3, audiences=PUBLIC)

        assert [h.chunk.chunk_id for h in hits] == ["t00#0", "t01#0", "t02#0"]

    def test_returns_at_most_k(self, index: KeywordIndex) -> None:
        index.upsert([make_chunk(f"s{i}#0", text="export " * (i + 1)) for i in range(5)])

        assert len(index.search("export", k=2, audiences=PUBLIC)) == 2
        assert index.search("export", k=0, audiences=PUBLIC) == []

    def test_never_returns_internal_chunks_to_the_public_even_when_they_rank_first(self, index: KeywordIndex) -> None:
        index.upsert(
            [
                make_chunk("secret#0", "internal", text="refund refund refund approval limit"),
                make_chunk("secret#1", "internal", text="refund approval"),
                make_chunk("pub#0", text="a refund takes five days"),
            ]
        )

        hits = index.search("refund approval", k=1, audiences=PUBLIC)  # the filter comes before the limit

        assert [h.chunk.chunk_id for h in hits] == ["pub#0"]
        assert hits[0].keyword == pytest.approx(1.0)
        assert {h.chunk.chunk_id for h in index.search("refund", k=10, audiences=EVERYONE)} == {
            "secret#0",
            "secret#1",
            "pub#0",
        }
        assert index.search("refund", k=10, audiences=frozenset()) == []

    def test_queries_without_searchable_terms_find_nothing(self, index: KeywordIndex) -> None:
        index.upsert([make_chunk("a#0", text="the and of to a in")])

        for query in ("", "   ", "the and of", "?!", 'a" OR b', "NEAR(x y)"):
            assert index.search(query, k=5, audiences=EVERYONE) == []

    def test_query_syntax_characters_are_words_not_operators(self, index: KeywordIndex) -> None:
        index.upsert([make_chunk("a#0", text="error code E_42 when the webhook fails"), make_chunk("b#0", text="x")])

        hits = index.search('webhook* "fails" OR (e_42) -', k=5, audiences=PUBLIC)

        assert [h.chunk.chunk_id for h in hits] == ["a#0"]

    def test_long_questions_search(self, index: KeywordIndex) -> None:
        index.upsert([make_chunk("a#0", text="word17 appears here")])

        hits = index.search(" ".join(f"word{i}" for i in range(400)), k=5, audiences=PUBLIC)

        assert [h.chunk.chunk_id for h in hits] == ["a#0"]

    # --- reading back --------------------------------------------------------------------------------------

    def test_hits_carry_every_stored_field(self, index: KeywordIndex) -> None:
        full = make_chunk(
            "esc:ESC-9#1",
            "internal",
            kind="escalation",
            text="Q?\n\nResolution: Café — rotate the signing secret.",
            tags=("webhooks", "hmac"),
            quote_from=4,
            source_chunks=2,
        )
        index.upsert([full])

        hit = index.search("signing secret", k=1, audiences=EVERYONE)[0]

        assert hit.chunk.model_dump(exclude={"embed_text"}) == full.model_dump(exclude={"embed_text"})
        assert hit.dense == 0.0

    def test_chunks_by_id_carry_every_stored_field(self, index: KeywordIndex) -> None:
        full = make_chunk(
            "doc:guide#0",
            text="Opening — café.\n\nBefore the first heading.",
            heading_path="",
            tags=("a,b", "c"),  # a comma inside a tag: stored as written
            quote_from=3,
            source_chunks=4,
            fragments=("", "setup", "a#b"),
        )
        index.upsert([full, make_chunk("doc:guide#1"), make_chunk("doc:guide#2")])

        got = index.chunks(["doc:guide#0"], EVERYONE)

        assert [c.model_dump(exclude={"embed_text"}) for c in got] == [full.model_dump(exclude={"embed_text"})]

    def test_chunks_by_id_returns_only_the_ids_asked_that_are_stored(self, index: KeywordIndex) -> None:
        index.upsert([make_chunk(f"p#{n}", text=f"part {n}") for n in range(5)] + [make_chunk("q#0")])

        got = index.chunks({"p#1", "p#3", "q#0", "missing#0", "p#9"}, PUBLIC)

        assert sorted(c.chunk_id for c in got) == ["p#1", "p#3", "q#0"]
        assert {c.chunk_id: c.text for c in got}["p#3"] == "part 3"
        assert index.chunks([], PUBLIC) == []
        assert index.chunks(set(), EVERYONE) == []

    def test_chunks_by_id_are_the_latest_written_and_deleted_ones_are_gone(self, index: KeywordIndex) -> None:
        index.upsert([make_chunk("p#0", text="old"), make_chunk("p#1")])
        index.upsert([make_chunk("p#0", text="new", source_hash="hash-2")])
        index.delete_chunks(["p#1"])

        got = index.chunks(["p#0", "p#1"], PUBLIC)

        assert [(c.chunk_id, c.text, c.source_hash) for c in got] == [("p#0", "new", "hash-2")]

    def test_chunks_by_id_never_returns_a_chunk_the_audiences_may_not_see(self, index: KeywordIndex) -> None:
        index.upsert([make_chunk("secret#0", "internal"), make_chunk("pub#0")])

        assert [c.chunk_id for c in index.chunks(["secret#0", "pub#0"], PUBLIC)] == ["pub#0"]
        assert sorted(c.chunk_id for c in index.chunks(["secret#0", "pub#0"], EVERYONE)) == ["pub#0", "secret#0"]
        assert index.chunks(["secret#0", "pub#0"], frozenset()) == []

    def test_chunks_by_id_reads_many_ids_at_once(self, index: KeywordIndex) -> None:
        index.upsert([make_chunk(f"m#{i}", text=f"chunk {i}") for i in range(1200)])

        got = index.chunks([f"m#{i}" for i in range(0, 1200, 2)] + ["m#5000"], PUBLIC)

        assert sorted(int(c.chunk_id[2:]) for c in got) == list(range(0, 1200, 2))
