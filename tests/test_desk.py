"""No escalation is lost: parallel asks on SQLite, racing claims, commit before return, a store that fails."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from deflect.desk import EscalationDesk
from deflect.domain.escalation import AuditEvent, Escalation, State
from deflect.domain.models import Audience, Decision
from deflect.domain.ports import EscalationStore, StoredEscalation
from deflect.errors import Conflict, InvalidTransition
from deflect.service import DeflectService
from deflect.store.sql import SqlStore
from deflect.testing.store import InMemoryStore

UNANSWERABLE = "What is the weather on Mars tomorrow?"
ANSWERABLE = "How do I reset my password?"
THREADS = 24


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'c.db'}"


@pytest.fixture
def sql_store(db_url: str) -> Iterator[SqlStore]:
    store = SqlStore(db_url)
    yield store
    store.close()


def run_together(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Call work(0..count-1) on `count` threads released at once; each call's result or the exception it raised."""
    barrier = threading.Barrier(count)

    def one(n: int) -> Any:
        barrier.wait(timeout=30)
        try:
            return work(n)
        except Exception as exc:  # collected and asserted on by the caller
            return exc

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


# --- many asks at once -----------------------------------------------------------------------------------------


def test_parallel_escalating_asks_store_every_escalation_exactly_once(
    make_service: Callable[..., DeflectService], sql_store: SqlStore, db_url: str
) -> None:
    service = make_service(store=sql_store)
    service.ask(ANSWERABLE, Audience.CUSTOMER)  # calibration and keyword index loaded before the race

    results = run_together(THREADS, lambda n: service.ask(UNANSWERABLE, Audience.CUSTOMER, customer_id=f"c{n}"))

    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []
    assert all(r.decision is Decision.ESCALATE for r in results)
    ids = [r.escalation_id for r in results]
    assert None not in ids
    assert len(set(ids)) == THREADS
    # Read back through a fresh store: what is on disk, not what one engine cached.
    fresh = SqlStore(db_url)
    try:
        stored = fresh.list(limit=None)
        assert sorted(e.id for e in stored) == sorted(ids)
        assert sorted(e.customer_id or "" for e in stored) == sorted(f"c{n}" for n in range(THREADS))
        by_id = {r.escalation_id: r for r in results}
        for esc in stored:
            result = by_id[esc.id]
            assert esc.answer_id == result.id
            events = fresh.audit(escalation_id=esc.id)
            assert [e.kind for e in events] == ["decision", "escalation_created"]
            assert {e.answer_id for e in events} == {result.id}
            assert events[0].data["decision"] == "escalate"
        decisions = fresh.audit(kind="decision")
        assert len(decisions) == THREADS + 1  # the warm-up answer too
        assert len({e.answer_id for e in decisions}) == THREADS + 1
        assert len(fresh.audit(kind="escalation_created")) == THREADS
    finally:
        fresh.close()


def test_parallel_asks_keep_each_customers_packet_its_own(
    make_service: Callable[..., DeflectService], sql_store: SqlStore
) -> None:
    service = make_service(store=sql_store)

    results = run_together(THREADS, lambda n: service.ask(UNANSWERABLE, Audience.CUSTOMER, customer_id=f"c{n}"))

    assert not [r for r in results if isinstance(r, BaseException)]
    for n, result in enumerate(results):
        assert sql_store.get(result.escalation_id).escalation.customer_id == f"c{n}"


# --- two humans at once ----------------------------------------------------------------------------------------


class GetBarrierStore:
    """Delegates to a store; every `get` waits until `parties` callers have read, so all read the same version."""

    def __init__(self, inner: EscalationStore, parties: int) -> None:
        self._inner = inner
        self._barrier = threading.Barrier(parties)

    def get(self, escalation_id: str) -> StoredEscalation:
        found = self._inner.get(escalation_id)
        self._barrier.wait(timeout=30)
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def new_escalation(desk: EscalationDesk) -> Escalation:
    esc, _ = desk.escalate(
        answer_id="ans_race",
        question=UNANSWERABLE,
        audience=Audience.CUSTOMER,
        reasons=["low_confidence"],
        hits=[],
        policy_version="test",
        decision_data={"decision": "escalate"},
    )
    return esc


def make_store(kind: str, tmp_path: Path) -> EscalationStore:
    return SqlStore(f"sqlite:///{tmp_path / 'race.db'}") if kind == "sql" else InMemoryStore()


