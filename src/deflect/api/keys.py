"""The admin key API under /v1/admin (admin keys only): API keys and widget ids created, listed, rotated, revoked.

A secret is in the response of create and rotate only; deflect keeps its SHA-256 and cannot show it again.
"""

# No `from __future__ import annotations`: FastAPI resolves `Depends(caller)` from a name local to the factory.

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from deflect.api.auth import Caller, CallerDependency, admin
from deflect.domain.keys import KeyKind, KeyRecord, Role
from deflect.errors import NotFound
from deflect.keys import Issued, KeyRing

Origins = list[Annotated[StrictStr, Field(max_length=300)]]


class NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role = Field(description="customer (asks, public content), agent (also escalations), admin (everything).")
    label: StrictStr = Field(max_length=200, description="Who or what holds it, e.g. `help center backend`.")


class NewWidget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: StrictStr = Field(max_length=200, description="The site, e.g. `docs.example.com`.")
    origins: Origins = Field(
        default_factory=list, max_length=50, description="Site origins it may run on; an empty list allows none."
    )


class WidgetOrigins(BaseModel):
    model_config = ConfigDict(extra="forbid")

    origins: Origins = Field(max_length=50, description="The widget's allowed origins, replacing the old list.")


class KeyView(BaseModel):
    """A key as listed: never its secret or the secret's hash."""

    id: str
    kind: KeyKind
    role: Role | None
    label: str
    origins: list[str]
    hint: str = Field(description="The secret's first characters, to tell keys apart.")
    active: bool
    created_at: datetime
    created_by: str
    rotated_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None

    @classmethod
    def of(cls, record: KeyRecord) -> "KeyView":
        return cls.model_validate(record.model_dump(exclude={"secret_hash"}) | {"active": record.active})


class IssuedKey(KeyView):
    secret: str = Field(description="The API key or widget id itself. Shown this once: deflect stores only a hash.")

    @classmethod
    def issued(cls, issued: Issued) -> "IssuedKey":
        return cls.model_validate(KeyView.of(issued.record).model_dump() | {"secret": issued.secret})


def keys_router(keys: KeyRing | None, caller: CallerDependency) -> APIRouter:
    """Key management routes; every one needs an admin key."""
    router = APIRouter(prefix="/v1/admin", tags=["admin"])

    def ring(who: Annotated[Caller, Depends(caller)]) -> tuple[KeyRing, str]:
        admin(who)
        if keys is None:
            raise NotFound("this server keeps no keys in a database; it uses the settings keys only")
        return keys, who.actor

    Ring = Annotated[tuple[KeyRing, str], Depends(ring)]

    @router.get("/keys", response_model=list[KeyView], summary="API keys and widget ids (no secrets)")
    def list_keys(
        use: Ring,
        include_revoked: Annotated[bool, Query(description="Also list revoked keys.")] = False,
    ) -> list[KeyView]:
        return [KeyView.of(k) for k in use[0].list(include_revoked)]

    @router.post("/keys", status_code=201, response_model=IssuedKey, summary="Create an API key (secret shown once)")
    def create_key(body: NewKey, use: Ring) -> IssuedKey:
        return IssuedKey.issued(use[0].create(body.role, body.label, use[1]))

    @router.post(
        "/widgets", status_code=201, response_model=IssuedKey, summary="Create a widget id for some site origins"
    )
    def create_widget(body: NewWidget, use: Ring) -> IssuedKey:
        return IssuedKey.issued(use[0].create_widget(body.label, body.origins, use[1]))

    @router.post(
        "/keys/{key_id}/rotate", response_model=IssuedKey, summary="New secret for a key; the old one stops at once"
    )
    def rotate_key(key_id: str, use: Ring) -> IssuedKey:
        return IssuedKey.issued(use[0].rotate(key_id, use[1]))

    @router.post("/keys/{key_id}/revoke", response_model=KeyView, summary="Refuse a key from now on, everywhere")
    def revoke_key(key_id: str, use: Ring) -> KeyView:
        return KeyView.of(use[0].revoke(key_id, use[1]))

    @router.post("/keys/{key_id}/origins", response_model=KeyView, summary="Replace a widget id's allowed origins")
    def set_origins(key_id: str, body: WidgetOrigins, use: Ring) -> KeyView:
        return KeyView.of(use[0].set_origins(key_id, body.origins, use[1]))

    return router
