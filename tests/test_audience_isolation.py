"""Customers never receive internal content: not in answers, citations or retrieved ids, at any layer."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from conftest import CANARY
from deflect.api import create_app
from deflect.config import DEV_AGENT_KEY, DEV_CUSTOMER_KEY, Settings
from deflect.domain.models import AskResult, Audience, Decision
from deflect.service import DeflectService

INTERNAL_RUNBOOK = "doc:internal/credits"
INTERNAL_ESCALATION = "esc:ESC-2"

# Questions aimed straight at the internal runbook and the internal escalation.
PROBES = [
    CANARY,
    CANARY.lower(),
    f"What is {CANARY}?",
    "ZEBRA CANARY",
    "refund approval chain",
    "Refund approval chain",
    "Who approves a refund above the limit?",
    "What is the code word for refunds?",
    "billing lead code word",
    "account credits admin tool",
    "How to apply account credits in the admin tool",
    "Tier 2 agents can apply account credits up to 500 dollars in the admin tool",
    "Who do I ping for approval above 500 dollars?",
    "Applying account credits runbook",
    "internal runbook credits",
    "support.internal.example runbooks credits",
]

# What an agent asking the same must receive: the internal source the probe targets.
AGENT_EXPECTS = {
    CANARY: {INTERNAL_RUNBOOK, INTERNAL_ESCALATION},
    "refund approval chain": {INTERNAL_ESCALATION},
    "Who approves a refund above the limit?": {INTERNAL_ESCALATION},
    "account credits admin tool": {INTERNAL_RUNBOOK},
    "How to apply account credits in the admin tool": {INTERNAL_RUNBOOK},
}


@pytest.fixture
def internal_ids(service: DeflectService) -> set[str]:
    """Source ids of every internal chunk actually in the index (so the checks below are not vacuous)."""
    ids = {c.source_id for c in service._index.chunks(frozenset({"internal"}))}
    assert ids == {INTERNAL_RUNBOOK, INTERNAL_ESCALATION}
    return ids


def assert_no_internal(result: dict[str, object], internal_ids: set[str]) -> None:
    """Nothing in a customer's result but the echoed question may mention internal content."""
    shown = {key: value for key, value in result.items() if key != "question"}
    text = str(shown)
    assert CANARY not in text
    assert CANARY.lower() not in text.lower()
    assert "support.internal.example" not in text
    assert not internal_ids & set(result["retrieved"])  # type: ignore[arg-type]
    for citation in result["citations"]:  # type: ignore[attr-defined]
        assert citation["source_id"] not in internal_ids
        for field in ("title", "snippet", "url"):
            assert CANARY not in citation[field]
        assert citation["title"] not in {"Applying account credits", "Refund approval chain"}


@pytest.mark.parametrize("question", PROBES)
def test_customer_never_sees_internal_content_through_the_service(
    service: DeflectService, internal_ids: set[str], question: str
) -> None:
    result = service.ask(question, Audience.CUSTOMER)

    assert result.audience is Audience.CUSTOMER
    assert_no_internal(result.model_dump(), internal_ids)


@pytest.mark.parametrize("question", PROBES)
def test_customer_never_sees_internal_content_through_the_api(
    settings: Settings, service: DeflectService, internal_ids: set[str], question: str
) -> None:
    client = TestClient(create_app(settings, service))

    response = client.post("/v1/ask", json={"question": question}, headers={"X-API-Key": DEV_CUSTOMER_KEY})

    assert response.status_code == 200
    body = response.json()
    assert body["audience"] == "customer"
    assert_no_internal(body, internal_ids)
    # The raw body too, with only the echoed question taken out.
    raw = response.text.replace(response.json()["question"], "")
    assert CANARY not in raw


@pytest.mark.parametrize("question", sorted(AGENT_EXPECTS))
def test_an_agent_asking_the_same_receives_the_internal_source(service: DeflectService, question: str) -> None:
    result = service.ask(question, Audience.AGENT)

    assert AGENT_EXPECTS[question] <= set(result.retrieved)
    assert result.decision is Decision.ANSWER
    assert {c.source_id for c in result.citations} & AGENT_EXPECTS[question]


def test_an_agent_answer_can_carry_internal_text_the_customer_never_gets(
    settings: Settings, service: DeflectService
) -> None:
    client = TestClient(create_app(settings, service))
    question = "Who approves a refund above the limit?"

    agent = client.post("/v1/ask", json={"question": question}, headers={"X-API-Key": DEV_AGENT_KEY}).json()
    customer = client.post("/v1/ask", json={"question": question}, headers={"X-API-Key": DEV_CUSTOMER_KEY}).json()

    assert CANARY in agent["answer"]
    assert agent["citations"][0]["source_id"] == INTERNAL_ESCALATION
    assert CANARY not in customer["answer"]
    assert INTERNAL_ESCALATION not in customer["retrieved"]


def test_interleaved_agent_and_customer_questions_do_not_leak(service: DeflectService, internal_ids: set[str]) -> None:
    # Agent first, so any per-audience cache (BM25) is already built with internal chunks.
    for question in PROBES[:6]:
        service.ask(question, Audience.AGENT)
        customer = service.ask(question, Audience.CUSTOMER)
        assert_no_internal(customer.model_dump(), internal_ids)


def test_an_escalated_customer_gets_the_handoff_not_internal_text(service: DeflectService) -> None:
    result: AskResult = service.ask("refund approval chain", Audience.CUSTOMER)

    assert result.decision is Decision.ESCALATE
    assert result.citations == []
    assert "billing lead" not in result.answer


@pytest.mark.parametrize("question", PROBES)
def test_customer_candidates_hold_no_internal_chunk_on_either_side(service: DeflectService, question: str) -> None:
    dense, keyword = service._retriever.candidates(question, Audience.CUSTOMER.visible())

    assert dense, "the dense side always returns the nearest public chunks"
    assert all(c.chunk.audience == "public" for c in dense)
    assert all(c.chunk.audience == "public" for c in keyword)
    assert all(CANARY not in c.chunk.text for c in [*dense, *keyword])


def test_customer_keyword_side_is_exercised_and_public_only(service: DeflectService) -> None:
    # "account" is in public text and in the internal runbook: BM25 must return only the public match.
    _, keyword = service._retriever.candidates("account credits admin tool", Audience.CUSTOMER.visible())

    assert keyword
    assert {c.chunk.audience for c in keyword} == {"public"}


@pytest.mark.parametrize("question", [CANARY, "refund approval chain", "account credits admin tool"])
def test_agent_candidates_include_internal_chunks_on_both_sides(service: DeflectService, question: str) -> None:
    # The counterpart of the customer check: the same queries do reach internal chunks for an agent.
    dense, keyword = service._retriever.candidates(question, Audience.AGENT.visible())

    assert any(c.chunk.audience == "internal" for c in dense)
    assert any(c.chunk.audience == "internal" for c in keyword)


def test_customer_and_agent_see_different_source_sets(make_service: Callable[..., DeflectService]) -> None:
    service = make_service()
    customer = {c.source_id for c in service._index.chunks(Audience.CUSTOMER.visible())}
    agent = {c.source_id for c in service._index.chunks(Audience.AGENT.visible())}

    assert customer == {"doc:articles/reset-password", "doc:articles/invoices", "esc:ESC-1"}
    assert agent == customer | {INTERNAL_RUNBOOK, INTERNAL_ESCALATION}
