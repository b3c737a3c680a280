"""Contract tests every `AnchorIndex` implementation must pass: the in-memory fake, embedded Chroma, Chroma server.

Subclass `AnchorIndexContract` as a `Test...` class and override `make_anchors` so it returns a factory of fresh,
empty, mutually isolated anchor indexes (for a server: new collections per call). Not collected itself.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from deflect.domain.models import Anchor
from deflect.domain.ports import AnchorIndex
from deflect.testing.contracts import EVERYONE, PUBLIC, cosine, unit


def make_anchor(source_id: str, sentence: str, audience: str = "public", **fields: str) -> Anchor:
    """A valid anchor with every field filled in, so a store that drops one is caught."""
    base = {
        "source_id": source_id,
        "source_hash": "hash-" + source_id,
        "audience": audience,
        "target": "doc:api/timeout",
        "fragment": "set",
        "text": "frob_set_timeout()",
        "sentence": sentence,
    }
    return Anchor.model_validate({**base, **fields})


class AnchorIndexContract:
    @pytest.fixture
    def make_anchors(self) -> Callable[[], AnchorIndex]:
        raise NotImplementedError("override make_anchors in the concrete test class")

    @pytest.fixture
    def anchors(self, make_anchors: Callable[[], AnchorIndex]) -> AnchorIndex:
        return make_anchors()

    def test_an_anchor_comes_back_with_every_field(self, anchors: AnchorIndex) -> None:
        a = make_anchor("doc:guide", "You can change how long with frob_set_timeout().", audience="internal")
        b = make_anchor("doc:guide", "Or by url.", target="https://help.example/api/timeout", fragment="")
        anchors.replace("doc:guide", [a, b], [unit(1, 0), unit(0, 1)])
        assert anchors.of_source("doc:guide") == sorted([a, b], key=lambda x: x.anchor_id)
        assert anchors.of_source("doc:other") == []

    def test_landing_gives_each_keys_best_cosine(self, anchors: AnchorIndex) -> None:
        a = make_anchor("doc:guide", "You can change how long with frob_set_timeout().", fragment="set#1 a/b")
        b = make_anchor("doc:guide", "Or call frob_set_timeout().", fragment="set#1 a/b")
        c = make_anchor("doc:guide", "The overview.", target="https://help.example/api", fragment="")
        anchors.replace("doc:guide", [a, b, c], [unit(1, 0), unit(0, 1), unit(1, 1)])
        question = unit(1, 0.25)
        keys = [("doc:api/timeout", "set#1 a/b"), ("https://help.example/api", ""), ("doc:api/timeout", "")]
        found = anchors.landing(question, keys, PUBLIC)
        assert set(found) == set(keys[:2]), "a key no anchor lands on is absent"
        assert found[keys[0]] == pytest.approx(cosine(unit(1, 0), question), abs=1e-4)
        assert found[keys[1]] == pytest.approx(cosine(unit(1, 1), question), abs=1e-4)
        assert anchors.landing(question, keys[1:], PUBLIC) == {keys[1]: pytest.approx(found[keys[1]])}
        assert anchors.landing(question, [], PUBLIC) == {}

    def test_landing_reads_every_anchor_of_a_key_however_many_are_nearer(self, anchors: AnchorIndex) -> None:
        crowd = [make_anchor("doc:faq", f"Near {i}.", target="doc:elsewhere") for i in range(60)]
        anchors.replace("doc:faq", crowd, [unit(1, 0.01 * i) for i in range(60)])
        anchors.replace("doc:guide", [make_anchor("doc:guide", "Far.")], [unit(0.1, 1)])
        found = anchors.landing(unit(1, 0), [("doc:api/timeout", "set")], PUBLIC)
        assert found == {("doc:api/timeout", "set"): pytest.approx(cosine(unit(0.1, 1), unit(1, 0)), abs=1e-4)}

    def test_landing_follows_each_write(self, anchors: AnchorIndex) -> None:
        key = ("doc:api/timeout", "set")
        anchors.replace("doc:guide", [make_anchor("doc:guide", "First.")], [unit(1, 0)])
        assert anchors.landing(unit(1, 0), [key], PUBLIC) == {key: pytest.approx(1.0, abs=1e-4)}
        anchors.replace("doc:guide", [make_anchor("doc:guide", "Second.")], [unit(0, 1)])
        assert anchors.landing(unit(1, 0), [key], PUBLIC) == {key: pytest.approx(0.0, abs=1e-4)}
        anchors.replace("doc:faq", [make_anchor("doc:faq", "Third.")], [unit(1, 1)])
        assert anchors.landing(unit(1, 0), [key], PUBLIC) == {
            key: pytest.approx(cosine(unit(1, 1), unit(1, 0)), abs=1e-4)
        }
        anchors.delete_sources(["doc:faq", "doc:guide"])
        assert anchors.landing(unit(1, 0), [key], PUBLIC) == {}

    def test_replace_swaps_a_sources_anchors_and_leaves_others(self, anchors: AnchorIndex) -> None:
        old = [make_anchor("doc:guide", "Old one."), make_anchor("doc:guide", "Kept.")]
        anchors.replace("doc:guide", old, [unit(1, 0), unit(0, 1)])
        other = make_anchor("doc:faq", "From the FAQ.")
        anchors.replace("doc:faq", [other], [unit(1, 1)])
        anchors.replace("doc:guide", [old[1]], [unit(0, 1)])
        assert anchors.count() == 2
        assert [a.sentence for a in anchors.of_source("doc:guide")] == ["Kept."]
        assert [a.sentence for a in anchors.of_source("doc:faq")] == ["From the FAQ."]

    def test_replace_with_nothing_deletes_the_sources_anchors(self, anchors: AnchorIndex) -> None:
        anchors.replace("doc:guide", [make_anchor("doc:guide", "Gone soon.")], [unit(1, 0)])
        anchors.replace("doc:guide", [], [])
        assert anchors.count() == 0
        assert anchors.manifest() == {}

    def test_replace_refuses_anchors_of_another_source(self, anchors: AnchorIndex) -> None:
        with pytest.raises(ValueError):
            anchors.replace("doc:guide", [make_anchor("doc:faq", "Not mine.")], [unit(1, 0)])

    def test_delete_sources_removes_only_theirs(self, anchors: AnchorIndex) -> None:
        anchors.replace("doc:guide", [make_anchor("doc:guide", "A.")], [unit(1, 0)])
        anchors.replace("doc:faq", [make_anchor("doc:faq", "B.", audience="internal")], [unit(1, 0)])
        anchors.replace("doc:intro", [make_anchor("doc:intro", "C.")], [unit(1, 0)])
        anchors.delete_sources(["doc:guide", "doc:faq", "doc:unknown"])
        assert anchors.count() == 1 and set(anchors.manifest()) == {"doc:intro"}

    def test_a_customer_never_sees_an_internal_pages_anchor(self, anchors: AnchorIndex) -> None:
        internal = make_anchor("doc:runbook", "Internal.", audience="internal", target="doc:secret")
        anchors.replace("doc:runbook", [internal], [unit(1, 0)])
        anchors.replace("doc:guide", [make_anchor("doc:guide", "Public.")], [unit(0, 1)])
        keys = [("doc:secret", "set"), ("doc:api/timeout", "set")]
        assert list(anchors.landing(unit(1, 0), keys, PUBLIC)) == [("doc:api/timeout", "set")]
        assert set(anchors.landing(unit(1, 0), keys, EVERYONE)) == set(keys)
        assert anchors.landing(unit(1, 0), keys, frozenset()) == {}

    def test_an_audience_change_moves_the_anchor(self, anchors: AnchorIndex) -> None:
        a = make_anchor("doc:guide", "Same sentence.", audience="internal")
        anchors.replace("doc:guide", [a], [unit(1, 0)])
        anchors.replace("doc:guide", [a.model_copy(update={"audience": "public"})], [unit(1, 0)])
        assert anchors.count() == 1
        assert set(anchors.landing(unit(1, 0), [a.landing], PUBLIC)) == {a.landing}

    def test_the_manifest_names_each_linking_sources_hashes(self, anchors: AnchorIndex) -> None:
        anchors.replace("doc:guide", [make_anchor("doc:guide", "A.")], [unit(1, 0)])
        anchors.replace("doc:faq", [make_anchor("doc:faq", "B.", source_hash="h2")], [unit(1, 0)])
        assert anchors.manifest() == {"doc:guide": frozenset({"hash-doc:guide"}), "doc:faq": frozenset({"h2"})}
        assert anchors.manifest(["doc:faq"]) == {"doc:faq": frozenset({"h2"})}
        assert anchors.manifest([]) == {}

    def test_one_record_per_source_target_fragment_and_sentence(self, anchors: AnchorIndex) -> None:
        a = make_anchor("doc:guide", "Same.")
        b = make_anchor("doc:guide", "Same.", fragment="other")
        anchors.replace("doc:guide", [a, b], [unit(1, 0), unit(1, 0)])
        anchors.replace("doc:guide", [a, b], [unit(1, 0), unit(1, 0)])
        assert anchors.count() == 2

    def test_replace_many_leaves_what_replacing_one_by_one_leaves(
        self, make_anchors: Callable[[], AnchorIndex]
    ) -> None:
        kept, moved = make_anchor("doc:guide", "Kept."), make_anchor("doc:guide", "Now internal.", audience="internal")
        batch = {
            "doc:guide": ([kept, moved], [unit(1, 0), unit(0, 1)]),  # one stale record goes, one changes audience
            "doc:faq": ([], []),  # emptied
            "doc:new": ([make_anchor("doc:new", "Brand new.")], [unit(1, 1)]),
        }
        one_by_one, at_once = make_anchors(), make_anchors()
        for store in (one_by_one, at_once):
            store.replace(
                "doc:guide",
                [make_anchor("doc:guide", "Old one."), make_anchor("doc:guide", "Now internal.")],
                [unit(1, 0.2), unit(0.2, 1)],
            )
            store.replace("doc:faq", [make_anchor("doc:faq", "From the FAQ.")], [unit(1, 1)])
            store.replace("doc:other", [make_anchor("doc:other", "Untouched.")], [unit(0.5, 1)])
        for source_id, (found, vectors) in batch.items():
            one_by_one.replace(source_id, found, vectors)
        at_once.replace_many(batch)

        for source_id in ("doc:guide", "doc:faq", "doc:new", "doc:other"):
            assert at_once.of_source(source_id) == one_by_one.of_source(source_id)
        assert at_once.count() == one_by_one.count() == 4
        assert at_once.manifest() == one_by_one.manifest()
        key = ("doc:api/timeout", "set")
        for audiences in (PUBLIC, frozenset({"public", "internal"})):
            assert at_once.landing(unit(0, 1), [key], audiences) == pytest.approx(
                one_by_one.landing(unit(0, 1), [key], audiences), abs=1e-4
            )

    def test_replace_many_refuses_anchors_of_another_source_and_writes_nothing(self, anchors: AnchorIndex) -> None:
        with pytest.raises(ValueError):
            anchors.replace_many(
                {
                    "doc:guide": ([make_anchor("doc:guide", "Fine.")], [unit(1, 0)]),
                    "doc:faq": ([make_anchor("doc:guide", "Not the FAQ's.")], [unit(0, 1)]),
                }
            )
        assert anchors.count() == 0
