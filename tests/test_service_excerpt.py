"""DeflectService.ask: the excerpt quoted from the first page suggested to a customer whose question was escalated
for low confidence alone (Suggestion.excerpt). Over the fakes and the tiny kb (tests/test_service_suggest.py has the
suggestions themselves): only that page is quoted, only for a customer, only when drafting costs nothing, never an
internal page, and the hand-off, the packet and the audit say what was shown."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import pytest

from conftest import CANARY, FAKE_CALIBRATION
from deflect.config import Settings
from deflect.domain.models import Answer, Audience, Decision, SourceHit
from deflect.service import DeflectService
from deflect.testing import HashEmbedder, InMemoryIndex, ScriptedGenerator
from deflect.testing.store import InMemoryStore
from deflect.wiring import assemble
from test_service_suggest import CREDITS, INTERNAL, PASSWORD, LeakyIndex, unsure

_LABEL = re.compile(r"^\*\*.+\*\*$")
_MARKER = re.compile(r"\s*\[\d+\]$")


def quoted_blocks(excerpt: str) -> list[str]:
    """The excerpt's passages without the heading labels and [n] markers the generator adds around them."""
    blocks = [_MARKER.sub("", b.strip()) for b in excerpt.split("\n\n")]
    return [b for b in blocks if b and not _LABEL.match(b) and not re.fullmatch(r"\[\d+\]", b)]


def page_text(svc: DeflectService, source_id: str, audience: Audience) -> str:
    return "\n\n".join(c.text for c in svc.source(source_id, audience))


def test_the_first_page_carries_an_excerpt_quoted_from_that_page_alone(settings: Settings) -> None:
    svc, store = unsure(settings)

    result = svc.ask(PASSWORD, Audience.CUSTOMER)

    assert result.reasons == ["low_confidence"]
    first, *others = result.suggested
    assert first.excerpt, "the reset-password page has a passage about resetting a password"
    assert "[1]" in first.excerpt and "[2]" not in first.excerpt  # one source in, one cited
    text = page_text(svc, first.source_id, Audience.CUSTOMER)
    assert all(block in text for block in quoted_blocks(first.excerpt)), "verbatim passages of that page only"
    assert all(not p.excerpt for p in others)  # the other pages stay pointers
    # The packet keeps what the customer read (for the agent), and the audit names the quoted page.
    assert result.escalation_id is not None
    esc = store.get(result.escalation_id).escalation
    assert {s.source_id: s.excerpt for s in esc.sources if s.excerpt} == {first.source_id: first.excerpt}
    decision = next(e for e in store.audit(escalation_id=esc.id) if e.kind == "decision")
    assert decision.data["excerpt_from"] == first.source_id


def test_the_hand_off_says_the_excerpt_is_quoted_from_the_docs_and_a_person_still_follows_up(
    settings: Settings,
) -> None:
    svc, _ = unsure(settings)

    result = svc.ask(PASSWORD, Audience.CUSTOMER)

    last = result.answer.split("\n\n")[-1]
    assert last == svc.desk.config.messages.suggestions_excerpt
    assert "documentation" in last and "solved it" in last and "still reply" in last
    assert result.escalation_id and result.escalation_id in result.answer  # the escalation stands


def test_an_internal_best_hit_is_never_quoted_to_a_customer(settings: Settings) -> None:
    svc, store = unsure(settings, index=LeakyIndex())
    hits, _ = svc.evidence(CREDITS, Audience.CUSTOMER)
    assert hits[0].source_id in INTERNAL, "the leaky index must actually put an internal source first"

    result = svc.ask(CREDITS, Audience.CUSTOMER)

    first = result.suggested[0]
    assert first.source_id not in INTERNAL and first.excerpt, "a public page about the question is quoted"
    assert CANARY not in first.excerpt
    internal_text = " ".join(page_text(svc, sid, Audience.AGENT) for sid in INTERNAL)
    assert not any(block in internal_text for block in quoted_blocks(first.excerpt))
    public = page_text(svc, first.source_id, Audience.CUSTOMER)
    assert all(block in public for block in quoted_blocks(first.excerpt))
    assert result.escalation_id
    assert not any(s.excerpt for s in store.get(result.escalation_id).escalation.sources if s.source_id in INTERNAL)


