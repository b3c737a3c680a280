"""How a vote came (deflect.domain.feedback.via_of): told by its id, so a self-serve's vote and a clicked one differ
in `deflect feedback list` with no column of their own."""

from __future__ import annotations

import uuid

import pytest

from deflect.domain.feedback import self_served_vote_id, via_of, vote_id


def test_a_self_served_escalations_vote_has_one_id_of_its_own() -> None:
    assert self_served_vote_id("esc_1") == self_served_vote_id("esc_1") != self_served_vote_id("esc_2")
    assert via_of(self_served_vote_id("esc_1")) == "self_serve"


def test_clicked_votes_have_fresh_ids_and_are_votes() -> None:
    ids = {vote_id() for _ in range(20)}

    assert len(ids) == 20
    assert {via_of(i) for i in ids} == {"vote"}


@pytest.mark.parametrize(
    "record_id",
    [
        "fb-1",  # ids the tests and older tools wrote
        "fb_",
        "fb_" + "z" * 32,
        uuid.uuid5(uuid.NAMESPACE_DNS, "x").hex,  # name-based, but not a vote id
        "fb_" + uuid.uuid1().hex,
        "fb_" + uuid.uuid5(uuid.NAMESPACE_DNS, "x").hex[:31],
    ],
)
def test_any_other_id_is_a_vote(record_id: str) -> None:
    assert via_of(record_id) == "vote"
