"""FeedbackDesk over answers the fake-backed service really gave: what is stored, what is offered, what is refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from deflect.domain.models import Audience, Decision
from deflect.errors import ConfigError, NotFound, ValidationFailed
from deflect.feedback import AdjustConfig, FeedbackDesk
from deflect.service import DeflectService
from deflect.testing import HashEmbedder
from deflect.testing.store import InMemoryStore

from .builders import hit

ANSWERABLE = "How do I reset my password?"
UNANSWERABLE = "What is the weather on Mars tomorrow?"
AT = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def svc(make_service: Callable[..., DeflectService], store: InMemoryStore) -> DeflectService:
    return make_service(store=store)


@pytest.fixture
def desk(store: InMemoryStore) -> FeedbackDesk:
    return FeedbackDesk(store, HashEmbedder(), clock=lambda: AT, scrub=lambda text: text.replace("ann@x.io", "[EMAIL]"))


def test_a_vote_is_stored_with_the_answers_question_and_cited_sources(svc: DeflectService, desk: FeedbackDesk) -> None:
    answer = svc.ask(ANSWERABLE, Audience.CUSTOMER)
    assert answer.decision is Decision.ANSWER

    result = desk.record(answer.id, False, "Mail ann@x.io never came", "doc:other", "customer", "cust-7")

    stored = desk.list(answer_id=answer.id)
    assert stored == [result.record]
    record = result.record
    assert record.id.startswith("fb_")
    assert (record.answer_id, record.at, record.helpful) == (answer.id, AT, False)
    assert (record.actor, record.role, record.decision) == ("cust-7", "customer", "answer")
    assert record.question == ANSWERABLE
    assert record.source_ids == [c.source_id for c in answer.citations] and record.source_ids
    assert record.correct_source == "doc:other"
    assert record.comment == "Mail [EMAIL] never came"


def test_the_vote_is_tied_to_the_answers_audit_record(svc: DeflectService, desk: FeedbackDesk) -> None:
    answer = svc.ask(ANSWERABLE, Audience.CUSTOMER)

    result = desk.record(answer.id, False, "Mail ann@x.io never came", None, "customer", "cust-7")

    trail = svc.desk.audit(answer_id=answer.id)
    assert [(e.kind, e.action) for e in trail] == [("decision", None), ("action", "feedback")]
    event = trail[-1]
    assert (event.actor, event.at) == ("cust-7", AT)
    assert event.data == {
        "feedback_id": result.record.id,
        "helpful": False,
        "role": "customer",
        "sources": result.record.source_ids,
        "correct_source": None,
        "has_comment": True,
        "offer_escalation": True,
    }
    assert "ann@x.io" not in str(event.data)


@pytest.mark.parametrize(
    ("helpful", "role", "offered"),
    [(False, "customer", True), (True, "customer", False), (False, "agent", False), (False, "admin", False)],
)
def test_only_an_unhelpful_customer_answer_offers_escalation(
    svc: DeflectService, desk: FeedbackDesk, helpful: bool, role: str, offered: bool
) -> None:
    answer = svc.ask(ANSWERABLE, Audience.CUSTOMER)

    assert desk.record(answer.id, helpful, caller_role=role, actor="someone").offer_escalation is offered


def test_an_escalated_customer_question_is_not_offered_escalation_again(
    svc: DeflectService, desk: FeedbackDesk
) -> None:
    escalated = svc.ask(UNANSWERABLE, Audience.CUSTOMER)
    assert escalated.decision is Decision.ESCALATE

    result = desk.record(escalated.id, False, caller_role="customer", actor="cust-1")

    assert result.offer_escalation is False
    assert result.record.decision == "escalate"
    assert result.record.source_ids == []  # the customer was shown the hand-off, no source
    trail = svc.desk.audit(answer_id=escalated.id)
    assert trail[-1].escalation_id == escalated.escalation_id


def test_unknown_answer_is_not_found_and_nothing_is_written(desk: FeedbackDesk, store: InMemoryStore) -> None:
    with pytest.raises(NotFound):
        desk.record("ans_missing", False, caller_role="customer", actor="c")

    assert desk.list() == []
    assert store.audit() == []


def test_a_customer_cannot_vote_on_an_agents_answer(svc: DeflectService, desk: FeedbackDesk) -> None:
    agent_answer = svc.ask(ANSWERABLE, Audience.AGENT)

    with pytest.raises(NotFound):
        desk.record(agent_answer.id, False, caller_role="customer", actor="c")
    assert desk.record(agent_answer.id, False, caller_role="agent", actor="agent-ana").record.role == "agent"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"comment": "x" * 2001}, "comment"),
        ({"correct_source": "  "}, "correct_source"),
        ({"correct_source": "s" * 301}, "correct_source"),
        ({"caller_role": "robot"}, "role"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(
    svc: DeflectService, desk: FeedbackDesk, kwargs: dict[str, str], field: str
) -> None:
    answer = svc.ask(ANSWERABLE, Audience.CUSTOMER)

    with pytest.raises(ValidationFailed) as caught:
        desk.record(answer.id, False, **kwargs)  # type: ignore[arg-type]

    assert caught.value.details[0]["field"] == field
    assert desk.list() == []


def test_a_blank_comment_is_no_comment(svc: DeflectService, desk: FeedbackDesk) -> None:
    answer = svc.ask(ANSWERABLE, Audience.CUSTOMER)

    assert desk.record(answer.id, True, comment="   ").record.comment is None


def test_votes_from_enough_customers_re_rank_that_question(svc: DeflectService, store: InMemoryStore) -> None:
    embedder = HashEmbedder()
    desk = FeedbackDesk(store, embedder, AdjustConfig(min_actors=3), clock=lambda: AT)
    answers = [svc.ask(ANSWERABLE, Audience.CUSTOMER) for _ in range(3)]
    shown = answers[0].citations[0].source_id
    candidates = [hit(shown, 0.80), hit("doc:better", 0.79)]
    vector = embedder.embed([ANSWERABLE])[0]

    desk.record(answers[0].id, False, None, "doc:better", "customer", "c0")
    desk.record(answers[1].id, False, None, "doc:better", "customer", "c1")
    assert [h.source_id for h in desk.adjust(vector, candidates)] == [shown, "doc:better"]  # two actors: nothing

    desk.record(answers[2].id, False, None, "doc:better", "customer", "c2")

    assert [h.source_id for h in desk.adjust(vector, candidates)] == ["doc:better", shown]


def test_votes_written_by_another_process_are_seen_after_the_refresh(svc: DeflectService, store: InMemoryStore) -> None:
    embedder = HashEmbedder()
    reader = FeedbackDesk(store, embedder, AdjustConfig(min_actors=1), clock=lambda: AT, refresh_s=3600)
    writer = FeedbackDesk(store, embedder, clock=lambda: AT)
    answer = svc.ask(ANSWERABLE, Audience.CUSTOMER)
    vector = embedder.embed([ANSWERABLE])[0]
    shown = answer.citations[0].source_id
    candidates = [hit(shown, 0.80), hit("doc:better", 0.79)]
    assert len(reader.adjustments()) == 0  # loaded (empty) and cached

    writer.record(answer.id, False, None, "doc:better", "customer", "c0")

    assert reader.adjust(vector, candidates)[0].source_id == shown  # still the cached, empty adjustments
    fresh = FeedbackDesk(store, embedder, AdjustConfig(min_actors=1), clock=lambda: AT, refresh_s=0)
    assert fresh.adjust(vector, candidates)[0].source_id == "doc:better"


def test_unhelpful_lists_each_unhelpful_answer_once_within_the_window(
    svc: DeflectService, store: InMemoryStore
) -> None:
    times = iter([AT, AT + timedelta(hours=1), AT + timedelta(hours=2), AT + timedelta(days=3)])
    desk = FeedbackDesk(store, HashEmbedder(), clock=lambda: next(times))
    first, second = svc.ask(ANSWERABLE, Audience.CUSTOMER), svc.ask("How do I download an invoice?", Audience.CUSTOMER)
    desk.record(first.id, False, caller_role="customer", actor="a")
    desk.record(first.id, False, caller_role="customer", actor="b")  # same answer again: listed once
    desk.record(second.id, True, caller_role="customer", actor="c")  # helpful: not a gap
    desk.record(second.id, False, caller_role="customer", actor="d")  # outside the window

    found = desk.unhelpful(AT, AT + timedelta(days=1))

    assert [(r.answer_id, r.actor) for r in found] == [(first.id, "b")]


def test_a_desk_without_an_embedder_stores_votes_and_refuses_to_re_rank(
    svc: DeflectService, store: InMemoryStore
) -> None:
    votes_only = FeedbackDesk(store, None, clock=lambda: AT)  # what `deflect feedback sweep` builds: no model
    answer = svc.ask(ANSWERABLE, Audience.CUSTOMER)

    votes_only.record(answer.id, True, caller_role="customer", actor="cust-7")

    assert [r.answer_id for r in votes_only.list()] == [answer.id]
    with pytest.raises(ConfigError, match="cannot re-rank"):
        votes_only.adjustments()
