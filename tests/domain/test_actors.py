"""The widget actor formats (deflect.domain.actors): each one reads back as what built it, an anonymous session
votes as its widget's one anonymous voter, and a signed visitor or any other actor is its own voter."""

from __future__ import annotations

import hashlib

import pytest

from deflect.domain.actors import WidgetActor, voter_of, widget_requester, widget_voter

SESSION = "sess_a_00000001"
# A sub is whatever the site signed, so it may look like the other formats; a widget id may hold colons.
SUBS = ["user-42", "user:session:42", "x:anonymous", "a:user:b", f"x:session:{'0' * 32}"]
WIDGETS = ["wid_shop", "wid_dev_localhost", "shop:eu"]


def built(widget_id: str) -> list[WidgetActor]:
    """One actor of each format for this widget, a signed visitor for each awkward sub."""
    return [WidgetActor.session(widget_id, SESSION), WidgetActor.anonymous(widget_id)] + [
        WidgetActor.user(widget_id, sub) for sub in SUBS
    ]


@pytest.mark.parametrize("actor", [a for w in WIDGETS for a in built(w)], ids=str)
def test_every_format_reads_back_as_what_built_it(actor: WidgetActor) -> None:
    assert WidgetActor.parse(str(actor)) == actor


def test_the_strings_are_the_documented_ones() -> None:
    # Stored escalations and votes carry these strings, so they may not change with the code.
    hashed = hashlib.sha256(SESSION.encode()).hexdigest()[:32]

    assert widget_requester("wid_shop", SESSION, None) == f"widget:wid_shop:session:{hashed}"
    assert widget_requester("wid_shop", SESSION, "user-42") == "widget:wid_shop:user:user-42"
    assert widget_voter("wid_shop", None) == "widget:wid_shop:anonymous"
    assert widget_voter("wid_shop", "user-42") == "widget:wid_shop:user:user-42"


def test_the_session_id_itself_is_never_in_the_requester() -> None:
    assert SESSION not in widget_requester("wid_shop", SESSION, None)
    assert widget_requester("wid_shop", SESSION, None) != widget_requester("wid_shop", "sess_b_00000001", None)


@pytest.mark.parametrize("widget_id", WIDGETS)
def test_anonymous_sessions_are_distinct_requesters_but_one_voter_the_widgets(widget_id: str) -> None:
    sessions = ["sess_a_00000001", "sess_b_00000001", "sess_c_00000001"]
    requesters = {widget_requester(widget_id, s, None) for s in sessions}

    assert len(requesters) == len(sessions)
    assert {voter_of(r) for r in requesters} == {widget_voter(widget_id, None)}
    assert voter_of(widget_requester("wid_other", SESSION, None)) == "widget:wid_other:anonymous"  # per widget


@pytest.mark.parametrize("widget_id", WIDGETS)
@pytest.mark.parametrize("sub", SUBS)
def test_a_signed_visitor_is_their_own_voter_on_any_session(widget_id: str, sub: str) -> None:
    requester = widget_requester(widget_id, SESSION, sub)

    assert voter_of(requester) == requester == widget_voter(widget_id, sub)
    assert widget_requester(widget_id, "sess_b_00000001", sub) == requester  # any device, any session
    assert voter_of(requester) != widget_voter(widget_id, None)


@pytest.mark.parametrize("actor", ["customer:5f2c9a01be", "agent-ana", "admin:dfk_", "widgets:x:session:abc", ""])
def test_any_other_actor_is_no_widget_actor_and_its_own_voter(actor: str) -> None:
    assert WidgetActor.parse(actor) is None
    assert voter_of(actor) == actor
