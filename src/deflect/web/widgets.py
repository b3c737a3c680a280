"""Who is asking through the customer widget: a public widget id, the page's origin, and (optionally) a visitor
identity your site signed. No secret ever sits in the page.

- A widget id is public. It maps (settings.widgets, or a widget id made with `deflect keys create-widget`, kept
  hashed in the database and read on every request) to the customer audience and a list of site origins; the
  request's `Origin` must be in that list, and an empty list allows nothing. A revoked widget id is unknown.
- Anonymous visitors send a random session id the widget made; they share one feedback voter per widget, so
  clearing storage cannot multiply votes.
- Identified visitors send a short-lived HS256 JWT (`sub`, `exp`, optional `name`, `email`, `tier`) minted by the
  site's backend with settings.widget_identity_secret. They count as distinct feedback voters, and their `sub`
  is the customer id that repeat-contact detection and escalation packets use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import jwt

from deflect.config import DEV_WIDGET_ID, Settings
from deflect.domain.actors import widget_requester, widget_voter
from deflect.domain.keys import KeyKind
from deflect.errors import Forbidden, NotFound, Unauthorized, ValidationFailed
from deflect.keys import KeyRing

SESSION = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


@dataclass(frozen=True)
class Visitor:
    widget_id: str
    origin: str
    session: str
    sub: str | None = None  # set only from a verified identity token
    name: str | None = None
    tier: str | None = None

    @property
    def identified(self) -> bool:
        return self.sub is not None

    @property
    def customer_id(self) -> str | None:
        return f"{self.widget_id}:{self.sub}" if self.sub else None

    @property
    def voter(self) -> str:
        """The feedback actor: one per identified user, one for all anonymous visitors of a widget."""
        return widget_voter(self.widget_id, self.sub)

    @property
    def requester(self) -> str:
        """Who raised an escalation, and so the only one who may withdraw it: an identified visitor on any device,
        an anonymous one in the session that asked (hashed: deflect.domain.actors)."""
        return widget_requester(self.widget_id, self.session, self.sub)

    @property
    def rate_key(self) -> str:
        return f"w:{self.widget_id}:" + (f"u:{self.sub}" if self.sub else f"s:{self.session}")


class WidgetGate:
    """Checks a widget request; raises NotFound, Forbidden, Unauthorized or ValidationFailed."""

    def __init__(self, settings: Settings, keys: KeyRing | None = None) -> None:
        self._widgets = {wid: frozenset(o.rstrip("/") for o in origins) for wid, origins in settings.widgets.items()}
        if settings.env == "production":
            self._widgets.pop(DEV_WIDGET_ID, None)  # production serves no development widget, whatever it allows
        self._secret = settings.widget_identity_secret
        self._keys = keys

    def origins(self, widget_id: str) -> frozenset[str] | None:
        """The widget's allowed origins; None for an unknown or revoked widget id. Reads the database (blocking)."""
        if widget_id in self._widgets:
            return self._widgets[widget_id]
        found = self._keys.identify(widget_id) if self._keys is not None else None
        if found is None or found.kind is not KeyKind.WIDGET or not found.active:
            return None
        return frozenset(found.origins)

    def allowed(self, widget_id: str, origin: str | None) -> bool:
        return bool(origin) and origin in (self.origins(widget_id) or frozenset())

    def check_origin(self, widget_id: str, origin: str | None) -> str:
        allowed = self.origins(widget_id)
        if allowed is None:
            raise NotFound("unknown widget id", [{"widget_id": widget_id}])
        if not origin or origin not in allowed:
            raise Forbidden("this widget may not be used on this site", [{"origin": origin}])
        return origin

    def visitor(self, widget_id: str, origin: str | None, session: str | None, token: str | None) -> Visitor:
        origin = self.check_origin(widget_id, origin)
        if not session or not SESSION.match(session):
            raise ValidationFailed("missing or malformed X-Deflect-Session", [{"field": "X-Deflect-Session"}])
        if not token:
            return Visitor(widget_id, origin, session)
        if not self._secret:
            raise Unauthorized("identity tokens are not enabled for this deployment")
        try:
            claims = jwt.decode(token, self._secret, algorithms=["HS256"], options={"require": ["sub", "exp"]})
        except jwt.PyJWTError as exc:
            raise Unauthorized("the identity token is not valid", [{"problem": type(exc).__name__}]) from None
        sub = str(claims["sub"])[:200]
        name = claims.get("name")
        tier = claims.get("tier")
        return Visitor(
            widget_id,
            origin,
            session,
            sub=sub,
            name=str(name)[:200] if isinstance(name, str) and name else None,
            tier=tier.strip().lower()[:50] or None if isinstance(tier, str) else None,
        )
