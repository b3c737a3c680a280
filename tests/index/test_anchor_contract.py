"""The AnchorIndex contract, run against every implementation: in-memory fake, embedded Chroma, Chroma server."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from deflect.domain.ports import AnchorIndex
from deflect.index.anchors import ChromaAnchorIndex
from deflect.testing.anchor_contract import AnchorIndexContract
from deflect.testing.anchors import InMemoryAnchorIndex

from .test_index_contract import EF_SEARCH, chroma_server  # noqa: F401 (the server fixture, shared)


def collection_name() -> str:
    return f"anchors-{uuid.uuid4().hex}"


class TestInMemoryAnchorIndex(AnchorIndexContract):
    @pytest.fixture
    def make_anchors(self) -> Callable[[], AnchorIndex]:
        return InMemoryAnchorIndex


class TestChromaEmbeddedAnchors(AnchorIndexContract):
    @pytest.fixture
    def make_anchors(self, tmp_path: Path) -> Callable[[], AnchorIndex]:
        return lambda: ChromaAnchorIndex.embedded(tmp_path / "chroma", collection_name(), EF_SEARCH)


@pytest.mark.integration
class TestChromaServerAnchors(AnchorIndexContract):
    @pytest.fixture
    def make_anchors(self, chroma_server: tuple[str, int]) -> Callable[[], AnchorIndex]:  # noqa: F811
        host, port = chroma_server
        return lambda: ChromaAnchorIndex.http(host, port, collection_name(), EF_SEARCH)
