"""The KeyStore contract, run against every implementation: in-memory fake, SQLite file, PostgreSQL; and
migration 0004 over a database at 0003."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from deflect.domain.keys import Role
from deflect.keys import KeyRing
from deflect.store.engine import make_engine
from deflect.store.migrate import current_revision, head_revision, upgrade
from deflect.store.sql import SqlStore
from deflect.testing.keys_contract import AuditedKeyStore, KeyStoreContract
from deflect.testing.store import InMemoryStore
from deflect.testing.store_contract import make_escalation


@pytest.fixture
def reopen_sql() -> Iterator[Callable[[AuditedKeyStore], AuditedKeyStore]]:
    """A second SqlStore (own engine and connection pool, as another process has) on the same database."""
    opened: list[SqlStore] = []

    def reopen(store: AuditedKeyStore) -> AuditedKeyStore:
        assert isinstance(store, SqlStore)
        opened.append(SqlStore(store._engine.url.render_as_string(hide_password=False)))
        return opened[-1]

    yield reopen
    for store in opened:
        store.close()


class TestInMemoryKeyStore(KeyStoreContract):
    @pytest.fixture
    def make_store(self) -> Callable[[], AuditedKeyStore]:
        return InMemoryStore


class TestSqliteKeyStore(KeyStoreContract):
    @pytest.fixture
    def make_store(self, sqlite_stores: Callable[[], SqlStore]) -> Callable[[], AuditedKeyStore]:
        return sqlite_stores

    @pytest.fixture
    def reopen(
        self, reopen_sql: Callable[[AuditedKeyStore], AuditedKeyStore]
    ) -> Callable[[AuditedKeyStore], AuditedKeyStore]:
        return reopen_sql


@pytest.mark.integration
class TestPostgresKeyStore(KeyStoreContract):
    @pytest.fixture
    def make_store(self, postgres_stores: Callable[[], SqlStore]) -> Callable[[], AuditedKeyStore]:
        return postgres_stores

    @pytest.fixture
    def reopen(
        self, reopen_sql: Callable[[AuditedKeyStore], AuditedKeyStore]
    ) -> Callable[[AuditedKeyStore], AuditedKeyStore]:
        return reopen_sql


def test_migration_0004_applies_to_a_database_at_0003_and_keeps_its_data(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    upgrade(engine, "0003")
    old = SqlStore(url, migrate=False)
    old.create(make_escalation("ESC-1"))
    old.close()

    store = SqlStore(url)  # migrates to head

    assert current_revision(engine) == head_revision()
    assert store.get("ESC-1").version == 1
    issued = KeyRing(store).create(Role.CUSTOMER, "help center backend", "admin-1")
    assert KeyRing(store).identify(issued.secret) == issued.record
    store.close()
    engine.dispose()
