"""The KeyStore half of SqlStore: API keys and widget ids in the `api_keys` table, by the hash of their secret."""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from deflect.domain.escalation import AuditEvent
from deflect.domain.keys import KeyRecord
from deflect.errors import Conflict, NotFound
from deflect.store.schema import api_keys


class SqlKeys:
    """Mixed into SqlStore, whose transactions (`_write`, `_read`) and audit writes it uses."""

    # Declared, not defined: SqlStore provides them.
    _write: Callable[[], AbstractContextManager[Connection]]
    _read: Callable[[], AbstractContextManager[Connection]]
    _event_rows: Callable[[Sequence[AuditEvent]], builtins.list[dict[str, Any]]]
    _insert_events: Callable[[Connection, builtins.list[dict[str, Any]]], None]

    def add_key(self, record: KeyRecord, events: Sequence[AuditEvent] = ()) -> None:
        """Store a new key with its audit events; Conflict if its id or its secret's hash exists."""
        rows = self._event_rows(events)
        with self._write() as conn:
            try:
                conn.execute(insert(api_keys).values(**_columns(record), id=record.id))
            except IntegrityError as exc:
                raise Conflict(f"key {record.id} already exists", [{"key_id": record.id}]) from exc
            self._insert_events(conn, rows)

    def key_by_hash(self, secret_hash: str) -> KeyRecord | None:
        """The key whose secret has this hash, revoked or not (one indexed read)."""
        with self._read() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.secret_hash == secret_hash)).one_or_none()
        return None if row is None else _record(row)

    def get_key(self, key_id: str) -> KeyRecord:
        """The key with this id; NotFound if absent."""
        with self._read() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).one_or_none()
        if row is None:
            raise NotFound(f"no key {key_id}", [{"key_id": key_id}])
        return _record(row)

    def list_keys(self, *, include_revoked: bool = False) -> builtins.list[KeyRecord]:
        """Keys, oldest first; active ones only unless `include_revoked`."""
        query = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
        if not include_revoked:
            query = query.where(api_keys.c.revoked_at.is_(None))
        with self._read() as conn:
            return [_record(row) for row in conn.execute(query)]

    def update_key(self, record: KeyRecord, events: Sequence[AuditEvent] = ()) -> None:
        """Replace a still-active key; NotFound if absent, Conflict if revoked meanwhile (nothing written then)."""
        rows = self._event_rows(events)
        with self._write() as conn:
            # The check and the write are one statement: a rotation racing a revocation cannot un-revoke the key.
            try:
                result = conn.execute(
                    update(api_keys)
                    .where(api_keys.c.id == record.id, api_keys.c.revoked_at.is_(None))
                    .values(**_columns(record))
                )
            except IntegrityError as exc:
                raise Conflict("another key has this secret", [{"key_id": record.id}]) from exc
            if result.rowcount != 1:
                exists = conn.execute(select(api_keys.c.id).where(api_keys.c.id == record.id)).first()
                if exists is None:
                    raise NotFound(f"no key {record.id}", [{"key_id": record.id}])
                raise Conflict(f"key {record.id} is revoked", [{"key_id": record.id}])
            self._insert_events(conn, rows)


def _columns(record: KeyRecord) -> dict[str, Any]:
    values = record.model_dump(exclude={"id", "origins"})
    values["kind"] = record.kind.value
    values["role"] = record.role.value if record.role else None
    values["origins"] = json.dumps(record.origins)
    return values


def _record(row: Row[Any]) -> KeyRecord:
    return KeyRecord.model_validate({**row._asdict(), "origins": json.loads(row.origins)})
