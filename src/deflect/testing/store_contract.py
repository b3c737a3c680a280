"""Contract tests every `EscalationStore` must pass: one suite for the in-memory fake, SQLite and PostgreSQL.

Subclass `EscalationStoreContract` as a `Test...` class and override `make_store` so it returns a factory of fresh,
empty, mutually isolated stores:

    class TestMyStore(EscalationStoreContract):
        @pytest.fixture
        def make_store(self, tmp_path):
            return lambda: MyStore(tmp_path / f"{uuid.uuid4().hex}.db")

`make_escalation` and `make_event` build valid records for any test. `FeedbackStoreContract` does the same for a
`FeedbackStore` that also appends audit events (`make_feedback`, `answered`).
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

import pytest

from deflect.domain.escalation import (
    OTHER_PAGE,
    AuditEvent,
    ChecklistItem,
    Escalation,
    Priority,
    SearchedSource,
    SlaClock,
    State,
    Tier,
)
from deflect.domain.feedback import FeedbackRecord, self_served_vote_id
from deflect.domain.models import Audience
from deflect.domain.ports import EscalationStore, FeedbackStore
from deflect.errors import Conflict, NotFound, ValidationFailed

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
THREADS = 16
PER_THREAD = 10


def make_escalation(escalation_id: str, created_at: datetime = T0, **fields: Any) -> Escalation:
    """A valid escalation: question "Question of <id>", escalated at `created_at`, any field overridable."""
    base: dict[str, Any] = {
        "id": escalation_id,
        "answer_id": f"ans-{escalation_id}",
        "question": f"Question of {escalation_id}",
        "audience": Audience.CUSTOMER,
        "reasons": ["low_confidence"],
        "priority": Priority.MEDIUM,
        "tier": Tier.TIER1,
        "sla": SlaClock(acknowledge_within_s=14_400, resolve_within_s=86_400, started_at=created_at),
        "timestamps": {State.CREATED: created_at, State.ESCALATED: created_at},
        "policy_version": "policy-1",
        "created_at": created_at,
    }
    base.update(fields)
    return Escalation.model_validate(base)


def make_event(
    kind: str = "action", at: datetime = T0, actor: str = "deflect", data: dict[str, Any] | None = None, **fields: Any
) -> AuditEvent:
    """A valid audit event without an id (the store assigns it)."""
    return AuditEvent.model_validate({"kind": kind, "at": at, "actor": actor, "data": data or {}, **fields})


def decision(escalation_id: str, at: datetime = T0) -> AuditEvent:
    """The escalate decision that goes with `make_escalation(escalation_id)`."""
    return make_event(
        "decision",
        at,
        answer_id=f"ans-{escalation_id}",
        escalation_id=escalation_id,
        data={"decision": "escalate", "reasons": ["low_confidence"], "scores": [0.31, 0.12]},
    )


def created(escalation_id: str, at: datetime = T0) -> AuditEvent:
    """The escalation_created event that goes with `make_escalation(escalation_id)`."""
    return make_event("escalation_created", at, answer_id=f"ans-{escalation_id}", escalation_id=escalation_id)


def _full_escalation() -> Escalation:
    """Every field set, non-UTC offsets, unicode: a store that drops or bends anything is caught."""
    paris = timezone(timedelta(hours=2))
    at = datetime(2026, 3, 2, 11, 0, 0, 123456, tzinfo=paris)
    return make_escalation(
        "ESC-full",
        at,
        question="Refund the double charge — «urgent»?",
        conversation=["first message", "second message"],
        conversation_id="conv-7",
        audience=Audience.AGENT,
        customer_id="cust-42",
        customer_tier="vip",
        sources=[
            SearchedSource(source_id="billing-refunds", title="Refunds", url="https://h/r", score=0.8123456789),
            SearchedSource(source_id="billing-invoices", title="Invoices", score=0.1, shown=True),
        ],
        draft_answer="You can request a refund from Billing.",
        reasons=["risk_topic:billing_dispute", "frustration"],
        priority=Priority.CRITICAL,
        tier=Tier.MANAGEMENT,
        sla=SlaClock(
            acknowledge_within_s=900,
            resolve_within_s=7200,
            started_at=at,
            paused_at=at + timedelta(minutes=30),
            paused_total_s=120.5,
            acknowledged_at=at + timedelta(minutes=5),
        ),
        checklist=[
            ChecklistItem(key="error_message", label="Error message", value="E42"),
            ChecklistItem(key="environment", label="Environment / version"),
        ],
        state=State.WAITING_ON_CUSTOMER,
        timestamps={
            State.CREATED: at,
            State.ESCALATED: at,
            State.CLAIMED: at + timedelta(minutes=5),
            State.WAITING_ON_CUSTOMER: at + timedelta(minutes=30),
        },
        bounce_reason=None,
        resolution=None,
        assignee="agent-1",
        requester="customer:5f2c9a01be",
        self_served_page="billing-invoices",
        policy_version="policy-7",
    )


class EscalationStoreContract:
    """Behaviour shared by every EscalationStore: records, versions, filters, the audit log, atomicity, threads."""

    @pytest.fixture
    def make_store(self) -> Callable[[], EscalationStore]:
        """Override: return a factory of fresh, empty, isolated stores."""
        raise NotImplementedError("subclasses of EscalationStoreContract must override the make_store fixture")

    @pytest.fixture
    def store(self, make_store: Callable[[], EscalationStore]) -> EscalationStore:
        return make_store()

    # --- create and get ------------------------------------------------------------------------------------

    def test_get_unknown_is_not_found(self, store: EscalationStore) -> None:
        with pytest.raises(NotFound) as caught:
            store.get("ESC-missing")

        assert caught.value.details == [{"escalation_id": "ESC-missing"}]

    def test_create_then_get_round_trips_every_field_at_version_one(self, store: EscalationStore) -> None:
        full, bare = _full_escalation(), make_escalation("ESC-bare")

        store.create(full)
        store.create(bare)

        got = store.get("ESC-full")
        assert got.version == 1
        assert got.escalation == full
        assert got.escalation.model_dump(mode="json") == full.model_dump(mode="json")
        assert got.escalation.sla.paused_total_s == 120.5
        assert got.escalation.sources[0].score == 0.8123456789
        assert got.escalation.timestamps[State.CLAIMED] == full.timestamps[State.CLAIMED]
        assert store.get("ESC-bare") == (bare, 1)

    def test_create_existing_id_is_conflict_and_writes_nothing(self, store: EscalationStore) -> None:
        first = make_escalation("ESC-1", question="first")
        store.create(first, [created("ESC-1")])

        with pytest.raises(Conflict):
            store.create(make_escalation("ESC-1", question="second"), [make_event(escalation_id="ESC-1", action="x")])

        assert store.get("ESC-1") == (first, 1)
        assert [e.kind for e in store.audit(escalation_id="ESC-1")] == ["escalation_created"]
        assert len(store.audit()) == 1

    def test_create_stores_its_events_in_order_with_increasing_ids(self, store: EscalationStore) -> None:
        store.create(make_escalation("ESC-1"), [decision("ESC-1"), created("ESC-1", T0 + timedelta(seconds=1))])
        store.create(make_escalation("ESC-2"), [decision("ESC-2"), created("ESC-2")])

        events = store.audit()

        assert [(e.kind, e.escalation_id) for e in events] == [
            ("decision", "ESC-1"),
            ("escalation_created", "ESC-1"),
            ("decision", "ESC-2"),
            ("escalation_created", "ESC-2"),
        ]
        ids = [e.id for e in events if isinstance(e.id, int)]
        assert len(ids) == 4, "every event gets an integer id"
        assert ids == sorted(ids) and len(set(ids)) == 4
        assert events[0] == decision("ESC-1").model_copy(update={"id": ids[0]})

    def test_returned_records_are_copies(self, store: EscalationStore) -> None:
        original = make_escalation("ESC-1", conversation=["hello"])
        store.create(original, [make_event(escalation_id="ESC-1", data={"k": [1]})])

        store.get("ESC-1").escalation.conversation.append("tampered")
        store.list()[0].conversation.append("tampered")
        store.audit()[0].data["k"].append(2)
        original.conversation.append("after the write")

        assert store.get("ESC-1").escalation.conversation == ["hello"]
        assert store.audit()[0].data == {"k": [1]}

    def test_stores_from_the_factory_are_isolated(self, make_store: Callable[[], EscalationStore]) -> None:
        first, second = make_store(), make_store()

        first.create(make_escalation("ESC-1"), [created("ESC-1")])

        assert second.list() == []
        assert second.audit() == []
        with pytest.raises(NotFound):
            second.get("ESC-1")

    # --- list ----------------------------------------------------------------------------------------------

    def test_list_is_newest_first_and_limited(self, store: EscalationStore) -> None:
        for i, minutes in enumerate([5, 1, 9, 3]):
            store.create(make_escalation(f"ESC-{i}", T0 + timedelta(minutes=minutes)))
        # Same created_at: ties break on the id, descending, in every store.
        store.create(make_escalation("ESC-a", T0 + timedelta(minutes=9)))

        assert [e.id for e in store.list()] == ["ESC-a", "ESC-2", "ESC-0", "ESC-3", "ESC-1"]
        assert [e.id for e in store.list(limit=2)] == ["ESC-a", "ESC-2"]
        assert len(store.list(limit=None)) == 5
        assert store.list(limit=0) == []
        with pytest.raises(ValidationFailed):
            store.list(limit=-1)

    def test_list_default_limit_is_one_hundred(self, store: EscalationStore) -> None:
        for i in range(101):
            store.create(make_escalation(f"ESC-{i:03d}", T0 + timedelta(seconds=i)))

        listed = store.list()

        assert len(listed) == 100
        assert listed[0].id == "ESC-100"
        assert "ESC-000" not in {e.id for e in listed}
        assert len(store.list(limit=None)) == 101

    def test_list_filters_combine(self, store: EscalationStore) -> None:
        rows = [
            ("ESC-1", State.ESCALATED, Priority.HIGH, Tier.TIER2, "cust-a", 0),
            ("ESC-2", State.CLAIMED, Priority.HIGH, Tier.TIER1, "cust-a", 10),
            ("ESC-3", State.RESOLVED, Priority.LOW, Tier.TIER2, "cust-b", 20),
            ("ESC-4", State.ESCALATED, Priority.LOW, Tier.TIER1, None, 30),
            ("ESC-5", State.SELF_SERVED, Priority.LOW, Tier.TIER1, "cust-b", 40),
        ]
        for escalation_id, state, priority, tier, customer, minutes in rows:
            store.create(
                make_escalation(
                    escalation_id,
                    T0 + timedelta(minutes=minutes),
                    state=state,
                    priority=priority,
                    tier=tier,
                    customer_id=customer,
                )
            )

        def ids(**filters: Any) -> list[str]:
            return [e.id for e in store.list(**filters)]

        assert ids(state=State.ESCALATED) == ["ESC-4", "ESC-1"]
        assert ids(state=State.SELF_SERVED) == ["ESC-5"]
        assert ids(state=[State.ESCALATED, State.CLAIMED]) == ["ESC-4", "ESC-2", "ESC-1"]
        assert ids(state=frozenset()) == []
        assert ids(priority=Priority.HIGH) == ["ESC-2", "ESC-1"]
        assert ids(tier=Tier.TIER2) == ["ESC-3", "ESC-1"]
        assert ids(customer_id="cust-b") == ["ESC-5", "ESC-3"]
        assert ids(customer_id="cust-a") == ["ESC-2", "ESC-1"]
        assert ids(customer_id="cust-nobody") == []
        # `since` is inclusive.
        assert ids(since=T0 + timedelta(minutes=10)) == ["ESC-5", "ESC-4", "ESC-3", "ESC-2"]
        assert ids(since=T0 + timedelta(minutes=10, microseconds=1)) == ["ESC-5", "ESC-4", "ESC-3"]
        # The same instant in another zone selects the same rows.
        assert ids(since=(T0 + timedelta(minutes=10)).astimezone(timezone(timedelta(hours=-5)))) == [
            "ESC-5",
            "ESC-4",
            "ESC-3",
            "ESC-2",
        ]
        assert ids(state=State.ESCALATED, tier=Tier.TIER1) == ["ESC-4"]
        assert ids(priority=Priority.HIGH, customer_id="cust-a", since=T0 + timedelta(minutes=5)) == ["ESC-2"]
        assert ids(priority=Priority.LOW, customer_id="cust-a") == []

    def test_list_pages_with_an_offset_and_count_matches_every_page(self, store: EscalationStore) -> None:
        for i in range(5):
            state = State.RESOLVED if i == 2 else State.ESCALATED
            store.create(make_escalation(f"ESC-{i}", T0 + timedelta(minutes=i), state=state))

        newest = [e.id for e in store.list(limit=None)]
        pages = [[e.id for e in store.list(limit=2, offset=offset)] for offset in (0, 2, 4)]
        assert [i for page in pages for i in page] == newest and [len(p) for p in pages] == [2, 2, 1]
        assert store.list(offset=5) == [] and [e.id for e in store.list(limit=None, offset=3)] == newest[3:]
        assert store.count() == 5
        assert store.count(state=State.ESCALATED) == 4 == len(store.list(state=State.ESCALATED, limit=None))
        assert store.count(state=State.ESCALATED, since=T0 + timedelta(minutes=3)) == 2
        assert store.count(customer_id="cust-nobody") == 0
        with pytest.raises(ValidationFailed):
            store.list(offset=-1)

    # --- update --------------------------------------------------------------------------------------------

    def test_update_replaces_the_packet_bumps_the_version_and_appends_events(self, store: EscalationStore) -> None:
        original = make_escalation("ESC-1", customer_id="cust-a")
        store.create(original, [created("ESC-1")])
        claimed_at = T0 + timedelta(minutes=7)
        claimed = original.model_copy(
            update={
                "state": State.CLAIMED,
                "assignee": "agent-9",
                "priority": Priority.HIGH,
                "tier": Tier.TIER2,
                "timestamps": {**original.timestamps, State.CLAIMED: claimed_at},
            }
        )

        version = store.update(
            claimed, 1, [make_event(at=claimed_at, actor="agent-9", escalation_id="ESC-1", action="claim")]
        )

        assert version == 2
        assert store.get("ESC-1") == (claimed, 2)
        # Filters see the new values, not the ones written at create.
        assert [e.id for e in store.list(state=State.CLAIMED)] == ["ESC-1"]
        assert store.list(state=State.ESCALATED) == []
        assert [e.id for e in store.list(priority=Priority.HIGH, tier=Tier.TIER2)] == ["ESC-1"]
        assert store.list(priority=Priority.MEDIUM) == []
        assert [e.action for e in store.audit(escalation_id="ESC-1")] == [None, "claim"]
        assert store.update(claimed.model_copy(update={"state": State.STARTED}), 2) == 3
        assert store.get("ESC-1").version == 3

    def test_stale_update_is_conflict_and_writes_nothing(self, store: EscalationStore) -> None:
        original = make_escalation("ESC-1")
        store.create(original)
        store.update(original.model_copy(update={"assignee": "winner"}), 1, [make_event(action="claim")])

        loser = original.model_copy(update={"assignee": "loser"})
        with pytest.raises(Conflict) as caught:
            store.update(loser, 1, [make_event(escalation_id="ESC-1", action="claim", actor="loser")])

        assert caught.value.details == [{"escalation_id": "ESC-1", "expected_version": 1, "version": 2}]
        assert store.get("ESC-1").escalation.assignee == "winner"
        assert store.get("ESC-1").version == 2
        assert [e.actor for e in store.audit()] == ["deflect"]
        with pytest.raises(Conflict):
            store.update(loser, 3)  # a version from the future is stale too

    def test_update_unknown_is_not_found_and_writes_nothing(self, store: EscalationStore) -> None:
        with pytest.raises(NotFound):
            store.update(make_escalation("ESC-ghost"), 1, [make_event(escalation_id="ESC-ghost")])

        assert store.audit() == []
        assert store.list() == []

    # --- the audit log -------------------------------------------------------------------------------------

    def test_audit_queries_by_escalation_answer_kind_and_since(self, store: EscalationStore) -> None:
        store.append_audit([make_event("decision", T0, answer_id="ans-1", data={"decision": "answer"})])
        store.create(
            make_escalation("ESC-2", answer_id="ans-2"),
            [
                make_event("decision", T0 + timedelta(minutes=1), answer_id="ans-2", escalation_id="ESC-2"),
                make_event("escalation_created", T0 + timedelta(minutes=1), answer_id="ans-2", escalation_id="ESC-2"),
            ],
        )
        store.append_audit(
            [make_event("action", T0 + timedelta(minutes=5), "agent-1", escalation_id="ESC-2", action="claim")]
        )
        store.append_audit([])

        def kinds(**filters: Any) -> list[tuple[str, str | None]]:
            return [(e.kind, e.answer_id) for e in store.audit(**filters)]

        assert len(store.audit()) == 4
        assert kinds(answer_id="ans-1") == [("decision", "ans-1")]
        assert kinds(answer_id="ans-2") == [("decision", "ans-2"), ("escalation_created", "ans-2")]
        assert [e.action for e in store.audit(escalation_id="ESC-2")] == [None, None, "claim"]
        assert kinds(kind="decision") == [("decision", "ans-1"), ("decision", "ans-2")]
        assert kinds(since=T0 + timedelta(minutes=1)) == [
            ("decision", "ans-2"),
            ("escalation_created", "ans-2"),
            ("action", None),
        ]
        assert kinds(kind="decision", escalation_id="ESC-2") == [("decision", "ans-2")]
        assert kinds(answer_id="ans-1", escalation_id="ESC-2") == []
        assert store.audit(escalation_id="ESC-none") == []

    def test_audit_time_comes_back_in_utc_as_the_same_instant(self, store: EscalationStore) -> None:
        tokyo = timezone(timedelta(hours=9))
        at = datetime(2026, 3, 2, 18, 30, 15, 250000, tzinfo=tokyo)
        store.append_audit([make_event(at=at, data={"nested": {"list": [1, "two", None, 3.5]}, "ok": True})])

        [event] = store.audit()

        assert event.at == at
        assert event.at.utcoffset() == timedelta(0)
        assert event.at == datetime(2026, 3, 2, 9, 30, 15, 250000, tzinfo=UTC)
        assert event.data == {"nested": {"list": [1, "two", None, 3.5]}, "ok": True}

    def test_events_with_an_id_are_refused(self, store: EscalationStore) -> None:
        with pytest.raises(ValidationFailed):
            store.append_audit([make_event(), make_event().model_copy(update={"id": 7})])
        with pytest.raises(ValidationFailed):
            store.create(make_escalation("ESC-1"), [make_event().model_copy(update={"id": 7})])

        assert store.audit() == []
        assert store.list() == []

    def test_naive_datetimes_are_refused_and_nothing_is_written(self, store: EscalationStore) -> None:
        naive = datetime(2026, 3, 2, 9, 0)
        with pytest.raises(ValidationFailed):
            store.create(make_escalation("ESC-1", naive))
        with pytest.raises(ValidationFailed):
            store.create(make_escalation("ESC-2"), [make_event(at=naive)])
        with pytest.raises(ValidationFailed):
            store.append_audit([make_event(), make_event(at=naive)])
        with pytest.raises(ValidationFailed):
            store.list(since=naive)
        with pytest.raises(ValidationFailed):
            store.audit(since=naive)

        assert store.list() == []
        assert store.audit() == []

    def test_an_event_that_cannot_be_serialised_leaves_nothing(self, store: EscalationStore) -> None:
        store.create(make_escalation("ESC-0"))
        poison = make_event(escalation_id="ESC-1", data={"oops": object()})

        with pytest.raises(Exception):  # noqa: B017 - whatever the serialiser raises; the point is what is left
            store.create(make_escalation("ESC-1"), [created("ESC-1"), poison])
        with pytest.raises(Exception):  # noqa: B017
            store.update(make_escalation("ESC-0", assignee="x"), 1, [poison])
        with pytest.raises(Exception):  # noqa: B017
            store.append_audit([make_event(), poison])

        with pytest.raises(NotFound):
            store.get("ESC-1")
        assert store.get("ESC-0") == (make_escalation("ESC-0"), 1)
        assert store.audit() == []

    def test_export_audit_writes_jsonl_in_order(self, store: EscalationStore, tmp_path: Path) -> None:
        store.append_audit([make_event("decision", T0, answer_id="ans-1", data={"decision": "answer", "q": "é"})])
        store.create(make_escalation("ESC-2"), [decision("ESC-2"), created("ESC-2")])
        store.append_audit([make_event(at=T0 + timedelta(hours=1), actor="agent-1", action="claim")])
        expected = store.audit()

        path = tmp_path / "exports" / "audit.jsonl"
        stream = io.StringIO()
        assert store.export_audit(path) == 4
        assert store.export_audit(stream) == 4

        text = path.read_text(encoding="utf-8")
        assert text == stream.getvalue()
        assert text.endswith("\n")
        lines = text.splitlines()
        assert [json.loads(line)["id"] for line in lines] == [e.id for e in expected]
        assert [AuditEvent.model_validate_json(line) for line in lines] == expected
        assert json.loads(lines[0])["data"] == {"decision": "answer", "q": "é"}
        assert not list(path.parent.glob("*.partial"))

    def test_export_of_an_empty_log_is_an_empty_file(self, store: EscalationStore, tmp_path: Path) -> None:
        path = tmp_path / "audit.jsonl"
        path.write_text("stale content\n")

        assert store.export_audit(path) == 0
        assert path.read_text() == ""

    # --- threads -------------------------------------------------------------------------------------------

    def test_concurrent_creates_store_every_escalation_exactly_once(self, store: EscalationStore) -> None:
        errors: list[BaseException] = []
        start = threading.Barrier(THREADS)

        def worker(t: int) -> None:
            try:
                start.wait()
                for i in range(PER_THREAD):
                    eid = f"ESC-{t:02d}-{i:02d}"
                    store.create(make_escalation(eid, T0 + timedelta(seconds=i)), [decision(eid), created(eid)])
                    store.get(eid)  # reads interleave with the other threads' writes
            except BaseException as exc:  # collected: an exception in a thread would otherwise be lost
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert errors == []
        expected = {f"ESC-{t:02d}-{i:02d}" for t in range(THREADS) for i in range(PER_THREAD)}
        stored = [e.id for e in store.list(limit=None)]
        assert len(stored) == len(expected)
        assert set(stored) == expected
        events = store.audit()
        assert len(events) == 2 * len(expected)
        assert len({e.id for e in events}) == len(events)
        for eid in expected:
            assert [e.kind for e in store.audit(escalation_id=eid)] == ["decision", "escalation_created"]

    def test_concurrent_updates_lose_nothing(self, store: EscalationStore) -> None:
        store.create(make_escalation("ESC-1"))
        start = threading.Barrier(THREADS)
        errors: list[BaseException] = []
        wins: list[int] = []

        def worker(t: int) -> None:
            try:
                start.wait()
                for i in range(3):
                    while True:  # read, change, write; on Conflict reload: the usual optimistic loop
                        current, version = store.get("ESC-1")
                        changed = current.model_copy(update={"conversation": [*current.conversation, f"{t}-{i}"]})
                        try:
                            new = store.update(changed, version, [make_event(actor=f"t{t}", action=f"{t}-{i}")])
                        except Conflict:
                            continue
                        wins.append(new)
                        break
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert errors == []
        final, version = store.get("ESC-1")
        total = THREADS * 3
        assert version == 1 + total
        # Every write survived: no update was silently overwritten by a concurrent one.
        assert sorted(final.conversation) == sorted(f"{t}-{i}" for t in range(THREADS) for i in range(3))
        # Exactly one winner per version.
        assert sorted(wins) == list(range(2, 2 + total))
        assert sorted(e.action or "" for e in store.audit()) == sorted(final.conversation)

    def test_same_version_updates_have_exactly_one_winner(self, store: EscalationStore) -> None:
        store.create(make_escalation("ESC-1"))
        start = threading.Barrier(THREADS)
        outcomes: list[str] = []
        lock = threading.Lock()

        def worker(t: int) -> None:
            start.wait()
            try:
                store.update(make_escalation("ESC-1", assignee=f"agent-{t}"), 1, [make_event(actor=f"agent-{t}")])
                result = f"won:{t}"
            except Conflict:
                result = "conflict"
            except BaseException as exc:
                result = f"error:{exc!r}"
            with lock:
                outcomes.append(result)

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        winners = [o for o in outcomes if o.startswith("won:")]
        assert len(winners) == 1, outcomes
        assert outcomes.count("conflict") == THREADS - 1, outcomes
        winner = winners[0].removeprefix("won:")
        assert store.get("ESC-1").escalation.assignee == f"agent-{winner}"
        assert store.get("ESC-1").version == 2
        assert [e.actor for e in store.audit()] == [f"agent-{winner}"]


# --- feedback ----------------------------------------------------------------------------------------------------


def make_feedback(feedback_id: str, answer_id: str = "ans-1", at: datetime = T0, **fields: Any) -> FeedbackRecord:
    """A valid vote on `answer_id`: unhelpful, by customer-1, any field overridable."""
    base: dict[str, Any] = {
        "id": feedback_id,
        "answer_id": answer_id,
        "at": at,
        "helpful": False,
        "actor": "customer-1",
        "role": "customer",
        "question": f"Question of {answer_id}",
        "source_ids": ["doc:a"],
        "decision": "answer",
    }
    base.update(fields)
    return FeedbackRecord.model_validate(base)


def answered(answer_id: str, at: datetime = T0) -> AuditEvent:
    """The decision event of an answered question, which feedback on it needs."""
    return make_event("decision", at, answer_id=answer_id, data={"decision": "answer", "cited": ["doc:a"]})


def feedback_event(record: FeedbackRecord) -> AuditEvent:
    """The audit action that goes with a vote."""
    return make_event("action", record.at, actor=record.actor, answer_id=record.answer_id, action="feedback")


def self_served(escalation_id: str, created_at: datetime = T0, page: str = "doc:a") -> Escalation:
    """`make_escalation(escalation_id, created_at)` withdrawn by its customer a minute later, naming `page`."""
    at = created_at + timedelta(minutes=1)
    return make_escalation(
        escalation_id,
        created_at,
        state=State.SELF_SERVED,
        timestamps={State.CREATED: created_at, State.ESCALATED: created_at, State.SELF_SERVED: at},
        requester="customer:c1",
        self_served_page=page,
    )


class AuditedFeedbackStore(FeedbackStore, Protocol):
    """A FeedbackStore that can also append audit events (how the tests record the answers being voted on) and
    create escalations (whose self-serve votes it stores)."""

    def append_audit(self, events: Sequence[AuditEvent]) -> None: ...

    def create(self, escalation: Escalation, events: Sequence[AuditEvent] = ()) -> None: ...


class FeedbackStoreContract:
    """Contract tests every `FeedbackStore` must pass; override `make_store` as for `EscalationStoreContract`."""

    @pytest.fixture
    def make_store(self) -> Callable[[], AuditedFeedbackStore]:
        """Override: return a factory of fresh, empty, isolated stores."""
        raise NotImplementedError("subclasses of FeedbackStoreContract must override the make_store fixture")

    @pytest.fixture
    def store(self, make_store: Callable[[], AuditedFeedbackStore]) -> AuditedFeedbackStore:
        return make_store()

    def test_add_then_list_round_trips_every_field_with_its_audit_event(self, store: AuditedFeedbackStore) -> None:
        store.append_audit([answered("ans-1")])
        paris = timezone(timedelta(hours=2))
        full = make_feedback(
            "fb-1",
            at=datetime(2026, 3, 2, 11, 0, 0, 123456, tzinfo=paris),
            helpful=True,
            comment="Clear — «merci»",
            correct_source="doc:b",
            actor="agent-ana",
            role="agent",
            question="Refund the double charge?",
            source_ids=["doc:a", "esc:ESC-1"],
            decision="escalate",
        )

        store.add_feedback(full, [feedback_event(full)])

        [got] = store.feedback(answer_id="ans-1")
        assert got == full
        assert got.at.utcoffset() == timedelta(0)
        assert got.at == full.at
        assert [(e.kind, e.action, e.answer_id) for e in store.audit(answer_id="ans-1")] == [
            ("decision", None, "ans-1"),
            ("action", "feedback", "ans-1"),
        ]

    def test_bare_record_round_trips(self, store: AuditedFeedbackStore) -> None:
        store.append_audit([answered("ans-1")])
        bare = make_feedback("fb-1", source_ids=[])

        store.add_feedback(bare)

        assert store.feedback() == [bare]

    def test_unknown_answer_is_not_found_and_writes_nothing(self, store: AuditedFeedbackStore) -> None:
        record = make_feedback("fb-1", answer_id="ans-missing")

        with pytest.raises(NotFound) as caught:
            store.add_feedback(record, [feedback_event(record)])

        assert caught.value.details == [{"answer_id": "ans-missing"}]
        assert store.feedback() == []
        assert store.audit() == []

    def test_an_answer_needs_a_decision_event_not_just_any_event(self, store: AuditedFeedbackStore) -> None:
        store.append_audit([make_event("action", answer_id="ans-1", action="claim")])

        with pytest.raises(NotFound):
            store.add_feedback(make_feedback("fb-1"))

        assert store.feedback() == []

    def test_a_used_id_is_conflict_and_writes_nothing(self, store: AuditedFeedbackStore) -> None:
        store.append_audit([answered("ans-1")])
        first = make_feedback("fb-1", helpful=True)
        store.add_feedback(first, [feedback_event(first)])
        second = make_feedback("fb-1", helpful=False)

        with pytest.raises(Conflict):
            store.add_feedback(second, [feedback_event(second)])

        assert store.feedback() == [first]
        assert len(store.audit(kind="action")) == 1

    def test_list_is_newest_first_filtered_and_limited(self, store: AuditedFeedbackStore) -> None:
        store.append_audit([answered("ans-1"), answered("ans-2")])
        for i, (answer_id, minutes) in enumerate([("ans-1", 5), ("ans-2", 1), ("ans-1", 9), ("ans-2", 3)]):
            store.add_feedback(make_feedback(f"fb-{i}", answer_id, T0 + timedelta(minutes=minutes)))
        store.add_feedback(make_feedback("fb-a", "ans-1", T0 + timedelta(minutes=9)))  # ties break on id, descending

        assert [f.id for f in store.feedback()] == ["fb-a", "fb-2", "fb-0", "fb-3", "fb-1"]
        assert [f.id for f in store.feedback(answer_id="ans-2")] == ["fb-3", "fb-1"]
        assert [f.id for f in store.feedback(since=T0 + timedelta(minutes=5))] == ["fb-a", "fb-2", "fb-0"]
        assert [f.id for f in store.feedback(limit=2)] == ["fb-a", "fb-2"]
        assert len(store.feedback(limit=None)) == 5
        assert store.feedback(limit=0) == []
        with pytest.raises(ValidationFailed):
            store.feedback(limit=-1)

    def test_naive_datetimes_are_refused_and_nothing_is_written(self, store: AuditedFeedbackStore) -> None:
        store.append_audit([answered("ans-1")])
        naive = datetime(2026, 3, 2, 9, 0)

        with pytest.raises(ValidationFailed):
            store.add_feedback(make_feedback("fb-1", at=naive))
        with pytest.raises(ValidationFailed):
            store.add_feedback(make_feedback("fb-2"), [make_event(at=naive)])
        with pytest.raises(ValidationFailed):
            store.feedback(since=naive)

        assert store.feedback() == []
        assert len(store.audit()) == 1

    def test_returned_records_are_copies(self, store: AuditedFeedbackStore) -> None:
        store.append_audit([answered("ans-1")])
        original = make_feedback("fb-1", source_ids=["doc:a"])
        store.add_feedback(original)

        store.feedback()[0].source_ids.append("tampered")
        original.source_ids.append("after the write")

        assert store.feedback()[0].source_ids == ["doc:a"]

    def test_stores_from_the_factory_are_isolated(self, make_store: Callable[[], AuditedFeedbackStore]) -> None:
        first, second = make_store(), make_store()
        first.append_audit([answered("ans-1")])
        first.add_feedback(make_feedback("fb-1"))

        assert second.feedback() == []
        with pytest.raises(NotFound):
            second.add_feedback(make_feedback("fb-1"))

    def test_concurrent_votes_are_all_stored(self, store: AuditedFeedbackStore) -> None:
        store.append_audit([answered("ans-1")])
        start = threading.Barrier(THREADS)
        errors: list[BaseException] = []

        def worker(t: int) -> None:
            try:
                start.wait()
                for i in range(PER_THREAD):
                    record = make_feedback(f"fb-{t:02d}-{i:02d}", actor=f"c{t}")
                    store.add_feedback(record, [feedback_event(record)])
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert errors == []
        assert len(store.feedback(limit=None)) == THREADS * PER_THREAD
        assert len(store.audit(kind="action")) == THREADS * PER_THREAD

    def test_self_served_without_vote_finds_exactly_the_self_serves_whose_vote_is_missing(
        self, store: AuditedFeedbackStore
    ) -> None:
        later = T0 + timedelta(hours=2)
        for esc in (
            self_served("ESC-lost-late", later, page='doc:«é» "quoted"'),
            self_served("ESC-lost", T0, page="doc:articles/other"),  # a page whose name holds "other" is a page
            self_served("ESC-clicked", T0),
            self_served("ESC-voted", T0),
            self_served("ESC-other", T0, page=OTHER_PAGE),
            self_served("ESC-before", T0 - timedelta(seconds=1)),
            make_escalation("ESC-open", T0),
            make_escalation("ESC-resolved", T0, state=State.RESOLVED, self_served_page="doc:a"),
        ):
            store.create(esc, [decision(esc.id)])
        store.add_feedback(make_feedback(self_served_vote_id("ESC-voted"), answer_id="ans-ESC-voted", helpful=True))
        # A vote its customer clicked on the same answer is not the one the withdrawal casts.
        store.add_feedback(make_feedback("fb-click", answer_id="ans-ESC-clicked"))
        store.add_feedback(make_feedback("fb-click-2", answer_id="ans-ESC-clicked"))

        found = store.self_served_without_vote(since=T0)

        assert [e.id for e in found] == ["ESC-clicked", "ESC-lost", "ESC-lost-late"]  # oldest first, then by id
        assert found[2] == self_served("ESC-lost-late", later, page='doc:«é» "quoted"')  # the packet as stored
        assert [e.id for e in store.self_served_without_vote(since=T0, limit=1)] == ["ESC-clicked"]
        assert [e.id for e in store.self_served_without_vote(since=later)] == ["ESC-lost-late"]
        assert len(store.self_served_without_vote(since=T0 - timedelta(days=1), limit=None)) == 4

    def test_self_served_without_vote_is_empty_once_every_vote_is_stored(self, store: AuditedFeedbackStore) -> None:
        for i in range(3):
            esc = self_served(f"ESC-{i}", T0 + timedelta(minutes=i))
            store.create(esc, [decision(esc.id)])
            store.add_feedback(make_feedback(self_served_vote_id(esc.id), answer_id=esc.answer_id, helpful=True))

        assert store.self_served_without_vote(since=T0, limit=None) == []
        assert store.self_served_without_vote(since=T0, limit=0) == []

    def test_self_served_without_vote_refuses_a_naive_since_and_a_negative_limit(
        self, store: AuditedFeedbackStore
    ) -> None:
        with pytest.raises(ValidationFailed):
            store.self_served_without_vote(since=T0.replace(tzinfo=None))
        with pytest.raises(ValidationFailed):
            store.self_served_without_vote(since=T0, limit=-1)
