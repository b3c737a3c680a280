"""The actor strings of widget visitors, in one place: who raised an escalation (its `requester`, the only caller who
may withdraw it) and who a vote is by (its feedback `actor`). deflect.web.widgets.Visitor builds them and
deflect.feedback.desk maps an escalation's requester to its voter; both go through here, so the two cannot drift.

    widget:<widget id>:session:<hash>   an anonymous visitor's requester: the session that asked (hashed, because
                                        agents read packets and the session id is the visitor's only credential)
    widget:<widget id>:anonymous        the voter of every anonymous visitor of a widget, so clearing storage cannot
                                        multiply votes
    widget:<widget id>:user:<sub>       a visitor the site signed: requester and voter alike, on any device

Any other actor (a customer key's `customer:<name>`, staff) is its own voter. A `sub` may hold anything, colons
included; a widget id may hold colons too, but not `:user:` (it would read as a signed visitor's)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

WidgetKind = Literal["session", "anonymous", "user"]

_PREFIX = "widget:"
_USER = ":user:"
_SESSION = ":session:"
_ANONYMOUS = ":anonymous"
SESSION_HASH_CHARS = 32


@dataclass(frozen=True)
class WidgetActor:
    """A widget visitor as an actor: `key` is the session's hash, the signed visitor's `sub`, or "" (anonymous)."""

    widget_id: str
    kind: WidgetKind
    key: str = ""

    @classmethod
    def session(cls, widget_id: str, session: str) -> WidgetActor:
        """An anonymous visitor in the session that asked (the session id, as the widget sends it, is hashed)."""
        return cls(widget_id, "session", hashlib.sha256(session.encode()).hexdigest()[:SESSION_HASH_CHARS])

    @classmethod
    def anonymous(cls, widget_id: str) -> WidgetActor:
        """The one voter all anonymous visitors of a widget share."""
        return cls(widget_id, "anonymous")

    @classmethod
    def user(cls, widget_id: str, sub: str) -> WidgetActor:
        """A visitor whose identity the site signed (`sub` from a verified token)."""
        return cls(widget_id, "user", sub)

    @classmethod
    def parse(cls, actor: str) -> WidgetActor | None:
        """The widget actor this string names; None for any other actor (a customer key, staff)."""
        if not actor.startswith(_PREFIX):
            return None
        rest = actor[len(_PREFIX) :]
        # A signed visitor first: their `sub` may contain ":session:" or end in ":anonymous", a widget id no ":user:".
        widget_id, sep, sub = rest.partition(_USER)
        if sep:
            return cls.user(widget_id, sub)
        if rest.endswith(_ANONYMOUS):
            return cls.anonymous(rest[: -len(_ANONYMOUS)])
        widget_id, sep, hashed = rest.rpartition(_SESSION)  # a hash holds no colon: the last marker is the one
        return cls(widget_id, "session", hashed) if sep else None

    @property
    def voter(self) -> WidgetActor:
        """Who this visitor's votes are by: the widget's shared anonymous voter for a session, else the visitor."""
        return WidgetActor.anonymous(self.widget_id) if self.kind == "session" else self

    def __str__(self) -> str:
        if self.kind == "anonymous":
            return f"{_PREFIX}{self.widget_id}{_ANONYMOUS}"
        return f"{_PREFIX}{self.widget_id}:{self.kind}:{self.key}"


def widget_requester(widget_id: str, session: str, sub: str | None) -> str:
    """Who raised an escalation through a widget: the signed visitor (`sub`) on any device, else the session."""
    return str(WidgetActor.user(widget_id, sub) if sub else WidgetActor.session(widget_id, session))


def widget_voter(widget_id: str, sub: str | None) -> str:
    """Who a widget visitor's votes are by: one voter per signed visitor, one for all anonymous ones of a widget."""
    return str(WidgetActor.user(widget_id, sub) if sub else WidgetActor.anonymous(widget_id))


def voter_of(requester: str) -> str:
    """The feedback actor of an escalation's requester: an anonymous widget session votes as its widget's shared
    anonymous voter; any other requester (a customer key's actor, a signed widget visitor) already is its voter."""
    parsed = WidgetActor.parse(requester)
    return str(parsed.voter) if parsed is not None else requester
