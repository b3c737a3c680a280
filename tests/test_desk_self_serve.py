"""EscalationDesk.self_serve through DeflectService.ask: the customer who raised a low-confidence escalation
withdraws it because a suggested page solved it. Over the fakes and the tiny kb (whose password question escalates
for low confidence alone under a threshold nothing reaches), on the in-memory store and SQLite."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from conftest import FAKE_CALIBRATION
from deflect.config import Settings
from deflect.desk import EscalationDesk
from deflect.domain.escalation import OTHER_PAGE, Escalation, State
from deflect.domain.models import Audience
from deflect.domain.ports import EscalationStore, StoredEscalation
from deflect.errors import Forbidden, InvalidTransition, NotFound
from deflect.service import DeflectService
from deflect.store.sql import SqlStore
from deflect.testing import HashEmbedder, InMemoryIndex
from deflect.testing.store import InMemoryStore
from deflect.wiring import assemble

PASSWORD = "How do I reset my password?"
PAGE = "doc:articles/reset-password"
ME, SOMEONE_ELSE = "customer:me", "customer:someone-else"


@pytest.fixture(params=["memory", "sql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> EscalationStore:
    return InMemoryStore() if request.param == "memory" else SqlStore(f"sqlite:///{tmp_path / 'self.db'}")


@pytest.fixture
def svc(settings: Settings, store: EscalationStore) -> DeflectService:
    strict = settings.model_copy(update={"confidence_threshold": 0.999})
    service = assemble(strict, InMemoryIndex(), HashEmbedder(), calibration=FAKE_CALIBRATION, store=store)
    service.ingest([strict.kb_dir], strict.kb_dir)
    return service


def escalated(svc: DeflectService, requester: str | None = ME) -> Escalation:
    result = svc.ask(PASSWORD, Audience.CUSTOMER, requester=requester)
    assert result.escalation_id is not None and [p.source_id for p in result.suggested] == [PAGE]
    return svc.desk.get(result.escalation_id)


def test_the_customer_withdraws_it_naming_the_page_audited_and_out_of_the_queue(svc: DeflectService) -> None:
    esc = escalated(svc)
    assert esc.requester == ME
    told: list[Escalation] = []
    svc.desk.self_served_observers.append(told.append)

    done, message = svc.desk.self_serve(esc.id, ME, PAGE)

    assert done.state is State.SELF_SERVED and done.self_served_page == PAGE
    assert esc.id in message and "nobody will contact you" in message
    stored = svc.desk.get(esc.id)
    assert stored == done
    assert stored.sla.resolved_at is not None and stored.sla.acknowledged_at is None  # clock stopped, unacknowledged
    assert stored.resolution is None and svc.desk.knowledge_state(esc.id) is None  # nothing becomes knowledge
    assert esc.id not in [e.id for e in svc.desk.list(state=svc.desk.open_states())]
    assert [e.id for e in svc.desk.list(state=State.SELF_SERVED)] == [esc.id]
    [event] = [e for e in svc.desk.audit(escalation_id=esc.id) if e.action == "self_serve"]
    assert (event.actor, event.action) == (ME, "self_serve")
    assert event.data == {"from": "escalated", "to": "self_served", "page": PAGE}
    assert [e.id for e in told] == [esc.id]


def test_a_repeat_changes_nothing_and_records_nothing(svc: DeflectService) -> None:
    esc = escalated(svc)
    told: list[Escalation] = []
    svc.desk.self_served_observers.append(told.append)
    first, message = svc.desk.self_serve(esc.id, ME, PAGE)

    again, message_again = svc.desk.self_serve(esc.id, ME, OTHER_PAGE)  # a second click, even naming another page

    assert again == first and message_again == message
    # decision, created, one self_serve, and the one vote it cast for the page (tests/feedback/test_self_served.py)
    assert [e.action for e in svc.desk.audit(escalation_id=esc.id)] == [None, None, "self_serve", "feedback"]
    assert len(told) == 1
    assert svc.desk.store.get(esc.id).version == 2


def test_someone_elses_staffs_and_unknown_escalations_are_the_same_not_found(svc: DeflectService) -> None:
    mine = escalated(svc)
    staffs = escalated(svc, requester=None)  # an agent asked on the customer's behalf: nobody may withdraw it

    refusals = []
    for escalation_id, requester in [(mine.id, SOMEONE_ELSE), (staffs.id, ME), ("esc_unknown", ME), (mine.id, "")]:
        with pytest.raises(NotFound) as info:
            svc.desk.self_serve(escalation_id, requester, PAGE)
        refusals.append((info.value.code, info.value.message.replace(escalation_id, "<id>"), info.value.details))

    assert {(code, message) for code, message, _ in refusals} == {("not_found", "no escalation <id>")}
    assert svc.desk.get(mine.id).state is State.ESCALATED
    assert [e for e in svc.desk.audit(escalation_id=mine.id) if e.kind == "action"] == []


@pytest.mark.parametrize("steps", [["claim"], ["bounce"], ["claim", "start"], ["claim", "start", "wait"]])
def test_allowed_until_an_agent_starts(svc: DeflectService, steps: list[str]) -> None:
    esc = escalated(svc)
    for step in steps:
        svc.desk.act(esc.id, step, "agent-ana", **({"reason": "not mine"} if step == "bounce" else {}))

    if "start" not in steps:
        done, _ = svc.desk.self_serve(esc.id, ME, PAGE)
        assert done.state is State.SELF_SERVED
        assert done.assignee == ("agent-ana" if steps == ["claim"] else None)
        return
    with pytest.raises(InvalidTransition) as info:
        svc.desk.self_serve(esc.id, ME, PAGE)
    # Told where it stands, in words for the customer, without the agents' workflow.
    assert "already with a person" in info.value.message
    assert info.value.details == [{"escalation_id": esc.id, "state": svc.desk.get(esc.id).state.value}]
    assert svc.desk.get(esc.id).state is not State.SELF_SERVED


def test_staff_cannot_take_the_customers_action(svc: DeflectService) -> None:
    esc = escalated(svc)

    with pytest.raises(Forbidden):
        svc.desk.act(esc.id, "self_serve", "agent-ana", page=PAGE)
    assert svc.desk.get(esc.id).state is State.ESCALATED


def test_the_sweep_leaves_a_withdrawn_escalation_alone(svc: DeflectService) -> None:
    esc = escalated(svc)
    svc.desk.self_serve(esc.id, ME, PAGE)
    clock = svc.desk.clock
    svc.desk.clock = lambda: clock() + timedelta(days=60)  # every deadline long past

    report = svc.desk.sweep()

    assert esc.id not in report["breached"] + report["raised"] + report["warning"]
    assert svc.desk.get(esc.id).tier == esc.tier


class ClaimOnFirstRead:
    """Delegates to a store; right after the first read, an agent acts (through another desk), so the reader's write
    names a stale version, as when a customer clicks while an agent claims or starts."""

    def __init__(self, inner: EscalationStore, agent: Callable[[], Any]) -> None:
        self._inner = inner
        self._agent: Callable[[], Any] | None = agent

    def get(self, escalation_id: str) -> StoredEscalation:
        found = self._inner.get(escalation_id)
        agent, self._agent = self._agent, None
        if agent is not None:
            agent()
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.mark.parametrize("agent_steps", [["claim"], ["claim", "start"]])
def test_an_agent_acting_meanwhile_is_decided_on_what_is_stored(svc: DeflectService, agent_steps: list[str]) -> None:
    esc = escalated(svc)
    agents = svc.desk

    def agent() -> None:
        for step in agent_steps:
            agents.act(esc.id, step, "agent-ana")

    racing = EscalationDesk(ClaimOnFirstRead(agents.store, agent), agents.config)  # type: ignore[arg-type]

    if agent_steps == ["claim"]:
        done, _ = racing.self_serve(esc.id, ME, PAGE)
        assert done.state is State.SELF_SERVED and done.assignee == "agent-ana"
    else:
        with pytest.raises(InvalidTransition):
            racing.self_serve(esc.id, ME, PAGE)
        assert agents.get(esc.id).state is State.STARTED


def test_a_failing_observer_neither_fails_the_withdrawal_nor_silences_the_next_one(
    svc: DeflectService, caplog: pytest.LogCaptureFixture
) -> None:
    esc = escalated(svc)
    told: list[Escalation] = []

    def broken(_: Escalation) -> None:
        raise RuntimeError("metrics backend down")

    svc.desk.self_served_observers[:0] = [broken]
    svc.desk.self_served_observers.append(told.append)

    done, _ = svc.desk.self_serve(esc.id, ME, PAGE)

    assert done.state is State.SELF_SERVED and svc.desk.get(esc.id).state is State.SELF_SERVED
    assert [e.id for e in told] == [esc.id]
    assert f"self-served escalation {esc.id}: an observer failed" in caplog.text


def test_only_the_requesters_repeat_tells_the_repeat_observers_and_one_failing_fails_nothing(
    svc: DeflectService, caplog: pytest.LogCaptureFixture
) -> None:
    esc = escalated(svc)
    first: list[Escalation] = []
    repeats: list[Escalation] = []

    def broken(_: Escalation) -> None:
        raise RuntimeError("feedback store down")

    svc.desk.self_served_observers.append(first.append)
    svc.desk.self_serve_repeated_observers[:0] = [broken]
    svc.desk.self_serve_repeated_observers.append(repeats.append)

    svc.desk.self_serve(esc.id, ME, PAGE)
    with pytest.raises(NotFound):
        svc.desk.self_serve(esc.id, SOMEONE_ELSE, PAGE)
    again, _ = svc.desk.self_serve(esc.id, ME, PAGE)

    assert [e.id for e in first] == [esc.id]  # metrics count the withdrawal once
    assert [(e.id, e.state, e.self_served_page) for e in repeats] == [(esc.id, State.SELF_SERVED, PAGE)]
    assert again == svc.desk.get(esc.id)
    assert f"self-served escalation {esc.id}: an observer failed" in caplog.text
