"""Fixtures shared by the store contract suites."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

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


@pytest.fixture
def postgres_stores(postgres_url: str) -> Iterator[Callable[[], SqlStore]]:
    """A factory of SqlStores on the session's PostgreSQL (tests/conftest.py `postgres_url`), each in its own new
    schema (via search_path); all closed and their schemas dropped afterwards."""
    admin = create_engine(postgres_url)
    opened: list[tuple[SqlStore, str]] = []

    def make() -> SqlStore:
        schema = f"deflect_test_{uuid.uuid4().hex[:12]}"
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        opened.append((SqlStore(schema_url(postgres_url, schema)), schema))
        return opened[-1][0]

    yield make
    for store, schema in opened:
        store.close()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def schema_url(postgres_url: str, schema: str) -> str:
    """The URL whose connections use `schema` first."""
    url = make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)