def test_no_excerpt_for_an_agent(settings: Settings) -> None:
    svc, store = unsure(settings)

    agent = svc.ask(PASSWORD, Audience.AGENT)

    assert agent.reasons == ["low_confidence"] and agent.draft_answer and agent.suggested == []
    assert agent.escalation_id and not any(s.excerpt for s in store.get(agent.escalation_id).escalation.sources)


@pytest.mark.parametrize(
    "question",
    [
        "How do I reset my password? I want to talk to a human.",  # human_requested
        "Someone hacked my account, how do I reset my password?",  # risk_topic:security
    ],
)
def test_no_excerpt_when_a_trigger_escalated(settings: Settings, question: str) -> None:
    svc, store = unsure(settings)

    result = svc.ask(question, Audience.CUSTOMER)

    assert result.reasons != ["low_confidence"] and result.suggested == []
    assert svc.desk.config.messages.suggestions_excerpt not in result.answer
    assert result.escalation_id and not any(s.excerpt for s in store.get(result.escalation_id).escalation.sources)


def test_the_setting_off_leaves_pointers_only(settings: Settings) -> None:
    svc, store = unsure(settings.model_copy(update={"suggest_excerpt": False}))

    result = svc.ask(PASSWORD, Audience.CUSTOMER)

    assert result.suggested and all(not p.excerpt for p in result.suggested)
    assert result.answer.rstrip().endswith(svc.desk.config.messages.suggestions)
    assert result.escalation_id and not any(s.excerpt for s in store.get(result.escalation_id).escalation.sources)


class StreamingScripted(ScriptedGenerator):
    """A streaming generator at the port (what Ollama is): each draft is a model call, so none delays a hand-off."""

    def stream(self, question: str, sources: Sequence[SourceHit], emit: Callable[[str], None] | None) -> Answer:
        return self.generate(question, sources)


def make(settings: Settings, generator: ScriptedGenerator) -> DeflectService:
    strict = settings.model_copy(update={"confidence_threshold": 0.999})
    svc = assemble(
        strict,
        InMemoryIndex(),
        HashEmbedder(),
        calibration=FAKE_CALIBRATION,
        generator=generator,
        store=InMemoryStore(),
    )
    svc.ingest([strict.kb_dir], strict.kb_dir)
    return svc


def test_no_excerpt_when_the_generator_is_a_model(settings: Settings) -> None:
    generator = StreamingScripted()
    svc = make(settings, generator)

    result = svc.ask(PASSWORD, Audience.CUSTOMER)

    assert result.reasons == ["low_confidence"] and result.suggested
    assert all(not p.excerpt for p in result.suggested)
    assert generator.calls == []  # no model call at all for a customer's hand-off
    assert result.answer.rstrip().endswith(svc.desk.config.messages.suggestions)


def test_no_excerpt_when_the_generator_quotes_nothing(settings: Settings) -> None:
    svc = make(settings, ScriptedGenerator(text=""))

    result = svc.ask(PASSWORD, Audience.CUSTOMER)

    assert result.decision is Decision.ESCALATE and result.suggested
    assert result.suggested[0].excerpt == ""
    assert result.answer.rstrip().endswith(svc.desk.config.messages.suggestions)


def test_a_dry_run_shows_the_same_excerpt_and_stores_nothing(settings: Settings) -> None:
    real, _ = unsure(settings)
    dry, store = unsure(settings)

    wet_result, dry_result = real.ask(PASSWORD, Audience.CUSTOMER), dry.ask(PASSWORD, Audience.CUSTOMER, record=False)

    assert dry_result.suggested[0].excerpt and dry_result.suggested == wet_result.suggested
    assert store.list() == []
