"""Time values at the edges of the domain: every stored or compared datetime is an aware UTC one."""

from __future__ import annotations

from datetime import UTC, datetime

from deflect.errors import ValidationFailed


def aware_utc(value: datetime, field: str = "time") -> datetime:
    """The same instant in UTC; a naive datetime is refused, since its zone would be a guess."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationFailed(f"{field} must be timezone-aware (UTC), got {value.isoformat()}", [{"field": field}])
    return value.astimezone(UTC)


def utc_now() -> datetime:
    """Now, aware, in UTC: the default clock."""
    return datetime.now(UTC)
