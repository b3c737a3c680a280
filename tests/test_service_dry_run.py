"""DeflectService.ask(record=False), the dry run behind `deflect ask --dry-run`: the same decision as a real ask,
and nothing stored. Over the fakes (HashEmbedder, InMemoryIndex, InMemoryStore); two services over the same kb, one
asked for real and one dry, so the comparison is not against a store the other ask already changed."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from deflect.api import create_app
from deflect.config import DEV_ADMIN_KEY, DEV_AGENT_KEY, DEV_CUSTOMER_KEY, Settings
from deflect.domain.models import AskResult, Audience, Decision
from deflect.service import DeflectService
from deflect.testing.store import InMemoryStore

QUESTIONS = [
    "How do I reset my password?",
    "Our webhook signature check fails on every delivery.",
    "What is the weather on Mars tomorrow?",
    "I want a refund and I will call my lawyer",
]


def stored(store: InMemoryStore) -> tuple[int, int]:
    return len(store.list()), len(store.audit())


@pytest.mark.parametrize("audience", [Audience.CUSTOMER, Audience.AGENT])
@pytest.mark.parametrize("question", QUESTIONS)
def test_a_dry_run_decides_as_a_real_ask_and_stores_nothing(
    make_service: Callable[..., DeflectService], question: str, audience: Audience
) -> None:
    real_store, dry_store = InMemoryStore(), InMemoryStore()
    real = make_service(store=real_store).ask(question, audience)
    seen: list[AskResult] = []
    dry_service = make_service(store=dry_store)
    dry_service.observers.append(seen.append)

    dry = dry_service.ask(question, audience, record=False)

    assert stored(dry_store) == (0, 0), "a dry run writes no escalation and no audit event"
    assert seen == [], "a dry run is not traffic: observers (metrics) are not told"
    assert dry.dry_run and not real.dry_run
    assert (dry.decision, dry.reasons, dry.confidence) == (real.decision, real.reasons, real.confidence)
    assert dry.retrieved == real.retrieved
    assert [c.source_id for c in dry.citations] == [c.source_id for c in real.citations]
    assert dry.escalation_id is None
    if real.decision is Decision.ESCALATE:
        assert real.escalation_id and stored(real_store)[0] == 1
        assert dry.priority == real.priority and dry.priority is not None
        assert real.escalation_id not in dry.answer
    else:
        assert dry.answer == real.answer
        assert stored(real_store) == (0, 1), "the real answer is audited (the dry run's absence is meaningful)"


def test_the_questions_cover_both_decisions(make_service: Callable[..., DeflectService]) -> None:
    """The comparison above is only worth something if it saw an answer and an escalation."""
    service = make_service()
    decisions = {service.ask(q, Audience.CUSTOMER, record=False).decision for q in QUESTIONS}
    assert decisions == {Decision.ANSWER, Decision.ESCALATE}


@pytest.mark.parametrize("key", [DEV_CUSTOMER_KEY, DEV_AGENT_KEY, DEV_ADMIN_KEY])
def test_http_callers_cannot_ask_for_a_dry_run(
    settings: Settings, make_service: Callable[..., DeflectService], key: str
) -> None:
    """Dry runs are a CLI tool: over HTTP `dry_run` is an unknown field (422, the one error shape) for every key,
    so no caller can ask without leaving the audit trail, and every HTTP result says `dry_run: false`."""
    store = InMemoryStore()
    client = TestClient(create_app(settings, make_service(store=store)))
    headers = {"Authorization": f"Bearer {key}"}
    refused = client.post("/v1/ask", json={"question": QUESTIONS[2], "dry_run": True}, headers=headers)
    assert refused.status_code == 422
    assert set(refused.json()["error"]) == {"code", "message", "details"}
    assert stored(store) == (0, 0)
    asked = client.post("/v1/ask", json={"question": QUESTIONS[2]}, headers=headers)
    assert asked.status_code == 200 and asked.json()["dry_run"] is False
    assert asked.json()["escalation_id"] and stored(store)[0] == 1
