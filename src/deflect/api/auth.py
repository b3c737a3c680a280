"""Who is calling: the role comes from the API key, never from the request body."""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from fastapi import Header, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from deflect.config import Settings
from deflect.domain.models import Audience
from deflect.errors import Forbidden, Unauthorized

BEARER = HTTPBearer(auto_error=False, description="`Authorization: Bearer <key>`; the key's role decides access.")
API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False, description="The same key in `X-API-Key`.")


class Role(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    ADMIN = "admin"


@dataclass(frozen=True)
class Caller:
    role: Role
    actor: str  # recorded in the audit log for human actions

    @property
    def audience(self) -> Audience:
        """Customers see public content; agents and admins also see internal content."""
        return Audience.CUSTOMER if self.role is Role.CUSTOMER else Audience.AGENT


def caller_dependency(settings: Settings) -> Callable[..., Caller]:
    """A FastAPI dependency resolving the caller from `Authorization: Bearer <key>` or `X-API-Key`."""
    roles = {key: Role.CUSTOMER for key in settings.customer_api_keys}
    roles.update({key: Role.AGENT for key in settings.agent_api_keys})
    roles.update({key: Role.ADMIN for key in settings.admin_api_keys})

    def caller(
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)] = None,
        x_api_key: Annotated[str | None, Security(API_KEY)] = None,
        x_actor: Annotated[str | None, Header(max_length=100, description="Human id for the audit log.")] = None,
    ) -> Caller:
        # Declared as security schemes so the OpenAPI document says how to authenticate; checked here, not there.
        key = x_api_key or (bearer.credentials.strip() if bearer else None)
        if not key:
            raise Unauthorized("missing API key: send `Authorization: Bearer <key>` or `X-API-Key`")
        role = roles.get(key)
        if role is None:
            raise Unauthorized("unknown API key")
        if role is Role.CUSTOMER:
            # X-Actor is not verified, and a customer-held key could claim any name (e.g. to pose as many voters
            # on feedback): customers are identified by their key alone.
            return Caller(role, "customer:" + hashlib.sha256(key.encode()).hexdigest()[:10])
        return Caller(role, (x_actor or "").strip() or f"{role.value}:{key[:4]}")

    return caller


def staff(caller: Caller) -> Caller:
    """Only agents and admins may work escalations, read the audit log and stats."""
    if caller.role is Role.CUSTOMER:
        raise Forbidden("this endpoint needs an agent or admin key")
    return caller


def admin(caller: Caller) -> Caller:
    if caller.role is not Role.ADMIN:
        raise Forbidden("this endpoint needs an admin key")
    return caller
