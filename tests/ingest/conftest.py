"""Fixtures shared by the ingestion tests."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from deflect.domain.ports import Index
from deflect.index.chroma import ChromaIndex
from deflect.testing import InMemoryIndex


@pytest.fixture(params=["memory", "chroma"])
def index(request: pytest.FixtureRequest, tmp_path: Path) -> Index:
    """The in-memory fake and embedded Chroma, the store production uses."""
    if request.param == "memory":
        return InMemoryIndex()
    return ChromaIndex.embedded(tmp_path / "chroma", f"ingest-{uuid.uuid4().hex}", 64)
