"""The EscalationStore contract, run against every implementation: in-memory fake, SQLite file, PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import text

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
    def make_store(self, postgres_stores: Callable[[], SqlStore]) -> Callable[[], EscalationStore]:
        return postgres_stores

    def test_audit_rows_cannot_be_updated_or_deleted(self, make_store: Callable[[], EscalationStore]) -> None:
        store = make_store()
        assert isinstance(store, SqlStore)
        store.append_audit([make_event(actor="deflect")])
        for statement in ("UPDATE audit_events SET actor = 'forged'", "DELETE FROM audit_events"):
            with pytest.raises(Exception, match="append-only"), store._engine.begin() as conn:
                conn.execute(text(statement))

        assert [e.actor for e in store.audit()] == ["deflect"]
