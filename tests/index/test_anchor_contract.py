"""The AnchorIndex contract, run against every implementation: in-memory fake, embedded Chroma, Chroma server."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from deflect.domain.ports import AnchorIndex
from deflect.index.anchors import _FIELDS, SENTENCE, ChromaAnchorIndex, anchor_collection_names
from deflect.index.chroma import embedded_client, http_client
from deflect.testing.anchor_contract import AnchorIndexContract, make_anchor
from deflect.testing.anchors import InMemoryAnchorIndex
from deflect.testing.contracts import PUBLIC, unit

from .test_index_contract import EF_SEARCH, chroma_server  # noqa: F401 (the server fixture, shared)


def collection_name() -> str:
    return f"anchors-{uuid.uuid4().hex}"


class TestInMemoryAnchorIndex(AnchorIndexContract):
    @pytest.fixture
    def make_anchors(self) -> Callable[[], AnchorIndex]:
        return InMemoryAnchorIndex


# Two ChromaAnchorIndex objects on the same collections, as two server workers (or a worker and `deflect ingest`)
# have them: each holds the anchors it read (deflect.index.anchors), which must follow the other's writes.
Pair = Callable[[], tuple[ChromaAnchorIndex, ChromaAnchorIndex]]


class SharedCollections:
    @pytest.fixture
    def make_pair(self) -> Pair:
        raise NotImplementedError("override make_pair")

    def test_what_one_object_holds_follows_anothers_writes(self, make_pair: Pair) -> None:
        reader, writer = make_pair()
        key = ("doc:api/timeout", "set")
        reader.replace("doc:guide", [make_anchor("doc:guide", "First.")], [unit(1, 0)])
        assert reader.landing(unit(1, 0), [key], PUBLIC) == {key: pytest.approx(1.0, abs=1e-4)}
        writer.replace("doc:guide", [make_anchor("doc:guide", "Second.")], [unit(0, 1)])
        assert reader.landing(unit(1, 0), [key], PUBLIC) == {key: pytest.approx(0.0, abs=1e-4)}
        reader.replace("doc:faq", [make_anchor("doc:faq", "Third.")], [unit(1, 1)])  # its own write, after the other's
        assert writer.landing(unit(0, 1), [key], PUBLIC) == {key: pytest.approx(1.0, abs=1e-4)}
        writer.delete_sources(["doc:guide", "doc:faq"])
        assert reader.landing(unit(1, 0), [key], PUBLIC) == {}


class TestChromaEmbeddedAnchors(AnchorIndexContract, SharedCollections):
    @pytest.fixture
    def make_anchors(self, tmp_path: Path) -> Callable[[], AnchorIndex]:
        return lambda: ChromaAnchorIndex.embedded(tmp_path / "chroma", collection_name(), EF_SEARCH)

    @pytest.fixture
    def make_pair(self, tmp_path: Path) -> Pair:
        def pair() -> tuple[ChromaAnchorIndex, ChromaAnchorIndex]:
            name = collection_name()
            path = tmp_path / "chroma"
            return tuple(ChromaAnchorIndex(embedded_client(path), name, EF_SEARCH, recheck_s=0) for _ in range(2))

        return pair

    def test_the_sentence_is_metadata_not_a_chroma_document(self, tmp_path: Path) -> None:
        # Chroma's full-text index of documents is never searched and was most of a write's cost (SENTENCE).
        name = collection_name()
        anchors = ChromaAnchorIndex.embedded(tmp_path / "chroma", name, EF_SEARCH)
        anchor = make_anchor("doc:guide", "Set it with frob_set_timeout().")
        anchors.replace("doc:guide", [anchor], [unit(1, 0)])

        col = embedded_client(tmp_path / "chroma").get_collection(anchor_collection_names(name)["public"])
        stored = col.get(include=["documents", "metadatas"])
        assert stored["documents"] == [None]
        assert stored["metadatas"][0][SENTENCE] == "Set it with frob_set_timeout()."
        assert anchors.of_source("doc:guide") == [anchor]

    def test_an_anchor_written_before_with_its_sentence_as_document_reads_back_whole(self, tmp_path: Path) -> None:
        name = collection_name()
        anchors = ChromaAnchorIndex.embedded(tmp_path / "chroma", name, EF_SEARCH)
        anchor = make_anchor("doc:guide", "Set it with frob_set_timeout().")
        col = embedded_client(tmp_path / "chroma").get_collection(anchor_collection_names(name)["public"])
        col.upsert(
            ids=[anchor.anchor_id],
            embeddings=[unit(1, 0)],
            documents=[anchor.sentence],
            metadatas=[{key: getattr(anchor, key) for key in _FIELDS}],
        )

        assert anchors.of_source("doc:guide") == [anchor]


@pytest.mark.integration
class TestChromaServerAnchors(AnchorIndexContract, SharedCollections):
    @pytest.fixture
    def make_anchors(self, chroma_server: tuple[str, int]) -> Callable[[], AnchorIndex]:  # noqa: F811
        host, port = chroma_server
        return lambda: ChromaAnchorIndex.http(host, port, collection_name(), EF_SEARCH)

    @pytest.fixture
    def make_pair(self, chroma_server: tuple[str, int]) -> Pair:  # noqa: F811
        host, port = chroma_server

        def pair() -> tuple[ChromaAnchorIndex, ChromaAnchorIndex]:
            name = collection_name()
            return tuple(ChromaAnchorIndex(http_client(host, port), name, EF_SEARCH, recheck_s=0) for _ in range(2))

        return pair
