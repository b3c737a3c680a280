"""DeflectService.ask: pages that may help, offered to a customer whose question was escalated for low confidence
alone. Over the fakes (HashEmbedder, InMemoryIndex, InMemoryStore) and the tiny kb, whose internal runbook and
internal resolved escalation must never be suggested to a customer."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import pytest

from conftest import FAKE_CALIBRATION
from deflect.answer.confidence import Calibration
from deflect.config import Settings
from deflect.domain.models import Audience, Chunk, Decision, ScoredChunk
from deflect.service import DeflectService
from deflect.testing import HashEmbedder, InMemoryIndex
from deflect.testing.store import InMemoryStore
from deflect.wiring import assemble

PASSWORD = "How do I reset my password?"
# An agent's best source for this is the internal runbook (checked below); a customer's are public pages.
CREDITS = "How do I apply account credits in the admin tool?"
INTERNAL = {"doc:internal/credits", "esc:ESC-2"}


class LeakyIndex(InMemoryIndex):
    """An index whose audience filter is broken: it returns internal chunks to everyone. The service must still
    never point a customer at one."""

    def query(self, embedding: Sequence[float], k: int, audiences: frozenset[str]) -> list[ScoredChunk]:
        return super().query(embedding, k, frozenset({"public", "internal"}))

    def chunks(
        self,
        audiences: frozenset[str] | None = None,
        source_ids: Collection[str] | None = None,
        chunk_ids: Collection[str] | None = None,
    ) -> list[Chunk]:
        # The retriever reads the kNN's chunks by id with the caller's audiences (from the keyword index, then from
        # here): a broken filter leaks there too.
        return super().chunks(None, source_ids, chunk_ids)


def unsure(
    settings: Settings, calibration: Calibration = FAKE_CALIBRATION, index: InMemoryIndex | None = None
) -> tuple[DeflectService, InMemoryStore]:
    """The tiny kb with a threshold no answer reaches: relevant questions escalate for low confidence alone."""
    store = InMemoryStore()
    strict = settings.model_copy(update={"confidence_threshold": 0.999})
    svc = assemble(strict, index or InMemoryIndex(), HashEmbedder(), calibration=calibration, store=store)
    svc.ingest([strict.kb_dir], strict.kb_dir)
    return svc, store


def test_a_customer_escalated_for_low_confidence_alone_gets_pages_and_the_packet_marks_them_shown(
    settings: Settings,
) -> None:
    svc, store = unsure(settings)

    result = svc.ask(PASSWORD, Audience.CUSTOMER)

    assert result.decision is Decision.ESCALATE and result.reasons == ["low_confidence"]
    assert [p.source_id for p in result.suggested] == ["doc:articles/reset-password"]
    page = result.suggested[0]
    assert page.title == "Resetting your password" and page.url.startswith("https://help.example/")
    assert page.heading  # the best chunk's section, so the customer knows where on the page to look
    # The first page comes quoted (tests below), so the hand-off says what the quotation is and that it stands.
    assert result.answer.rstrip().endswith(svc.desk.config.messages.suggestions_excerpt)
    assert result.escalation_id is not None
    esc = store.get(result.escalation_id).escalation  # committed before the reply, as every escalation
    shown = [s.source_id for s in esc.sources if s.shown]
    assert shown == [p.source_id for p in result.suggested]
    assert len(esc.sources) > len(shown)  # every searched source is kept; only the suggested ones are shown
    tried = next(item for item in esc.checklist if item.key == "already_tried")
    assert tried.value and "Resetting your password" in tried.value
    decision = next(e for e in store.audit(escalation_id=esc.id) if e.kind == "decision")
    assert decision.data["suggested"] == shown


@pytest.mark.parametrize(
    "question",
    [
        "How do I reset my password? I want to talk to a human.",  # human_requested
        "Someone hacked my account, how do I reset my password?",  # risk_topic:security
        "What is the weather on Mars tomorrow?",  # unknown_name
    ],
)
def test_no_pages_when_anything_but_low_confidence_escalated(settings: Settings, question: str) -> None:
    svc, store = unsure(settings)

    result = svc.ask(question, Audience.CUSTOMER)

    assert result.decision is Decision.ESCALATE and result.reasons != ["low_confidence"]
    assert result.suggested == []
    assert "may help" not in result.answer
    assert result.escalation_id and not any(s.shown for s in store.get(result.escalation_id).escalation.sources)


def test_no_pages_for_an_agent_or_an_answered_question(settings: Settings) -> None:
    svc, _ = unsure(settings)
    agent = svc.ask(PASSWORD, Audience.AGENT)
    answered = assemble(settings, InMemoryIndex(), HashEmbedder(), calibration=FAKE_CALIBRATION, store=InMemoryStore())
    answered.ingest([settings.kb_dir], settings.kb_dir)
    customer = answered.ask("Where do invoices live?", Audience.CUSTOMER)

    # The agent was escalated for the same reason a customer gets pages for, and has the draft with its citations.
    assert agent.reasons == ["low_confidence"] and agent.draft_citations and agent.suggested == []
    assert customer.decision is Decision.ANSWER and customer.suggested == []


def test_pages_under_the_calibrations_relevance_floor_are_not_suggested(settings: Settings) -> None:
    svc, _ = unsure(settings)
    hits, _ = svc.evidence(CREDITS, Audience.CUSTOMER)
    cosines = sorted({h.dense for h in hits}, reverse=True)
    assert len(cosines) >= 2, "the check needs retrieved pages on both sides of the floor"
    floor = (cosines[0] + cosines[1]) / 2  # between the best page and the next: only the best one clears it
    raised, _ = unsure(settings, FAKE_CALIBRATION.model_copy(update={"relevance_floor": floor}))

    result = raised.ask(CREDITS, Audience.CUSTOMER)

    assert result.reasons == ["low_confidence"]
    assert [p.source_id for p in result.suggested] == [h.source_id for h in hits if h.dense >= floor]
    assert len(result.suggested) == 1 < len(hits)


def test_a_customer_is_never_pointed_at_an_internal_page_even_when_the_index_leaks_one(settings: Settings) -> None:
    svc, _ = unsure(settings, index=LeakyIndex())
    hits, _ = svc.evidence(CREDITS, Audience.CUSTOMER)
    assert hits[0].source_id in INTERNAL, "the leaky index must actually put an internal source first"

    result = svc.ask(CREDITS, Audience.CUSTOMER)

    assert result.reasons == ["low_confidence"]
    assert result.suggested, "public pages about the question are still suggested"
    assert not {p.source_id for p in result.suggested} & INTERNAL


def test_a_dry_run_suggests_the_same_pages_and_stores_nothing(settings: Settings) -> None:
    real, _ = unsure(settings)
    dry, store = unsure(settings)

    wet_result, dry_result = real.ask(PASSWORD, Audience.CUSTOMER), dry.ask(PASSWORD, Audience.CUSTOMER, record=False)

    assert dry_result.suggested == wet_result.suggested and dry_result.suggested
    assert store.list() == []
