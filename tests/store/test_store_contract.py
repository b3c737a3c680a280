"""The EscalationStore contract, run against every implementation: in-memory fake, SQLite file, PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from deflect.domain.ports import EscalationStore
from deflect.store.sql import SqlStore
from deflect.testing.store import InMemoryStore
from deflect.testing.store_contract import EscalationStoreContract, make_event


class TestInMemoryStore(EscalationStoreContract):
    @pytest.fixture
    def make_store(self) -> Callable[[], EscalationStore]:
        return InMemoryStore


class TestSqliteStore(EscalationStoreContract):
    @pytest.fixture
    def make_store(self, sqlite_stores: Callable[[], SqlStore]) -> Callable[[], EscalationStore]:
        return sqlite_stores


@pytest.mark.integration
class TestPostgresStore(EscalationStoreContract):
    """On the session's PostgreSQL (tests/conftest.py `postgres_url`); each store gets its own schema (via
    search_path), dropped afterwards."""

    @pytest.fixture
    def make_store(self, postgres_url: str) -> Iterator[Callable[[], EscalationStore]]:
        admin = create_engine(postgres_url)
        opened: list[tuple[SqlStore, str]] = []

        def make() -> SqlStore:
            schema = f"deflect_test_{uuid.uuid4().hex[:12]}"
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            url = make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
            opened.append((SqlStore(url.render_as_string(hide_password=False)), schema))
            return opened[-1][0]

        yield make
        for store, schema in opened:
            store.close()
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    def test_audit_rows_cannot_be_updated_or_deleted(self, make_store: Callable[[], EscalationStore]) -> None:
        store = make_store()
        assert isinstance(store, SqlStore)
        store.append_audit([make_event(actor="deflect")])
        for statement in ("UPDATE audit_events SET actor = 'forged'", "DELETE FROM audit_events"):
            with pytest.raises(Exception, match="append-only"), store._engine.begin() as conn:
                conn.execute(text(statement))

        assert [e.actor for e in store.audit()] == ["deflect"]
