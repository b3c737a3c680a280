"""API keys and widget ids as deflect stores them: a role or a widget's origins, a label, and only a hash of the
secret. The secret itself is shown once, when it is made (created or rotated), and never stored."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field, field_validator

from deflect.domain.time import aware_utc


class Role(StrEnum):
    """What an API key may do: customers ask (public content only), agents also work escalations, admins all."""

    CUSTOMER = "customer"
    AGENT = "agent"
    ADMIN = "admin"


class KeyKind(StrEnum):
    API_KEY = "api_key"  # a secret held by a backend or a person; carries a role
    WIDGET = "widget"  # a public widget id; the customer audience on its allowed origins only


class KeyRecord(BaseModel):
    """One stored key. `secret_hash` is SHA-256 of the secret; `hint` is its first characters, to tell keys apart."""

    id: str = Field(description="Stable id (key_...) to list, rotate and revoke by; not a credential.")
    kind: KeyKind
    role: Role | None = Field(None, description="The role of an API key; None for a widget id.")
    label: str
    origins: list[str] = Field(default_factory=list, description="A widget's allowed site origins; empty allows none.")
    secret_hash: str
    hint: str
    created_at: datetime
    created_by: str
    rotated_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_by: str | None = None

    @field_validator("created_at", "rotated_at", "revoked_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else aware_utc(value)

    @property
    def active(self) -> bool:
        return self.revoked_at is None
