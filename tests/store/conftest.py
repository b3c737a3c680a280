"""Fixtures shared by the store contract suites."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from deflect.store.sql import SqlStore


@pytest.fixture
def sqlite_stores(tmp_path: Path) -> Iterator[Callable[[], SqlStore]]:
    """A factory of SqlStores, each on its own new SQLite file; all closed afterwards."""
    opened: list[SqlStore] = []

    def make() -> SqlStore:
        opened.append(SqlStore(f"sqlite:///{tmp_path / uuid.uuid4().hex}.db"))
        return opened[-1]

    yield make
    for store in opened:
        store.close()
