"""The FeedbackStore contract over the in-memory fake, SQLite and PostgreSQL (integration), and migration 0002 over
a database at 0001."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic import command

from deflect.store.engine import make_engine
from deflect.store.migrate import alembic_config, current_revision, head_revision, upgrade
from deflect.store.sql import SqlStore
from deflect.testing.store import InMemoryStore
from deflect.testing.store_contract import (
    AuditedFeedbackStore,
    FeedbackStoreContract,
    answered,
    created,
    decision,
    make_escalation,
    make_feedback,
)


class TestInMemoryFeedbackStore(FeedbackStoreContract):
    @pytest.fixture
    def make_store(self) -> Callable[[], AuditedFeedbackStore]:
        return InMemoryStore


class TestSqliteFeedbackStore(FeedbackStoreContract):
    @pytest.fixture
    def make_store(self, sqlite_stores: Callable[[], SqlStore]) -> Callable[[], AuditedFeedbackStore]:
        return sqlite_stores


@pytest.mark.integration
class TestPostgresFeedbackStore(FeedbackStoreContract):
    """On the session's PostgreSQL, each store in its own schema (tests/store/conftest.py `postgres_stores`)."""

    @pytest.fixture
    def make_store(self, postgres_stores: Callable[[], SqlStore]) -> Callable[[], AuditedFeedbackStore]:
        return postgres_stores


def tables(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_migration_0002_applies_to_a_database_at_0001_and_keeps_its_data(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    upgrade(engine, "0001")
    old = SqlStore(url, migrate=False)
    old.create(make_escalation("ESC-1"), [decision("ESC-1"), created("ESC-1")])
    old.close()
    assert current_revision(engine) == "0001"
    assert "feedback" not in tables(tmp_path / "old.db")

    store = SqlStore(url)  # migrates to head

    assert current_revision(engine) == head_revision()
    assert store.get("ESC-1").version == 1
    store.add_feedback(make_feedback("fb-1", answer_id="ans-ESC-1"))  # the 0001 decision event is found
    assert [f.id for f in store.feedback()] == ["fb-1"]
    store.close()
    engine.dispose()


def test_downgrading_0002_drops_only_the_feedback_table(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.db'}"
    store = SqlStore(url)
    store.append_audit([answered("ans-1")])
    store.add_feedback(make_feedback("fb-1"))
    engine = make_engine(url)

    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0001")

    assert current_revision(engine) == "0001"
    assert "feedback" not in tables(tmp_path / "db.db")
    assert len(store.audit()) == 1
    store.migrate()
    assert store.feedback() == []
    store.close()
    engine.dispose()
