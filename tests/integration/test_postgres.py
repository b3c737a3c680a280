"""deflect on a real PostgreSQL (a throwaway cluster of Debian's package, tests/conftest.py `postgres_url`):
migrations from empty and from the previous release's schema, and ask -> escalate -> resolve -> answered over
HTTP with escalations, audit and keyword search all in PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from conftest import FAKE_CALIBRATION
from deflect.api import create_app
from deflect.config import DEV_AGENT_KEY, Settings
from deflect.domain.models import ScoredChunk
from deflect.evaluation.golden import load_golden
from deflect.index.chroma import ChromaIndex
from deflect.index.keyword import SqliteKeywordIndex
from deflect.ingest.chunking import Chunker
from deflect.ingest.pipeline import Ingestor
from deflect.store.engine import make_engine
from deflect.store.keyword import PostgresKeywordIndex
from deflect.store.migrate import alembic_config, current_revision, head_revision, upgrade
from deflect.store.schema import metadata
from deflect.store.sql import SqlStore
from deflect.testing import HashEmbedder, InMemoryIndex
from deflect.wiring import assemble

pytestmark = pytest.mark.integration
AGENT = {"Authorization": f"Bearer {DEV_AGENT_KEY}", "X-Actor": "agent-1"}
QUESTION = "Our zorbly widget export stalls at ninety percent every night, what now?"


@pytest.fixture
def schema_url(postgres_url: str) -> Iterator[str]:
    """A URL whose connections use a new, empty schema (dropped afterwards)."""
    admin = create_engine(postgres_url)
    schema = f"deflect_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield (
        make_url(postgres_url)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def test_migrations_from_empty_reach_the_schema_the_store_uses(schema_url: str) -> None:
    engine = make_engine(schema_url)
    assert current_revision(engine) is None

    upgrade(engine)

    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata) == []
    upgrade(engine)  # again: a no-op
    engine.dispose()


def test_upgrade_from_the_previous_release_keeps_its_data(schema_url: str) -> None:
    engine = make_engine(schema_url)
    previous = ScriptDirectory.from_config(alembic_config()).get_revision(head_revision()).down_revision
    assert isinstance(previous, str)
    upgrade(engine, previous)
    with engine.begin() as conn:  # a row written by the previous release
        conn.execute(
            text(
                "INSERT INTO audit_events (at, kind, actor, data) "
                "VALUES (now(), 'action', 'old-release', CAST('{}' AS json))"
            )
        )

    store = SqlStore(schema_url)  # opening the store migrates to head

    assert current_revision(engine) == head_revision()
    assert [e.actor for e in store.audit()] == ["old-release"]
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert current_revision(engine) is None
    store.close()
    engine.dispose()


def test_ask_escalate_resolve_then_answered_all_on_postgres(
    schema_url: str, settings: Settings, tmp_path: Path
) -> None:
    pg_settings = settings.model_copy(update={"database_url": schema_url})
    store = SqlStore(schema_url)
    index = ChromaIndex.embedded(tmp_path / "chroma", "e2e", 64)
    service = assemble(pg_settings, index, HashEmbedder(), calibration=FAKE_CALIBRATION, store=store)
    service.ingest([settings.kb_dir], settings.kb_dir)
    keyword = service.retriever.keyword
    assert isinstance(keyword, PostgresKeywordIndex)
    assert keyword.count() == index.count() > 0

    with TestClient(create_app(pg_settings, service)) as client:
        first = client.post("/v1/ask", json={"question": QUESTION}, headers=AGENT).json()
        assert first["decision"] == "escalate" and first["escalation_id"]
        esc_id = first["escalation_id"]
        for action in ("claim", "start"):
            assert client.post(f"/v1/escalations/{esc_id}/{action}", json={}, headers=AGENT).status_code == 200
        resolved = client.post(
            f"/v1/escalations/{esc_id}/resolve",
            json={"resolution": "Clear the stuck zorbly widget export job, then re-run the nightly zorbly export."},
            headers=AGENT,
        )
        assert resolved.status_code == 200, resolved.text

        again = client.post("/v1/ask", json={"question": "zorbly widget export stalls"}, headers=AGENT).json()

    assert again["retrieved"][0] == f"esc:{esc_id}"
    assert again["decision"] == "answer"
    assert [h.chunk.source_id for h in keyword.search("zorbly export", 1, frozenset({"internal"}))] == [f"esc:{esc_id}"]
    assert keyword.search("zorbly export", 5, frozenset({"public"})) == []  # internal until published
    assert store.get(esc_id).escalation.state.value == "resolved"
    assert {e.action for e in store.audit(escalation_id=esc_id)} >= {"claim", "start", "resolve", "knowledge_added"}
    keyword.close()
    store.close()


def test_postgres_ranks_as_the_embedded_index_does(postgres_url: str, tmp_path: Path) -> None:
    """Same terms, same BM25: over the shipped kb and its golden questions both indexes give the same scores in the
    same order (chunks with equal scores may swap places: float sums differ in the last bit)."""
    root = Path(__file__).resolve().parents[2]
    memory = InMemoryIndex()
    Ingestor(memory, HashEmbedder(), Chunker(200, 30)).ingest_paths([root / "kb"], root / "kb")
    chunks = memory.chunks()
    embedded = SqliteKeywordIndex(tmp_path / "keyword.sqlite3")
    server = PostgresKeywordIndex(postgres_url, f"same-{uuid.uuid4().hex}")
    embedded.upsert(chunks)
    server.upsert(chunks)

    for case in load_golden(root / "eval" / "golden" / "kb.jsonl"):
        a = embedded.search(case.question, 10, case.audience.visible())
        b = server.search(case.question, 10, case.audience.visible())
        assert [h.keyword for h in a] == pytest.approx([h.keyword for h in b], abs=1e-9), case.id
        assert tied_groups(a) == tied_groups(b), case.id
    server.delete_chunks(c.chunk_id for c in chunks)
    server.close()


def tied_groups(hits: list[ScoredChunk]) -> list[set[str]]:
    """Chunk ids grouped by equal score, best first; the last group is left out (the limit may cut it anywhere)."""
    groups: dict[float, set[str]] = {}
    for hit in hits:
        groups.setdefault(round(hit.keyword, 9), set()).add(hit.chunk.chunk_id)
    return list(groups.values())[:-1]


def test_the_desks_labelled_questions_are_read_from_postgresql(schema_url: str) -> None:
    from tests.calibrate.test_traffic import NOW, SETTINGS, decision, labels, resolved, vote

    from deflect.calibrate.traffic import from_store

    store = SqlStore(schema_url)
    draft = "Open Settings, then Billing, and choose Download invoice for the month you need."
    store.append_audit([decision("a1", "doc:a"), decision("a2", "doc:a"), decision("a3", "doc:a")])
    store.add_feedback(vote("a1", False))
    store.create(resolved("a2", "We fixed it on our side.", draft))

    assert labels(from_store(store, store, SETTINGS, NOW)) == {"a1": 0, "a2": 0}
    store.close()
