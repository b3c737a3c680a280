"""InMemoryStore: the EscalationStore contract in a dict, thread-safe, for tests and for trying deflect out."""

from __future__ import annotations

import builtins
import threading
from collections.abc import Collection, Sequence
from datetime import datetime
from pathlib import Path
from typing import TextIO

from deflect.domain.escalation import OTHER_PAGE, AuditEvent, Escalation, PendingKnowledge, Priority, State, Tier
from deflect.domain.feedback import FeedbackRecord, self_served_vote_id
from deflect.domain.keys import KeyRecord
from deflect.domain.ports import StoredEscalation
from deflect.errors import Conflict, NotFound
from deflect.store import records


class InMemoryStore:
    """Same contract as SqlStore. Keeps JSON, as a database would, so callers never share objects with it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._escalations: dict[str, tuple[int, str]] = {}  # id -> (version, packet JSON)
        self._events: builtins.list[str] = []  # AuditEvent JSON; the id is the position + 1
        self._feedback: dict[str, str] = {}  # id -> FeedbackRecord JSON
        self._decided: set[str] = set()  # answer ids with a decision event, which feedback may name
        self._knowledge: dict[str, str] = {}  # escalation id -> PendingKnowledge JSON
        self._keys: dict[str, str] = {}  # key id -> KeyRecord JSON, in insertion order

    def ping(self) -> None:
        """Always writable."""

    def create(self, escalation: Escalation, events: Sequence[AuditEvent] = ()) -> None:
        """Store a new escalation (version 1) with its audit events; Conflict if the id exists."""
        records.check_escalation(escalation)
        packet = escalation.model_dump_json()
        ready = records.normalise_events(events)
        with self._lock:
            if escalation.id in self._escalations:
                raise Conflict(f"escalation {escalation.id} already exists", [{"escalation_id": escalation.id}])
            self._escalations[escalation.id] = (1, packet)
            self._append(ready)

    def get(self, escalation_id: str) -> StoredEscalation:
        """The escalation and its version; NotFound if absent."""
        with self._lock:
            found = self._escalations.get(escalation_id)
        if found is None:
            raise NotFound(f"no escalation {escalation_id}", [{"escalation_id": escalation_id}])
        version, packet = found
        return StoredEscalation(Escalation.model_validate_json(packet), version)

    def list(
        self,
        *,
        state: State | Collection[State] | None = None,
        priority: Priority | None = None,
        tier: Tier | None = None,
        customer_id: str | None = None,
        since: datetime | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> builtins.list[Escalation]:
        """Escalations matching every given filter (`since` bounds created_at), newest first, the first `offset`
        skipped; limit None is all."""
        records.check_limit(limit)
        records.check_offset(offset)
        found = self._matching(state, priority, tier, customer_id, since)
        found.sort(key=lambda e: (e.created_at, e.id), reverse=True)
        return found[offset:] if limit is None else found[offset : offset + limit]

    def count(
        self,
        *,
        state: State | Collection[State] | None = None,
        priority: Priority | None = None,
        tier: Tier | None = None,
        customer_id: str | None = None,
        since: datetime | None = None,
    ) -> int:
        """How many escalations `list` would return with the same filters and no limit."""
        return len(self._matching(state, priority, tier, customer_id, since))

    def _matching(
        self,
        state: State | Collection[State] | None,
        priority: Priority | None,
        tier: Tier | None,
        customer_id: str | None,
        since: datetime | None,
    ) -> builtins.list[Escalation]:
        states = records.state_filter(state)
        after = None if since is None else records.aware_utc(since, "since")
        with self._lock:
            packets = [packet for _, packet in self._escalations.values()]
        return [
            e
            for e in map(Escalation.model_validate_json, packets)
            if (states is None or e.state in states)
            and (priority is None or e.priority == priority)
            and (tier is None or e.tier == tier)
            and (customer_id is None or e.customer_id == customer_id)
            and (after is None or e.created_at >= after)
        ]

    def update(
        self,
        escalation: Escalation,
        expected_version: int,
        events: Sequence[AuditEvent] = (),
        knowledge: PendingKnowledge | None = None,
    ) -> int:
        """Replace the packet if it is still at `expected_version`, with its events and knowledge; the new version."""
        records.check_escalation(escalation)
        packet = escalation.model_dump_json()
        ready = records.normalise_events(events)
        with self._lock:
            found = self._escalations.get(escalation.id)
            if found is None:
                raise NotFound(f"no escalation {escalation.id}", [{"escalation_id": escalation.id}])
            current = found[0]
            if current != expected_version:
                raise Conflict(
                    f"escalation {escalation.id} is at version {current}, not {expected_version}: "
                    "someone else changed it; reload and retry",
                    [{"escalation_id": escalation.id, "expected_version": expected_version, "version": current}],
                )
            self._escalations[escalation.id] = (current + 1, packet)
            self._append(ready)
            if knowledge is not None:
                self._knowledge[knowledge.escalation_id] = knowledge.model_dump_json()
        return current + 1

    def pending_knowledge(self, limit: int = 100) -> builtins.list[PendingKnowledge]:
        """Knowledge records not yet indexed, oldest first."""
        with self._lock:
            found = [PendingKnowledge.model_validate_json(k) for k in self._knowledge.values()]
        pending = sorted((k for k in found if k.indexed_at is None), key=lambda k: (k.created_at, k.escalation_id))
        return pending[:limit]

    def knowledge(self, escalation_id: str) -> PendingKnowledge | None:
        """The knowledge record of a resolution, or None."""
        with self._lock:
            found = self._knowledge.get(escalation_id)
        return None if found is None else PendingKnowledge.model_validate_json(found)

    def mark_knowledge(self, escalation_id: str, indexed_at: datetime | None, error: str | None = None) -> None:
        """Record an indexing attempt."""
        with self._lock:
            found = self._knowledge.get(escalation_id)
            if found is None:
                return
            k = PendingKnowledge.model_validate_json(found)
            update: dict[str, object] = {"attempts": k.attempts + 1, "last_error": error}
            if indexed_at is not None:
                update["indexed_at"] = indexed_at
            self._knowledge[escalation_id] = k.model_copy(update=update).model_dump_json()

    def append_audit(self, events: Sequence[AuditEvent]) -> None:
        """Append events that change no escalation (e.g. an answer decision)."""
        ready = records.normalise_events(events)
        with self._lock:
            self._append(ready)

    def audit(
        self,
        *,
        escalation_id: str | None = None,
        answer_id: str | None = None,
        kind: str | None = None,
        since: datetime | None = None,
    ) -> builtins.list[AuditEvent]:
        """Events matching every given filter (`since` bounds `at`, inclusive), oldest first."""
        after = None if since is None else records.aware_utc(since, "since")
        return [
            e
            for e in self._all_events()
            if (escalation_id is None or e.escalation_id == escalation_id)
            and (answer_id is None or e.answer_id == answer_id)
            and (kind is None or e.kind == kind)
            and (after is None or e.at >= after)
        ]

    def export_audit(self, out: Path | TextIO) -> int:
        """Write the whole audit log as JSONL, oldest first; the line count."""
        return records.write_jsonl(self._all_events(), out)

    def add_feedback(self, record: FeedbackRecord, events: Sequence[AuditEvent] = ()) -> None:
        """Store a vote with its audit events; NotFound without a decision for the answer, Conflict on a used id."""
        stored = record.model_copy(update={"at": records.aware_utc(record.at, "at")}).model_dump_json()
        ready = records.normalise_events(events)
        with self._lock:
            if record.answer_id not in self._decided:
                raise NotFound(f"no answer {record.answer_id}", [{"answer_id": record.answer_id}])
            if record.id in self._feedback:
                raise Conflict(f"feedback {record.id} already exists", [{"feedback_id": record.id}])
            self._feedback[record.id] = stored
            self._append(ready)

    def feedback(
        self, *, answer_id: str | None = None, since: datetime | None = None, limit: int | None = 100
    ) -> builtins.list[FeedbackRecord]:
        """Votes matching every given filter (`since` bounds `at`, inclusive), newest first; limit None is all."""
        records.check_limit(limit)
        after = None if since is None else records.aware_utc(since, "since")
        with self._lock:
            lines = builtins.list(self._feedback.values())
        found = [
            f
            for f in map(FeedbackRecord.model_validate_json, lines)
            if (answer_id is None or f.answer_id == answer_id) and (after is None or f.at >= after)
        ]
        found.sort(key=lambda f: (f.at, f.id), reverse=True)
        return found if limit is None else found[:limit]

    def self_served_without_vote(self, *, since: datetime, limit: int | None = 100) -> builtins.list[Escalation]:
        """Self-served escalations naming a page, created at or after `since`, whose self-serve vote is not stored;
        oldest first."""
        records.check_limit(limit)
        after = records.aware_utc(since, "since")
        with self._lock:
            packets = [packet for _, packet in self._escalations.values()]
            votes = set(self._feedback)
        found = [
            e
            for e in map(Escalation.model_validate_json, packets)
            if e.state is State.SELF_SERVED
            and e.self_served_page not in (None, OTHER_PAGE)
            and e.created_at >= after
            and self_served_vote_id(e.id) not in votes
        ]
        found.sort(key=lambda e: (e.created_at, e.id))
        return found if limit is None else found[:limit]

    # --- keys ------------------------------------------------------------------------------------------------

    def add_key(self, record: KeyRecord, events: Sequence[AuditEvent] = ()) -> None:
        """Store a new key with its audit events; Conflict if its id or its secret's hash exists."""
        ready = records.normalise_events(events)
        with self._lock:
            if record.id in self._keys or self._hash_taken(record):
                raise Conflict(f"key {record.id} already exists", [{"key_id": record.id}])
            self._keys[record.id] = record.model_dump_json()
            self._append(ready)

    def key_by_hash(self, secret_hash: str) -> KeyRecord | None:
        """The key whose secret has this hash, revoked or not."""
        with self._lock:
            lines = builtins.list(self._keys.values())
        return next((k for k in map(KeyRecord.model_validate_json, lines) if k.secret_hash == secret_hash), None)

    def get_key(self, key_id: str) -> KeyRecord:
        """The key with this id; NotFound if absent."""
        with self._lock:
            line = self._keys.get(key_id)
        if line is None:
            raise NotFound(f"no key {key_id}", [{"key_id": key_id}])
        return KeyRecord.model_validate_json(line)

    def list_keys(self, *, include_revoked: bool = False) -> builtins.list[KeyRecord]:
        """Keys, oldest first; active ones only unless `include_revoked`."""
        with self._lock:
            lines = builtins.list(self._keys.values())
        found = [k for k in map(KeyRecord.model_validate_json, lines) if include_revoked or k.active]
        return sorted(found, key=lambda k: (k.created_at, k.id))

    def update_key(self, record: KeyRecord, events: Sequence[AuditEvent] = ()) -> None:
        """Replace a still-active key; NotFound if absent, Conflict if revoked (nothing written then)."""
        ready = records.normalise_events(events)
        with self._lock:
            line = self._keys.get(record.id)
            if line is None:
                raise NotFound(f"no key {record.id}", [{"key_id": record.id}])
            if not KeyRecord.model_validate_json(line).active:
                raise Conflict(f"key {record.id} is revoked", [{"key_id": record.id}])
            if self._hash_taken(record):
                raise Conflict("another key has this secret", [{"key_id": record.id}])
            self._keys[record.id] = record.model_dump_json()
            self._append(ready)

    def _hash_taken(self, record: KeyRecord) -> bool:
        # Called with the lock held.
        return any(
            k.secret_hash == record.secret_hash and k.id != record.id
            for k in map(KeyRecord.model_validate_json, self._keys.values())
        )

    def _append(self, events: builtins.list[AuditEvent]) -> None:
        # Called with the lock held.
        for event in events:
            if event.kind == "decision" and event.answer_id is not None:
                self._decided.add(event.answer_id)
            self._events.append(event.model_copy(update={"id": len(self._events) + 1}).model_dump_json())

    def _all_events(self) -> builtins.list[AuditEvent]:
        with self._lock:
            lines = builtins.list(self._events)
        return [AuditEvent.model_validate_json(line) for line in lines]
