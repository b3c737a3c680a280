"""SqlStore: the EscalationStore on SQLAlchemy Core. SQLite by default; PostgreSQL with no change to this code."""

from __future__ import annotations

import builtins
import json
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import JSON, ColumnElement, Connection, Row, Select, cast, func, insert, select, type_coerce, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError

from deflect.domain.escalation import OTHER_PAGE, AuditEvent, Escalation, PendingKnowledge, Priority, State, Tier
from deflect.domain.feedback import FeedbackRecord, self_served_vote_id
from deflect.domain.ports import StoredEscalation
from deflect.errors import Conflict, NotFound, StoreUnavailable
from deflect.store import records
from deflect.store.engine import SQLITE_BEGIN, make_engine
from deflect.store.keys import SqlKeys
from deflect.store.migrate import upgrade
from deflect.store.schema import audit_events, escalations, feedback, pending_knowledge

EXPORT_BATCH = 1000
_INSERT_ESCALATION = insert(escalations)
_INSERT_EVENTS = insert(audit_events)  # one constant statement too: every ask appends its decision


class SqlStore(SqlKeys):
    """Escalations, the audit log, feedback and keys in one SQL database; every write is a single transaction."""

    def __init__(self, database_url: str, *, busy_timeout_s: float = 30.0, migrate: bool = True) -> None:
        self._engine = make_engine(database_url, busy_timeout_s)
        self._busy_timeout_s = busy_timeout_s
        # Reads need no write lock: on SQLite they open a deferred transaction (a WAL snapshot).
        self._reader = self._engine.execution_options(**{SQLITE_BEGIN: "BEGIN"})
        url = make_url(database_url)
        # A SQLite file deleted under a running process still takes writes (into the unlinked inode) that vanish
        # on restart; every write checks the file is still there.
        self._sqlite_file = (
            Path(url.database)
            if url.get_backend_name() == "sqlite" and url.database and not url.query.get("uri")
            else None
        )
        if migrate:
            self.migrate()

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self._engine.dialect.name

    def migrate(self) -> None:
        """Bring the schema to the newest migration; a no-op when it is there already."""
        with self._unavailable("migrate"):
            upgrade(self._engine)

    def ping(self) -> None:
        """Prove the database takes writes now: take the write lock and release it; StoreUnavailable if not."""
        with self._write() as conn:
            conn.execute(select(1))

    @contextmanager
    def _unavailable(self, doing: str) -> Iterator[None]:
        # Operational failures (locked past the busy timeout, disk full, server gone) become one error that says
        # nothing was stored; integrity errors are handled where they mean Conflict.
        try:
            yield
        except IntegrityError:
            raise
        except DBAPIError as exc:
            raise StoreUnavailable(
                f"the database is unavailable ({type(exc.orig).__name__ if exc.orig else 'error'} while {doing}); "
                "nothing was stored",
                [{"stored": False, "timeout_s": self._busy_timeout_s}],
            ) from exc

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        if self._sqlite_file is not None and not self._sqlite_file.exists():
            raise StoreUnavailable(
                f"the database file {self._sqlite_file} is gone; nothing was stored", [{"stored": False}]
            )
        with self._unavailable("writing"), self._engine.begin() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._unavailable("reading"), self._reader.connect() as conn:
            yield conn

    def close(self) -> None:
        """Release pooled connections."""
        self._engine.dispose()

    # --- escalations ---------------------------------------------------------------------------------------

    def create(self, escalation: Escalation, events: Sequence[AuditEvent] = ()) -> None:
        """Store a new escalation (version 1) with its audit events; Conflict if the id exists."""
        row = {**self._columns(escalation), "id": escalation.id, "version": 1}
        event_rows = self._event_rows(events)
        with self._write() as conn:
            try:
                # The row as parameters of one constant statement: `.values(**row)` built a new statement per
                # escalation, whose cache key cost 0.1 ms of CPU on every escalated ask (benchmarks/scale.py).
                conn.execute(_INSERT_ESCALATION, row)
            except IntegrityError as exc:
                raise Conflict(
                    f"escalation {escalation.id} already exists", [{"escalation_id": escalation.id}]
                ) from exc
            self._insert_events(conn, event_rows)

    def get(self, escalation_id: str) -> StoredEscalation:
        """The escalation and its version; NotFound if absent."""
        with self._read() as conn:
            row = conn.execute(
                select(escalations.c.packet, escalations.c.version).where(escalations.c.id == escalation_id)
            ).one_or_none()
        if row is None:
            raise NotFound(f"no escalation {escalation_id}", [{"escalation_id": escalation_id}])
        return StoredEscalation(Escalation.model_validate_json(row.packet), row.version)

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
        query = select(escalations.c.packet).order_by(escalations.c.created_at.desc(), escalations.c.id.desc())
        query = self._matching(query, state, priority, tier, customer_id, since)
        if limit is not None:
            query = query.limit(limit)
        if offset:
            query = query.offset(offset)
        with self._read() as conn:
            return [Escalation.model_validate_json(packet) for packet in conn.execute(query).scalars()]

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
        query = self._matching(select(func.count()).select_from(escalations), state, priority, tier, customer_id, since)
        with self._read() as conn:
            return int(conn.execute(query).scalar_one())

    @staticmethod
    def _matching(
        query: Select[Any],
        state: State | Collection[State] | None,
        priority: Priority | None,
        tier: Tier | None,
        customer_id: str | None,
        since: datetime | None,
    ) -> Select[Any]:
        states = records.state_filter(state)
        if states is not None:
            query = query.where(escalations.c.state.in_(sorted(s.value for s in states)))
        if priority is not None:
            query = query.where(escalations.c.priority == priority.value)
        if tier is not None:
            query = query.where(escalations.c.tier == tier.value)
        if customer_id is not None:
            query = query.where(escalations.c.customer_id == customer_id)
        if since is not None:
            query = query.where(escalations.c.created_at >= records.aware_utc(since, "since"))
        return query

    def update(
        self,
        escalation: Escalation,
        expected_version: int,
        events: Sequence[AuditEvent] = (),
        knowledge: PendingKnowledge | None = None,
    ) -> int:
        """Replace the packet if it is still at `expected_version`, with its events and pending knowledge (one
        transaction: a crash leaves both or neither); the new version."""
        columns = self._columns(escalation)
        event_rows = self._event_rows(events)
        with self._write() as conn:
            # The version check and the write are one statement, so two writers cannot both pass the check.
            result = conn.execute(
                update(escalations)
                .where(escalations.c.id == escalation.id, escalations.c.version == expected_version)
                .values(**columns, version=expected_version + 1)
            )
            if result.rowcount != 1:
                current = conn.execute(
                    select(escalations.c.version).where(escalations.c.id == escalation.id)
                ).scalar_one_or_none()
                if current is None:
                    raise NotFound(f"no escalation {escalation.id}", [{"escalation_id": escalation.id}])
                raise Conflict(
                    f"escalation {escalation.id} is at version {current}, not {expected_version}: "
                    "someone else changed it; reload and retry",
                    [{"escalation_id": escalation.id, "expected_version": expected_version, "version": current}],
                )
            self._insert_events(conn, event_rows)
            if knowledge is not None:
                conn.execute(
                    insert(pending_knowledge).values(
                        escalation_id=knowledge.escalation_id,
                        records=json.dumps(knowledge.records, ensure_ascii=False),
                        created_at=records.aware_utc(knowledge.created_at, "created_at"),
                        attempts=0,
                    )
                )
        return expected_version + 1

    # --- pending knowledge ---------------------------------------------------------------------------------

    def pending_knowledge(self, limit: int = 100) -> builtins.list[PendingKnowledge]:
        """Knowledge records not yet indexed, oldest first."""
        query = (
            select(pending_knowledge)
            .where(pending_knowledge.c.indexed_at.is_(None))
            .order_by(pending_knowledge.c.created_at, pending_knowledge.c.escalation_id)
            .limit(limit)
        )
        with self._read() as conn:
            return [_knowledge(row) for row in conn.execute(query)]

    def knowledge(self, escalation_id: str) -> PendingKnowledge | None:
        """The knowledge record of a resolution (pending or searchable), or None."""
        query = select(pending_knowledge).where(pending_knowledge.c.escalation_id == escalation_id)
        with self._read() as conn:
            row = conn.execute(query).one_or_none()
        return None if row is None else _knowledge(row)

    def mark_knowledge(self, escalation_id: str, indexed_at: datetime | None, error: str | None = None) -> None:
        """Record an indexing attempt: done at `indexed_at`, or failed with `error`."""
        values: dict[str, Any] = {"attempts": pending_knowledge.c.attempts + 1, "last_error": error}
        if indexed_at is not None:
            values["indexed_at"] = records.aware_utc(indexed_at, "indexed_at")
        with self._write() as conn:
            conn.execute(
                update(pending_knowledge).where(pending_knowledge.c.escalation_id == escalation_id).values(**values)
            )

    # --- audit ---------------------------------------------------------------------------------------------

    def append_audit(self, events: Sequence[AuditEvent]) -> None:
        """Append events that change no escalation (e.g. an answer decision), in one transaction."""
        event_rows = self._event_rows(events)
        if not event_rows:
            return
        with self._write() as conn:
            self._insert_events(conn, event_rows)

    def audit(
        self,
        *,
        escalation_id: str | None = None,
        answer_id: str | None = None,
        kind: str | None = None,
        since: datetime | None = None,
    ) -> builtins.list[AuditEvent]:
        """Events matching every given filter (`since` bounds `at`, inclusive), oldest first."""
        query = self._audit_query(escalation_id, answer_id, kind, since)
        with self._read() as conn:
            return [_event(row) for row in conn.execute(query)]

    def export_audit(self, out: Path | TextIO) -> int:
        """Write the whole audit log as JSONL, oldest first; the line count. Streams; one consistent snapshot."""
        with self._read() as conn:
            return records.write_jsonl(self._stream_events(conn), out)

    # --- feedback ------------------------------------------------------------------------------------------

    def add_feedback(self, record: FeedbackRecord, events: Sequence[AuditEvent] = ()) -> None:
        """Store a vote with its audit events in one transaction; NotFound without a decision for the answer."""
        row = {
            **record.model_dump(exclude={"source_ids", "at"}),
            "at": records.aware_utc(record.at, "at"),
            "source_ids": json.dumps(record.source_ids, ensure_ascii=False),
        }
        event_rows = self._event_rows(events)
        with self._write() as conn:
            decided = conn.execute(
                select(audit_events.c.id)
                .where(audit_events.c.answer_id == record.answer_id, audit_events.c.kind == "decision")
                .limit(1)
            ).first()
            if decided is None:
                raise NotFound(f"no answer {record.answer_id}", [{"answer_id": record.answer_id}])
            try:
                conn.execute(insert(feedback).values(**row))
            except IntegrityError as exc:
                raise Conflict(f"feedback {record.id} already exists", [{"feedback_id": record.id}]) from exc
            self._insert_events(conn, event_rows)

    def feedback(
        self, *, answer_id: str | None = None, since: datetime | None = None, limit: int | None = 100
    ) -> builtins.list[FeedbackRecord]:
        """Votes matching every given filter (`since` bounds `at`, inclusive), newest first; limit None is all."""
        records.check_limit(limit)
        query = select(feedback).order_by(feedback.c.at.desc(), feedback.c.id.desc())
        if answer_id is not None:
            query = query.where(feedback.c.answer_id == answer_id)
        if since is not None:
            query = query.where(feedback.c.at >= records.aware_utc(since, "since"))
        if limit is not None:
            query = query.limit(limit)
        with self._read() as conn:
            return [
                FeedbackRecord.model_validate({**row._asdict(), "source_ids": json.loads(row.source_ids)})
                for row in conn.execute(query)
            ]

    def self_served_without_vote(self, *, since: datetime, limit: int | None = 100) -> builtins.list[Escalation]:
        """Self-served escalations naming a page, created at or after `since`, whose self-serve vote is not stored;
        oldest first. One query when every vote is there (the retry's usual case), a second for the missing packets."""
        records.check_limit(limit)
        page = self._packet_field("self_served_page")
        # Each candidate with the ids of the votes on its answer (few: its customer's own), through the answer_id
        # indexes; the vote's id is derived in Python (self_served_vote_id), so the comparison happens here.
        query = (
            select(escalations.c.id, escalations.c.created_at, feedback.c.id.label("vote"))
            .select_from(escalations.outerjoin(feedback, feedback.c.answer_id == escalations.c.answer_id))
            .where(
                escalations.c.state == State.SELF_SERVED.value,
                escalations.c.created_at >= records.aware_utc(since, "since"),
                page.is_not(None),
                page != OTHER_PAGE,
            )
        )
        with self._read() as conn:
            votes: dict[str, tuple[datetime, set[str]]] = {}
            for row in conn.execute(query):
                votes.setdefault(row.id, (row.created_at, set()))[1].add(row.vote)
            missing = sorted(
                (created_at, escalation_id)
                for escalation_id, (created_at, ids) in votes.items()
                if self_served_vote_id(escalation_id) not in ids
            )[:limit]
            if not missing:
                return []
            wanted = [escalation_id for _, escalation_id in missing]
            packets = conn.execute(select(escalations.c.packet).where(escalations.c.id.in_(wanted))).scalars()
            found = [Escalation.model_validate_json(packet) for packet in packets]
        return sorted(found, key=lambda e: (e.created_at, e.id))

    def _packet_field(self, name: str) -> ColumnElement[str]:
        """A top-level text field of the packet (JSON text), read by the database: SQLite's JSON functions take
        the text as it is; PostgreSQL's need it cast to json first."""
        packet = escalations.c.packet
        as_json = type_coerce(packet, JSON) if self.dialect == "sqlite" else cast(packet, JSON)
        return as_json[name].as_string()

    # --- internals -----------------------------------------------------------------------------------------

    @staticmethod
    def _columns(escalation: Escalation) -> dict[str, Any]:
        records.check_escalation(escalation)
        return {
            "state": escalation.state.value,
            "priority": escalation.priority.value,
            "tier": escalation.tier.value,
            "customer_id": escalation.customer_id,
            "conversation_id": escalation.conversation_id,
            "answer_id": escalation.answer_id,
            "created_at": escalation.created_at,
            "updated_at": datetime.now(UTC),
            "packet": escalation.model_dump_json(),
        }

    @staticmethod
    def _event_rows(events: Sequence[AuditEvent]) -> builtins.list[dict[str, Any]]:
        return [
            {
                **event.model_dump(include={"at", "kind", "actor", "answer_id", "escalation_id", "action"}),
                "data": json.dumps(event.model_dump(mode="json", include={"data"})["data"], ensure_ascii=False),
            }
            for event in records.normalise_events(events)
        ]

    def _insert_events(self, conn: Connection, rows: builtins.list[dict[str, Any]]) -> None:
        # Append-only: this INSERT is the only statement in deflect that touches audit_events.
        if rows:
            conn.execute(_INSERT_EVENTS, rows)

    @staticmethod
    def _audit_query(
        escalation_id: str | None, answer_id: str | None, kind: str | None, since: datetime | None
    ) -> Select[Any]:
        query = select(audit_events).order_by(audit_events.c.id)
        if escalation_id is not None:
            query = query.where(audit_events.c.escalation_id == escalation_id)
        if answer_id is not None:
            query = query.where(audit_events.c.answer_id == answer_id)
        if kind is not None:
            query = query.where(audit_events.c.kind == kind)
        if since is not None:
            query = query.where(audit_events.c.at >= records.aware_utc(since, "since"))
        return query

    def _stream_events(self, conn: Connection) -> Iterator[AuditEvent]:
        query = self._audit_query(None, None, None, None)
        for row in conn.execution_options(yield_per=EXPORT_BATCH).execute(query):
            yield _event(row)


def _knowledge(row: Row[Any]) -> PendingKnowledge:
    return PendingKnowledge(
        escalation_id=row.escalation_id,
        records=json.loads(row.records),
        created_at=row.created_at,
        indexed_at=row.indexed_at,
        attempts=row.attempts,
        last_error=row.last_error,
    )


def _event(row: Row[Any]) -> AuditEvent:
    return AuditEvent(
        id=row.id,
        at=row.at,
        kind=row.kind,
        actor=row.actor,
        answer_id=row.answer_id,
        escalation_id=row.escalation_id,
        action=row.action,
        data=json.loads(row.data),
    )
