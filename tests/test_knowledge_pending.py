"""Resolutions always become knowledge: the resolution and a pending-knowledge record commit together; indexing
failures leave it pending, the knowledge job indexes it later (no manual ingest); a retried resolve is idempotent."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from deflect.api import create_app
from deflect.config import DEV_ADMIN_KEY, DEV_AGENT_KEY, Settings
from deflect.domain.models import Audience, Decision
from deflect.errors import InvalidTransition
from deflect.knowledge import RESOLVED_FILE
from deflect.service import DeflectService
from deflect.store.sql import SqlStore
from deflect.testing.faults import FaultyIndex

AGENT = {"Authorization": f"Bearer {DEV_AGENT_KEY}", "X-Actor": "agent-1"}  # who worked it (`worked`)
ADMIN = {"Authorization": f"Bearer {DEV_ADMIN_KEY}"}
QUESTION = "Our zorbly widget export stalls at ninety percent every night, what now?"
RESOLUTION = "Engineering cleared the stuck zorbly widget export job; re-run the nightly zorbly export after that."


class UpsertFailingIndex(FaultyIndex):
    """Takes reads, refuses writes while `mode` is "fail" (a Chroma server down during the resolve)."""

    def upsert(self, chunks: Sequence[object], embeddings: Sequence[Sequence[float]]) -> None:
        if self.mode == "fail":
            raise ConnectionError("chroma is down")
        super().upsert(chunks, embeddings)  # type: ignore[arg-type]

    def query(self, embedding: Sequence[float], k: int, audiences: frozenset[str]):  # type: ignore[no-untyped-def]
        return super().query(embedding, k, audiences) if self.mode != "fail" else []


@pytest.fixture
def index() -> UpsertFailingIndex:
    return UpsertFailingIndex()


@pytest.fixture
def svc(make_service: Callable[..., DeflectService], index: UpsertFailingIndex, tmp_path: Path) -> DeflectService:
    return make_service(index=index, store=SqlStore(f"sqlite:///{tmp_path / 'k.db'}"), scrub=lambda t, n: t)


def worked(svc: DeflectService) -> str:
    first = svc.ask(QUESTION, Audience.AGENT)
    assert first.decision is Decision.ESCALATE and first.escalation_id
    svc.desk.act(first.escalation_id, "claim", "agent-1")
    svc.desk.act(first.escalation_id, "start", "agent-1")
    return first.escalation_id


def searchable(svc: DeflectService, esc_id: str) -> bool:
    return f"esc:{esc_id}" in [h.source_id for h in svc.retriever.retrieve(QUESTION, Audience.AGENT.visible())]


def test_an_index_outage_during_resolve_leaves_pending_knowledge_that_the_job_indexes(
    svc: DeflectService, index: UpsertFailingIndex, settings: Settings
) -> None:
    esc_id = worked(svc)
    index.mode = "fail"

    esc, sources, ms = svc.resolve_escalation(esc_id, "agent-1", RESOLUTION)

    assert esc.state.value == "resolved" and ms is None
    state = svc.desk.knowledge_state(esc_id)
    assert state is not None and state["state"] == "pending" and state["attempts"] == 1 and state["last_error"]
    assert svc.index_pending_knowledge() == {"indexed": 0, "pending": 1}  # still down: stays pending

    index.mode = "ok"
    assert svc.jobs["knowledge"].run_once() == {
        "indexed": 1,
        "pending": 0,
        "self_served_votes": {"stored": 0, "failed": 0},
    }

    assert searchable(svc, esc_id)
    assert svc.desk.knowledge_state(esc_id)["state"] == "searchable"  # type: ignore[index]
    lines = (settings.kb_dir / RESOLVED_FILE).read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines].count(esc_id) == 1  # written once, whatever the retries


def test_a_crash_after_the_commit_is_indexed_by_the_next_process(
    make_service: Callable[..., DeflectService], svc: DeflectService, index: UpsertFailingIndex, tmp_path: Path
) -> None:
    esc_id = worked(svc)
    # The resolve commits, then the process dies before indexing: simulated by a knowledge step that never runs.
    svc._index_knowledge = lambda pending, actor: False  # type: ignore[method-assign]
    svc.resolve_escalation(esc_id, "agent-1", RESOLUTION)
    assert not searchable(svc, esc_id)

    restarted = make_service(index=index, ingest=False, store=SqlStore(f"sqlite:///{tmp_path / 'k.db'}"))
    restarted.jobs["knowledge"].start()  # what the server does at start-up
    try:
        for _ in range(100):
            if restarted.desk.knowledge_state(esc_id)["state"] == "searchable":  # type: ignore[index]
                break
            time.sleep(0.05)
    finally:
        restarted.jobs["knowledge"].stop()

    assert searchable(restarted, esc_id)


def test_a_retried_resolve_with_the_same_text_is_idempotent_and_a_different_one_is_refused(
    svc: DeflectService,
) -> None:
    esc_id = worked(svc)
    first = svc.resolve_escalation(esc_id, "agent-1", RESOLUTION)

    again = svc.resolve_escalation(esc_id, "agent-1", RESOLUTION)

    assert again[0] == first[0] and again[1] == first[1] and again[2] == first[2]
    assert len([e for e in svc.desk.audit(escalation_id=esc_id) if e.action == "resolve"]) == 1
    with pytest.raises(InvalidTransition):
        svc.resolve_escalation(esc_id, "agent-1", "something else entirely")


def test_the_api_says_pending_and_a_retry_is_200_and_jobs_are_listed(
    settings: Settings, svc: DeflectService, index: UpsertFailingIndex
) -> None:
    client = TestClient(create_app(settings, svc))
    esc_id = worked(svc)
    index.mode = "fail"

    first = client.post(f"/v1/escalations/{esc_id}/resolve", json={"resolution": RESOLUTION}, headers=AGENT)
    assert first.status_code == 200
    assert first.json()["knowledge_state"] == "pending" and first.json()["searchable_ms"] is None

    index.mode = "ok"
    retry = client.post(f"/v1/escalations/{esc_id}/resolve", json={"resolution": RESOLUTION}, headers=AGENT)
    assert retry.status_code == 200  # was a 409
    assert retry.json()["knowledge_state"] == "searchable" and retry.json()["searchable_ms"] >= 0

    view = client.get(f"/v1/escalations/{esc_id}", headers=AGENT).json()
    assert view["knowledge"]["state"] == "searchable"
    jobs = client.get("/v1/jobs", headers=ADMIN).json()
    assert [j["name"] for j in jobs] == ["knowledge", "ingest", "gaps", "calibration"]
    assert client.get("/v1/jobs", headers=AGENT).status_code == 403


def test_the_cli_show_says_pending_or_searchable(
    svc: DeflectService, index: UpsertFailingIndex, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deflect import cli_escalations  # noqa: F401  (registers the escalations commands)
    from deflect.cli import app

    esc_id = worked(svc)
    index.mode = "fail"
    svc.resolve_escalation(esc_id, "agent-1", RESOLUTION)
    monkeypatch.setenv("DEFLECT_DATABASE_URL", svc.desk.store._engine.url.render_as_string())  # type: ignore[attr-defined]
    monkeypatch.setenv("DEFLECT_ESCALATION_FILE", str(settings.escalation_file))

    shown = CliRunner().invoke(app, ["escalations", "show", esc_id])

    assert shown.exit_code == 0, shown.output
    assert re.search(rf"Knowledge: pending esc:{esc_id}", shown.output)
