"""The knowledge loop: a resolution becomes a searchable source at once, is written to the kb, and a later
`deflect ingest` neither duplicates nor loses it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from deflect.domain.models import Audience, Decision
from deflect.errors import ValidationFailed
from deflect.knowledge import RESOLVED_FILE, KnowledgeWriter
from deflect.service import DeflectService
from deflect.testing import InMemoryIndex

QUESTION = "Our zorbly widget export stalls at ninety percent every night, what now?"
RESOLUTION = "Engineering cleared the stuck zorbly widget export job; re-run the nightly zorbly export after that."


def fake_scrub(text: str, names: Sequence[str]) -> str:
    """Stands in for deflect.pii (tested on its own): removes emails and the given names."""
    text = re.sub(r"\S+@\S+", "[EMAIL]", text)
    for name in names:
        text = re.sub(rf"\b{re.escape(name)}\b", "[NAME]", text, flags=re.IGNORECASE)
    return text


@pytest.fixture
def loop_service(make_service: Callable[..., DeflectService]) -> DeflectService:
    return make_service(index=InMemoryIndex(), scrub=fake_scrub)


def escalate_and_work(service: DeflectService, question: str = QUESTION, **kwargs: str) -> str:
    first = service.ask(question, Audience.AGENT, **kwargs)
    assert first.decision is Decision.ESCALATE and first.escalation_id
    service.desk.act(first.escalation_id, "claim", "agent-1")
    service.desk.act(first.escalation_id, "start", "agent-1")
    return first.escalation_id


def test_a_resolution_is_searchable_right_away_and_answers_the_next_asker(loop_service: DeflectService) -> None:
    esc_id = escalate_and_work(loop_service)
    esc, sources, ms = loop_service.resolve_escalation(esc_id, "agent-1", RESOLUTION)
    assert sources == [f"esc:{esc_id}"] and ms >= 0
    again = loop_service.ask("zorbly widget export stalls every night", Audience.AGENT)
    assert again.retrieved[0] == f"esc:{esc_id}"
    assert again.decision is Decision.ANSWER
    assert {c.source_id for c in again.citations} == {f"esc:{esc_id}"}
    assert "zorbly" in again.answer


def test_an_unpublished_resolution_is_internal_and_never_reaches_customers(loop_service: DeflectService) -> None:
    esc_id = escalate_and_work(loop_service)
    loop_service.resolve_escalation(esc_id, "agent-1", RESOLUTION)
    customer = loop_service.ask("zorbly widget export stalls every night", Audience.CUSTOMER)
    assert f"esc:{esc_id}" not in customer.retrieved
    assert all(c.source_id != f"esc:{esc_id}" for c in customer.citations)


def test_publishing_with_an_edited_public_version_adds_a_public_entry(loop_service: DeflectService) -> None:
    esc_id = escalate_and_work(loop_service)
    public = "Re-run the nightly zorbly export; if the zorbly widget export stalls again, contact support."
    _, sources, _ = loop_service.resolve_escalation(
        esc_id, "agent-1", RESOLUTION, publish=True, public_resolution=public
    )
    assert sources == [f"esc:{esc_id}", f"esc:{esc_id}-public"]
    customer = loop_service.ask("zorbly widget export stalls every night", Audience.CUSTOMER)
    assert customer.retrieved[0] == f"esc:{esc_id}-public"
    assert "Engineering cleared" not in customer.answer  # the internal detail stays internal


def test_the_entry_is_scrubbed_and_written_to_the_kb(loop_service: DeflectService, settings) -> None:  # type: ignore[no-untyped-def]
    esc_id = escalate_and_work(loop_service, QUESTION + " Mail me at ops@example.com", customer_id="Aldous")
    loop_service.resolve_escalation(esc_id, "agent-1", RESOLUTION + " Aldous confirmed; ops@example.com notified.")
    lines = (settings.kb_dir / RESOLVED_FILE).read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[-1])
    assert record["id"] == esc_id and record["audience"] == "internal"
    assert "ops@example.com" not in record["question"] + record["resolution"]
    assert "Aldous" not in record["resolution"] and "[NAME]" in record["resolution"]


def test_a_rerun_of_ingest_neither_duplicates_nor_loses_the_resolution(loop_service: DeflectService, settings) -> None:  # type: ignore[no-untyped-def]
    esc_id = escalate_and_work(loop_service)
    loop_service.resolve_escalation(esc_id, "agent-1", RESOLUTION)
    chunks_before = loop_service.index.count()
    report = loop_service.ingest([settings.kb_dir], settings.kb_dir)
    assert report.added == report.updated == report.deleted == 0
    assert loop_service.index.count() == chunks_before
    assert any(c.source_id == f"esc:{esc_id}" for c in loop_service.index.chunks())


def test_resolving_commits_the_escalation_before_indexing(loop_service: DeflectService, settings) -> None:  # type: ignore[no-untyped-def]
    esc_id = escalate_and_work(loop_service)
    (settings.kb_dir / RESOLVED_FILE).parent.mkdir(parents=True, exist_ok=True)
    (settings.kb_dir / RESOLVED_FILE).mkdir()  # a directory where the file should be: writing the entry fails

    esc, sources, ms = loop_service.resolve_escalation(esc_id, "agent-1", RESOLUTION)

    assert esc.state.value == "resolved" and ms is None  # answered, not an error: the knowledge is pending
    assert loop_service.desk.get(esc_id).resolution == RESOLUTION  # the human's resolution is not lost
    assert loop_service.desk.knowledge_state(esc_id)["state"] == "pending"  # type: ignore[index]
    assert sources == [f"esc:{esc_id}"]


def test_an_empty_resolution_is_refused(loop_service: DeflectService) -> None:
    esc_id = escalate_and_work(loop_service)
    with pytest.raises(ValidationFailed):
        loop_service.resolve_escalation(esc_id, "agent-1", "   ")


def test_the_writer_starts_a_fresh_line_after_a_torn_write(tmp_path: Path) -> None:
    writer = KnowledgeWriter(tmp_path)
    writer.path.parent.mkdir(parents=True)
    writer.path.write_text('{"id": "half-writ', encoding="utf-8")  # a crash mid-line long ago
    docs = writer.append([{"id": "E1", "subject": "s", "question": "q", "resolution": "r"}], "sig")
    assert [d.source_id for d in docs] == ["esc:E1"]
    assert writer.path.read_text(encoding="utf-8").splitlines()[-1].startswith('{"id": "E1"')


def test_the_customer_name_is_scrubbed_from_stored_text_and_knowledge(
    make_service: Callable[..., DeflectService], settings
) -> None:  # type: ignore[no-untyped-def]
    from deflect.wiring import build_scrubber

    service = make_service(index=InMemoryIndex(), scrub=build_scrubber())  # the real PII scrubber
    first = service.ask(QUESTION + " Thanks, Ruth Okafor", Audience.AGENT, customer_name="Ruth Okafor")
    assert first.escalation_id
    packet = service.desk.get(first.escalation_id)
    assert packet.customer_name == "Ruth Okafor"  # the contact stays on the record...
    assert "Okafor" not in packet.question  # ...but not in the stored text
    decision = next(e for e in service.desk.audit(answer_id=first.id) if e.kind == "decision")
    assert "Okafor" not in str(decision.data)
    service.desk.act(first.escalation_id, "claim", "agent-1")
    service.desk.act(first.escalation_id, "start", "agent-1")
    service.resolve_escalation(first.escalation_id, "agent-1", RESOLUTION + " Called Ruth Okafor to confirm.")
    record = json.loads((settings.kb_dir / RESOLVED_FILE).read_text(encoding="utf-8").splitlines()[-1])
    assert "Okafor" not in record["question"] + record["resolution"]
    assert "[NAME]" in record["resolution"]


def test_people_an_agent_names_in_a_published_resolution_never_reach_customers(
    make_service: Callable[..., DeflectService], settings
) -> None:  # type: ignore[no-untyped-def]
    from deflect.wiring import build_scrubber

    service = make_service(index=InMemoryIndex(), scrub=build_scrubber())  # the real PII scrubber
    esc_id = escalate_and_work(service)  # no customer name on the packet: nothing to scrub by
    resolution = (
        "Spoke with Jane Doe (jane.doe@example.org, +1 415 555 0132). Engineering cleared the stuck zorbly widget "
        "export job; re-run the nightly zorbly export. Jane confirmed it works."
    )
    service.resolve_escalation(esc_id, "agent-1", resolution, publish=True)

    answer = service.ask("zorbly widget export stalls every night", Audience.CUSTOMER)
    assert answer.decision is Decision.ANSWER and f"esc:{esc_id}" in {c.source_id for c in answer.citations}
    record = json.loads((settings.kb_dir / RESOLVED_FILE).read_text(encoding="utf-8").splitlines()[-1])
    for shown in (answer.answer, record["resolution"], service.desk.get(esc_id).resolution or ""):
        assert "Jane" not in shown and "Doe" not in shown and "jane.doe" not in shown
        assert "zorbly" in shown


def test_a_published_reply_reaches_customers_without_its_greeting_signature_or_names(
    make_service: Callable[..., DeflectService], settings
) -> None:  # type: ignore[no-untyped-def]
    from deflect.wiring import build_scrubber

    service = make_service(index=InMemoryIndex(), scrub=build_scrubber())  # the real PII scrubber
    esc_id = escalate_and_work(service)
    reply = (  # the walkthrough's reply: a greeting, a colleague named in passing, a signature with an address
        "Hi Peter Novak, I told Bob Smith about it: engineering cleared the stuck zorbly widget export job; re-run "
        "the nightly zorbly export.\n\nBest regards,\nSven Olsen\n-- Sven Olsen, sven.olsen@acme.example"
    )
    service.resolve_escalation(esc_id, "agent-1", reply, publish=True)

    answer = service.ask("zorbly widget export stalls every night", Audience.CUSTOMER)
    record = json.loads((settings.kb_dir / RESOLVED_FILE).read_text(encoding="utf-8").splitlines()[-1])
    for shown in (answer.answer, record["resolution"]):
        assert "zorbly" in shown
        for gone in ("Peter", "Novak", "Bob", "Smith", "Sven", "Olsen", "sven.olsen", "Hi ", "Best regards"):
            assert gone not in shown
    assert record["resolution"].startswith("I told [NAME] about it")  # a name in the substance stays marked
    assert not record["resolution"].endswith("[EMAIL]")
