"""DeflectService.ask searches a follow-up again with the asker's earlier message (deflect.retrieval.followup) and
keeps that search only when it wins; the answer is composed for what was searched, and the audit says so. Over the
fakes, with the two searches' confidence set by the test (the hash embedder's is not the point here)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from deflect.domain.models import Answer, Audience, SourceHit
from deflect.errors import IndexUnavailable
from deflect.service import DeflectService
from deflect.testing.fakes import ScriptedGenerator
from deflect.testing.store import InMemoryStore

EARLIER = "How do I reset my password?"
FOLLOW_UP = "And how long is it valid?"
PASSWORD = "doc:articles/reset-password"


class RecordingGenerator(ScriptedGenerator):
    """The scripted answer; keeps the question it was asked to answer."""

    asked = ""

    def generate(self, question: str, sources: Sequence[SourceHit]) -> Answer:
        self.asked = question
        return super().generate(question, sources)


SURE = {"top_dense": 1.0, "top_score": 1.0, "margin": 1.0, "overlap": 1.0}
UNSURE = {"top_dense": 0.1, "top_score": 0.1, "margin": 0.0, "overlap": 0.0}


def scripted(
    service: DeflectService, joined_hits: Callable[[list[SourceHit]], list[SourceHit]] | None = None, fail: bool = False
) -> list[str]:
    """The real retrieval, with the confidence features of a search with the earlier message in front set sure and
    the follow-up's own unsure; returns the texts searched."""
    real = service.evidence
    searched: list[str] = []

    def evidence(question: str, audience: Audience) -> tuple[list[SourceHit], dict[str, float]]:
        searched.append(question)
        hits, _ = real(question, audience)
        if not question.startswith(EARLIER):
            return hits, dict(UNSURE)
        if fail:
            raise IndexUnavailable("the index timed out")
        return (joined_hits(hits) if joined_hits else hits), dict(SURE)

    service.evidence = evidence  # type: ignore[method-assign]
    return searched


@pytest.fixture
def generator() -> RecordingGenerator:
    return RecordingGenerator()


def test_a_follow_up_is_answered_from_the_search_with_the_earlier_message(
    make_service: Callable[..., DeflectService], generator: RecordingGenerator
) -> None:
    store = InMemoryStore()
    service = make_service(generator=generator, store=store)
    searched = scripted(service)

    result = service.ask(FOLLOW_UP, Audience.CUSTOMER, conversation=[EARLIER])

    assert searched == [FOLLOW_UP, f"{EARLIER} {FOLLOW_UP}"]
    assert result.decision.value == "answer" and result.citations[0].source_id == PASSWORD
    assert generator.asked == f"{EARLIER} {FOLLOW_UP}"  # passages chosen for what was searched
    (decision,) = store.audit(kind="decision")
    assert decision.data["question"] == FOLLOW_UP and decision.data["searched"] == f"{EARLIER} {FOLLOW_UP}"


def test_a_question_of_its_own_is_searched_once(
    make_service: Callable[..., DeflectService], generator: RecordingGenerator
) -> None:
    store = InMemoryStore()
    service = make_service(generator=generator, store=store)
    searched = scripted(service)

    service.ask("Where do I download my invoices?", Audience.CUSTOMER, conversation=[EARLIER])

    assert searched == ["Where do I download my invoices?"]
    assert all("searched" not in e.data for e in store.audit(kind="decision"))


def test_the_earlier_topic_alone_does_not_answer_a_follow_up(
    make_service: Callable[..., DeflectService], generator: RecordingGenerator
) -> None:
    service = make_service(generator=generator)
    # The search with the earlier message finds a source the follow-up's own words did not reach.
    searched = scripted(service, joined_hits=lambda hits: [h.model_copy(update={"source_id": "doc:x"}) for h in hits])

    result = service.ask(FOLLOW_UP, Audience.CUSTOMER, conversation=[EARLIER])

    assert len(searched) == 2 and result.decision.value == "escalate" and "low_confidence" in result.reasons


def test_a_failing_second_search_leaves_the_follow_ups_own(
    make_service: Callable[..., DeflectService], generator: RecordingGenerator
) -> None:
    service = make_service(generator=generator)
    scripted(service, fail=True)

    result = service.ask(FOLLOW_UP, Audience.CUSTOMER, conversation=[EARLIER])

    assert result.decision.value == "escalate" and "index_unavailable" not in result.reasons
