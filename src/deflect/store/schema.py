"""The tables SqlStore reads and writes. Migrations create them; a test checks the two agree."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

from deflect.store.records import aware_utc


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every dialect (SQLite keeps no zone, so it stores UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else aware_utc(value, "datetime")

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

# The packet (the whole Escalation as JSON) is the record; the other columns copy the fields lists filter on.
escalations = Table(
    "escalations",
    metadata,
    Column("id", String, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("state", String, nullable=False),
    Column("priority", String, nullable=False),
    Column("tier", String, nullable=False),
    Column("customer_id", String, nullable=True),
    Column("conversation_id", String, nullable=True),
    Column("answer_id", String, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("packet", Text, nullable=False),
    Index("ix_escalations_created_at", "created_at"),
    Index("ix_escalations_state_created_at", "state", "created_at"),
    Index("ix_escalations_customer_id_created_at", "customer_id", "created_at"),
    Index("ix_escalations_answer_id", "answer_id"),
)

# Append-only: the store has no UPDATE or DELETE for it, and a trigger (see the migration) rejects both.
audit_events = Table(
    "audit_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("kind", String, nullable=False),
    Column("actor", String, nullable=False),
    Column("answer_id", String, nullable=True),
    Column("escalation_id", String, nullable=True),
    Column("action", String, nullable=True),
    Column("data", Text, nullable=False),
    Index("ix_audit_events_escalation_id", "escalation_id"),
    Index("ix_audit_events_answer_id", "answer_id"),
    Index("ix_audit_events_kind_at", "kind", "at"),
    sqlite_autoincrement=True,  # ids never reused, so export order is append order
)

# Votes on answers (migration 0002). Append-only by convention: the store only inserts. `source_ids` is a JSON list.
feedback = Table(
    "feedback",
    metadata,
    Column("id", String, primary_key=True),
    Column("answer_id", String, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("helpful", Boolean, nullable=False),
    Column("comment", Text, nullable=True),
    Column("correct_source", String, nullable=True),
    Column("actor", String, nullable=False),
    Column("role", String, nullable=False),
    Column("question", Text, nullable=False),
    Column("source_ids", Text, nullable=False),
    Column("decision", String, nullable=False),
    Index("ix_feedback_answer_id", "answer_id"),
    Index("ix_feedback_at", "at"),
)

# A resolution's knowledge records until indexed (migration 0003); written in the resolve's own transaction.
pending_knowledge = Table(
    "pending_knowledge",
    metadata,
    Column("escalation_id", String, primary_key=True),
    Column("records", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("indexed_at", UtcDateTime, nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text, nullable=True),
    Index("ix_pending_knowledge_indexed_at", "indexed_at"),
)

# API keys and widget ids (migration 0004): the SHA-256 of the secret, never the secret. `origins` is a JSON list.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String, primary_key=True),
    Column("kind", String, nullable=False),
    Column("role", String, nullable=True),
    Column("label", String, nullable=False),
    Column("origins", Text, nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("hint", String, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String, nullable=False),
    Column("rotated_at", UtcDateTime, nullable=True),
    Column("revoked_at", UtcDateTime, nullable=True),
    Column("revoked_by", String, nullable=True),
    UniqueConstraint("secret_hash", name="uq_api_keys_secret_hash"),  # the lookup of every request, indexed
)