@pytest.mark.parametrize("kind", ["sql", "memory"])
def test_two_concurrent_claims_one_wins_the_other_is_refused(
    service: DeflectService, tmp_path: Path, kind: str
) -> None:
    store = make_store(kind, tmp_path)
    desk = EscalationDesk(store, service.desk.config)
    esc = new_escalation(desk)

    outcomes = run_together(2, lambda n: desk.act(esc.id, "claim", f"agent-{n}"))

    won = [o for o in outcomes if isinstance(o, Escalation)]
    lost = [o for o in outcomes if not isinstance(o, Escalation)]
    assert len(won) == 1 and len(lost) == 1, outcomes
    assert isinstance(lost[0], Conflict | InvalidTransition)
    stored = store.get(esc.id)
    assert stored.escalation.state is State.CLAIMED
    assert stored.escalation.assignee == won[0].assignee
    assert stored.version == 2
    claims = [e for e in store.audit(escalation_id=esc.id) if e.action == "claim"]
    assert [e.actor for e in claims] == [won[0].assignee]


@pytest.mark.parametrize("kind", ["sql", "memory"])
def test_claims_that_read_the_same_version_conflict(service: DeflectService, tmp_path: Path, kind: str) -> None:
    """Both pass the state check on the same read; only the version check can stop the second write."""
    inner = make_store(kind, tmp_path)
    desk = EscalationDesk(inner, service.desk.config)
    esc = new_escalation(desk)
    racing = EscalationDesk(GetBarrierStore(inner, 2), service.desk.config)  # type: ignore[arg-type]

    outcomes = run_together(2, lambda n: racing.act(esc.id, "claim", f"agent-{n}"))

    won = [o for o in outcomes if isinstance(o, Escalation)]
    lost = [o for o in outcomes if not isinstance(o, Escalation)]
    assert len(won) == 1, outcomes
    assert len(lost) == 1 and isinstance(lost[0], Conflict), outcomes
    assert lost[0].code == "conflict"
    stored = inner.get(esc.id)
    assert stored.escalation.assignee == won[0].assignee
    assert len([e for e in inner.audit(escalation_id=esc.id) if e.kind == "action"]) == 1


def test_many_agents_racing_to_claim_leave_one_owner(service: DeflectService, sql_store: SqlStore) -> None:
    desk = EscalationDesk(sql_store, service.desk.config)
    esc = new_escalation(desk)

    outcomes = run_together(8, lambda n: desk.act(esc.id, "claim", f"agent-{n}"))

    won = [o for o in outcomes if isinstance(o, Escalation)]
    assert len(won) == 1
    assert all(isinstance(o, Conflict | InvalidTransition) for o in outcomes if o not in won)
    assert sql_store.get(esc.id).version == 2
    assert len(sql_store.audit(escalation_id=esc.id, kind="action")) == 1


# --- committed before ask returns ------------------------------------------------------------------------------


def test_an_escalation_is_committed_before_ask_returns(
    make_service: Callable[..., DeflectService], sql_store: SqlStore, db_url: str
) -> None:
    service = make_service(store=sql_store)

    result = service.ask(UNANSWERABLE, Audience.CUSTOMER, customer_id="cust-1")

    assert result.escalation_id is not None
    other = SqlStore(db_url)
    try:
        stored = other.get(result.escalation_id)
        assert stored.version == 1
        assert stored.escalation.answer_id == result.id
        assert stored.escalation.question == UNANSWERABLE
        assert stored.escalation.reasons == result.reasons
        assert stored.escalation.priority.value == result.priority
        events = other.audit(escalation_id=result.escalation_id)
        assert [e.kind for e in events] == ["decision", "escalation_created"]
    finally:
        other.close()


def test_an_answer_decision_is_committed_before_ask_returns(
    make_service: Callable[..., DeflectService], sql_store: SqlStore, db_url: str
) -> None:
    service = make_service(store=sql_store)

    result = service.ask(ANSWERABLE, Audience.CUSTOMER)

    assert result.decision is Decision.ANSWER
    other = SqlStore(db_url)
    try:
        events = other.audit(answer_id=result.id)
        assert [(e.kind, e.data["decision"]) for e in events] == [("decision", "answer")]
        assert other.list(limit=None) == []
    finally:
        other.close()


# --- a store that fails ----------------------------------------------------------------------------------------


