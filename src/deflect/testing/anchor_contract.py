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

    def test_nearest_says_where_each_lands_and_its_cosine(self, anchors: AnchorIndex) -> None:
        a = make_anchor("doc:guide", "You can change how long with frob_set_timeout().", fragment="set#1 a/b")
        anchors.replace("doc:guide", [a], [unit(1, 0)])
        found = anchors.nearest(unit(1, 1), 5, PUBLIC)
        assert [(f.target, f.fragment) for f in found] == [("doc:api/timeout", "set#1 a/b")]
        assert found[0].cosine == pytest.approx(cosine(unit(1, 0), unit(1, 1)), abs=1e-4)

    def test_nearest_is_ordered_and_cut_at_k(self, anchors: AnchorIndex) -> None:
        rows = [make_anchor("doc:guide", f"Sentence {i}.") for i in range(3)]
        anchors.replace("doc:guide", rows, [unit(1, 0), unit(1, 1), unit(0, 1)])
        found = anchors.nearest(unit(1, 0), 2, PUBLIC)
        assert [f.cosine for f in found] == pytest.approx([1.0, cosine(unit(1, 0), unit(1, 1))], abs=1e-4)

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
        assert [f.target for f in anchors.nearest(unit(1, 0), 10, PUBLIC)] == ["doc:api/timeout"]
        assert len(anchors.nearest(unit(1, 0), 10, EVERYONE)) == 2
        assert anchors.nearest(unit(1, 0), 10, frozenset()) == []

    def test_an_audience_change_moves_the_anchor(self, anchors: AnchorIndex) -> None:
        a = make_anchor("doc:guide", "Same sentence.", audience="internal")
        anchors.replace("doc:guide", [a], [unit(1, 0)])
        anchors.replace("doc:guide", [a.model_copy(update={"audience": "public"})], [unit(1, 0)])
        assert anchors.count() == 1
        assert len(anchors.nearest(unit(1, 0), 10, PUBLIC)) == 1

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
