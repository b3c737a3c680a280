"""Rules every EscalationStore applies, with no database: aware datetimes, filter checks, the JSONL export."""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import TextIO

from deflect.domain.escalation import AuditEvent, Escalation, State
from deflect.domain.time import aware_utc
from deflect.errors import ValidationFailed


def check_escalation(escalation: Escalation) -> None:
    """Refuse a packet holding a naive datetime: stats and SLA arithmetic compare them with aware ones."""
    aware_utc(escalation.created_at, "created_at")
    for state, at in escalation.timestamps.items():
        aware_utc(at, f"timestamps.{state.value}")
    sla = escalation.sla
    for name in ("started_at", "paused_at", "acknowledged_at", "resolved_at"):
        value = getattr(sla, name)
        if value is not None:
            aware_utc(value, f"sla.{name}")


def normalise_events(events: Sequence[AuditEvent]) -> list[AuditEvent]:
    """Events ready to append: no id yet, `at` in UTC, `data` serialisable (raises before anything is written)."""
    ready = []
    for event in events:
        if event.id is not None:
            raise ValidationFailed(f"audit event ids are assigned by the store, got id {event.id}", [{"field": "id"}])
        ready.append(event.model_copy(update={"at": aware_utc(event.at, "at")}))
        event.model_dump_json(include={"data"})  # unserialisable data fails here, before any write
    return ready


def state_filter(state: State | Collection[State] | None) -> frozenset[State] | None:
    """One state, several, or None (no filter) as a set."""
    if state is None:
        return None
    if isinstance(state, State):
        return frozenset({state})
    return frozenset(State(s) for s in state)


def check_limit(limit: int | None) -> None:
    """A negative limit is a caller's mistake, not an empty page."""
    if limit is not None and limit < 0:
        raise ValidationFailed(f"limit must be >= 0, got {limit}", [{"field": "limit"}])


def check_offset(offset: int) -> None:
    """A negative offset is a caller's mistake too."""
    if offset < 0:
        raise ValidationFailed(f"offset must be >= 0, got {offset}", [{"field": "offset"}])


def write_jsonl(events: Iterable[AuditEvent], out: Path | TextIO) -> int:
    """Write one JSON object per line to a stream, or atomically to a file; the number of lines."""
    if isinstance(out, str | os.PathLike):
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        try:
            with partial.open("w", encoding="utf-8") as handle:
                count = write_jsonl(events, handle)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, path)  # a reader never sees half an export
        return count
    count = 0
    for event in events:
        out.write(event.model_dump_json())
        out.write("\n")
        count += 1
    return count
