"""Who is calling: the role comes from the API key, never from the request body.

Keys come from two places: the settings file (development, and small set-ups) and the database (`deflect keys`,
/v1/admin/keys), where only their SHA-256 is kept. A database key is looked up on every request, so one revoked
in any process is refused by every process at once.
"""

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Header, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from deflect.config import Settings
from deflect.domain.keys import KeyKind, Role
from deflect.domain.models import Audience
from deflect.errors import Forbidden, Unauthorized
from deflect.keys import KeyRing

BEARER = HTTPBearer(auto_error=False, description="`Authorization: Bearer <key>`; the key's role decides access.")
API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False, description="The same key in `X-API-Key`.")


__all__ = ["Caller", "CallerDependency", "Role", "admin", "caller_dependency", "staff"]


@dataclass(frozen=True)
class Caller:
    role: Role
    actor: str  # recorded in the audit log for human actions

    @property
    def audience(self) -> Audience:
        """Customers see public content; agents and admins also see internal content."""
        return Audience.CUSTOMER if self.role is Role.CUSTOMER else Audience.AGENT


# The dependency routes declare to learn who calls (async: see caller_dependency).
CallerDependency = Callable[..., Awaitable[Caller]]


def caller_dependency(settings: Settings, keys: KeyRing | None = None) -> CallerDependency:
    """A FastAPI dependency resolving the caller from `Authorization: Bearer <key>` or `X-API-Key`: a settings key,
    else an active API key of the database (`keys`)."""
    roles = {key: Role.CUSTOMER for key in settings.customer_api_keys}
    roles.update({key: Role.AGENT for key in settings.agent_api_keys})
    roles.update({key: Role.ADMIN for key in settings.admin_api_keys})

    async def caller(
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)] = None,
        x_api_key: Annotated[str | None, Security(API_KEY)] = None,
        x_actor: Annotated[str | None, Header(max_length=100, description="Human id for the audit log.")] = None,
    ) -> Caller:
        # Declared as security schemes so the OpenAPI document says how to authenticate; checked here, not there.
        key = x_api_key or (bearer.credentials.strip() if bearer else None)
        if not key:
            raise Unauthorized("missing API key: send `Authorization: Bearer <key>` or `X-API-Key`")
        role = roles.get(key)
        if role is not None:
            name = hashlib.sha256(key.encode()).hexdigest()[:10] if role is Role.CUSTOMER else key[:4]
        else:
            # A settings key is resolved on the event loop (a worker thread per request cost each ask a hand-off);
            # the database read runs in a worker thread, so it never blocks the loop.
            found = await run_in_threadpool(keys.identify, key) if keys is not None else None
            if found is None or found.kind is not KeyKind.API_KEY or found.role is None:
                raise Unauthorized("unknown API key")
            if not found.active:
                raise Unauthorized("this API key was revoked")
            role, name = found.role, found.id  # the id survives rotation: the same caller before and after
        if role is Role.CUSTOMER:
            # X-Actor is not verified, and a customer-held key could claim any name (e.g. to pose as many voters
            # on feedback): customers are identified by their key alone.
            return Caller(role, f"customer:{name}")
        return Caller(role, (x_actor or "").strip() or f"{role.value}:{name}")

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