class FailingCreate:
    """Delegates to a store, except that create raises as a database that went away would."""

    def __init__(self, inner: EscalationStore) -> None:
        self._inner = inner
        self.attempts = 0

    def create(self, escalation: Escalation, events: Any = ()) -> None:
        self.attempts += 1
        raise OSError("database is gone")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.mark.parametrize("kind", ["sql", "memory"])
def test_ask_raises_when_the_escalation_cannot_be_stored(
    make_service: Callable[..., DeflectService], tmp_path: Path, kind: str
) -> None:
    inner = make_store(kind, tmp_path)
    failing = FailingCreate(inner)
    service = make_service(store=failing)

    with pytest.raises(OSError, match="database is gone"):
        service.ask(UNANSWERABLE, Audience.CUSTOMER)

    assert failing.attempts == 1
    assert inner.list(limit=None) == []
    assert inner.audit() == []  # no orphan decision event either


def test_a_failed_write_of_an_action_leaves_the_escalation_as_it_was(
    service: DeflectService, sql_store: SqlStore
) -> None:
    desk = EscalationDesk(sql_store, service.desk.config)
    esc = new_escalation(desk)

    class FailingUpdate:
        def __getattr__(self, name: str) -> Any:
            return getattr(sql_store, name)

        def update(self, escalation: Escalation, expected_version: int, events: Any = (), knowledge: Any = None) -> int:
            raise OSError("database is gone")

    broken = EscalationDesk(FailingUpdate(), service.desk.config)  # type: ignore[arg-type]

    with pytest.raises(OSError):
        broken.act(esc.id, "claim", "agent-1")

    stored = sql_store.get(esc.id)
    assert stored.version == 1
    assert stored.escalation.state is State.ESCALATED
    assert sql_store.audit(escalation_id=esc.id, kind="action") == []


def test_the_desk_writes_packet_and_events_in_one_call(service: DeflectService) -> None:
    """The packet and its two audit events reach the store together, so no crash can split them."""
    calls: list[tuple[str, int]] = []

    class Recording(InMemoryStore):
        def create(self, escalation: Escalation, events: Any = ()) -> None:
            calls.append(("create", len(events)))
            super().create(escalation, events)

        def append_audit(self, events: Any) -> None:
            calls.append(("append_audit", len(events)))
            super().append_audit(events)

    desk = EscalationDesk(Recording(), service.desk.config)

    esc = new_escalation(desk)

    assert calls == [("create", 2)]
    assert [e.kind for e in desk.audit(escalation_id=esc.id)] == ["decision", "escalation_created"]
    assert all(isinstance(e, AuditEvent) for e in desk.audit(escalation_id=esc.id))


# What an agent writes while working an escalation, with the customer's contact details in it.
CONTACT = "jane.doe@example.org"
PHONE = "+1 415 555 0132"
RESOLUTION = f"Spoke with Jane Doe ({CONTACT}, {PHONE}); re-issued the licence and she confirmed it works."


def test_what_agents_write_is_scrubbed_before_the_packet_and_the_audit_log_store_it(
    make_service: Callable[..., DeflectService], sql_store: SqlStore
) -> None:
    service = make_service(store=sql_store, ingest=False)  # the real scrubber, the SQL audit_events table
    esc = new_escalation(service.desk)
    service.desk.act(esc.id, "update", "agent-1", note=f"Customer asked to be called on {PHONE}")
    service.desk.act(esc.id, "claim", "agent-1", note=f"mailed {CONTACT}")
    bounced = service.desk.act(esc.id, "bounce", "agent-1", reason=f"billing owns this; contact {CONTACT}")
    service.desk.act(esc.id, "claim", "agent-2")
    service.desk.act(esc.id, "start", "agent-2")
    resolved, _, _ = service.resolve_escalation(esc.id, "agent-2", RESOLUTION, note=f"called {PHONE}")

    stored = [bounced.bounce_reason, resolved.resolution, *(str(e.data) for e in service.desk.audit(esc.id))]
    assert not [text for text in stored if CONTACT in str(text) or "555 0132" in str(text)]
    assert "[EMAIL]" in str(bounced.bounce_reason) and "[PHONE]" in str(resolved.resolution)
    assert service.desk.get(esc.id) == resolved  # the stored packet is the scrubbed one too
    # A retried resolve with the same (raw) text is the same resolution, not a conflict.
    assert service.resolve_escalation(esc.id, "agent-2", RESOLUTION)[0] == resolved
