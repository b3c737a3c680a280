"""SourceAdjustments: demote and boost for similar questions only, with the anti-gaming limits."""

from __future__ import annotations

from datetime import timedelta

import pytest

from deflect.domain.feedback import FeedbackRecord
from deflect.feedback import AdjustConfig, SourceAdjustments, votes_of

from .builders import BILLING, LOGIN, LOGIN_PARAPHRASE, NOW, crowd, hits, unit, vote

CONFIG = AdjustConfig(min_similarity=0.6, min_actors=5, cap=0.05, prior=5.0, half_life_days=90, max_age_days=365)


def build(records: list[FeedbackRecord], config: AdjustConfig = CONFIG) -> SourceAdjustments:
    return SourceAdjustments.build(records, [LOGIN] * len(records), NOW, config)


def ranked(adjustments: SourceAdjustments, question: list[float]) -> list[str]:
    return [h.source_id for h in adjustments.adjust(unit(question), hits())]


def test_votes_of_an_unhelpful_answer_count_against_shown_and_for_the_named_source() -> None:
    assert votes_of(vote(0, "a")) == [("doc:wrong", -1), ("doc:right", 1)]
    assert votes_of(vote(0, "a", helpful=True, correct_source=None)) == [("doc:wrong", 1)]
    # Naming a shown source as correct is a vote for it, not against.
    assert votes_of(vote(0, "a", source_ids=["doc:right"])) == [("doc:right", 1)]
    assert votes_of(vote(0, "a", source_ids=[], correct_source=None)) == []


def test_no_feedback_changes_nothing() -> None:
    empty = SourceAdjustments.empty(CONFIG)

    assert empty.adjust(LOGIN, hits()) == hits()
    assert build([]).adjust(LOGIN, hits()) == hits()


def test_enough_distinct_actors_swap_the_wrong_source_for_the_right_one() -> None:
    adjustments = build(crowd(5))

    assert ranked(adjustments, LOGIN) == ["doc:right", "doc:wrong", "doc:other"]
    # Five votes against, prior five: half the cap each way.
    assert adjustments.deltas(LOGIN) == pytest.approx({"doc:wrong": -0.025, "doc:right": 0.025})


def test_a_similar_question_is_adjusted_and_an_unrelated_one_is_not() -> None:
    adjustments = build(crowd(5))

    assert ranked(adjustments, LOGIN_PARAPHRASE) == ["doc:right", "doc:wrong", "doc:other"]
    assert adjustments.deltas(BILLING) == {}
    assert adjustments.adjust(BILLING, hits()) == hits()


def test_the_similarity_threshold_is_where_votes_stop_counting() -> None:
    just_below = unit([0.59, 0.8074651695, 0.0])  # cosine 0.59 with LOGIN
    just_above = unit([0.61, 0.7924014134, 0.0])

    assert build(crowd(5)).deltas(just_below) == {}
    assert build(crowd(5)).deltas(just_above) != {}


def test_demotion_alone_reorders_when_no_source_is_named() -> None:
    adjustments = build(crowd(5, correct_source=None))

    assert adjustments.deltas(LOGIN) == pytest.approx({"doc:wrong": -0.025})
    assert ranked(adjustments, LOGIN) == ["doc:right", "doc:wrong", "doc:other"]


def test_boost_alone_reorders_when_nothing_was_shown() -> None:
    adjustments = build(crowd(5, source_ids=[]))

    assert adjustments.deltas(LOGIN) == pytest.approx({"doc:right": 0.025})
    assert ranked(adjustments, LOGIN) == ["doc:right", "doc:wrong", "doc:other"]


def test_fewer_distinct_actors_than_the_threshold_have_no_effect() -> None:
    assert build(crowd(4)).deltas(LOGIN) == {}
    assert ranked(build(crowd(4)), LOGIN) == ["doc:wrong", "doc:right", "doc:other"]


def test_one_actor_flooding_a_thousand_votes_has_no_effect() -> None:
    flood = [vote(i, "mallory", NOW - timedelta(seconds=i)) for i in range(1000)]

    adjustments = build(flood)

    assert adjustments.deltas(LOGIN) == {}
    assert ranked(adjustments, LOGIN) == ["doc:wrong", "doc:right", "doc:other"]


def test_a_flooding_actor_counts_as_one_voter_among_honest_ones() -> None:
    honest = crowd(5, helpful=True, source_ids=["doc:wrong"], correct_source=None)  # five say doc:wrong is fine
    flood = [vote(i, "mallory", NOW - timedelta(seconds=i)) for i in range(1000)]

    deltas = build(honest + flood).deltas(LOGIN)

    # doc:wrong: five up, one down; doc:right: one actor only, below the threshold.
    assert deltas == pytest.approx({"doc:wrong": 0.05 * (5 - 1) / (5 + 1 + 5)})


def test_only_an_actors_newest_vote_counts() -> None:
    changed_mind = [
        *crowd(4),
        vote(0, "eve", NOW - timedelta(days=1)),
        vote(1, "eve", NOW, helpful=True, source_ids=["doc:wrong"], correct_source=None),
    ]

    deltas = build(changed_mind).deltas(LOGIN)

    # doc:wrong: four down and eve's newest up. doc:right: eve's older vote named it and her newer one says nothing
    # about it, so it stands (per source, per actor): five up (one of them a day old, hence the tolerance).
    assert deltas == pytest.approx(
        {"doc:wrong": 0.05 * (1 - 4) / (1 + 4 + 5), "doc:right": 0.05 * 5 / (5 + 5)}, rel=1e-3
    )


def test_the_shift_never_exceeds_the_cap() -> None:
    adjustments = build(crowd(10_000))

    deltas = adjustments.deltas(LOGIN)

    assert -0.05 < deltas["doc:wrong"] < -0.0499
    assert 0.0499 < deltas["doc:right"] < 0.05
    far_ahead = [hits()[0].model_copy(update={"score": 0.9}), *hits()[1:]]
    assert [h.source_id for h in adjustments.adjust(LOGIN, far_ahead)][0] == "doc:wrong"  # margin 0.11 > 2 x cap


def test_helpful_votes_offset_unhelpful_ones() -> None:
    mixed = crowd(5) + [vote(0, f"fan-{a}", helpful=True, correct_source=None) for a in range(5)]

    deltas = build(mixed).deltas(LOGIN)

    assert deltas["doc:wrong"] == pytest.approx(0.0)
    assert ranked(build(mixed), LOGIN)[0] == "doc:right"  # still named right by five, nobody against it


def test_votes_lose_weight_with_age_and_are_dropped_past_max_age() -> None:
    half_life_old = build(crowd(5, at=NOW - timedelta(days=90)))
    too_old = build(crowd(5, at=NOW - timedelta(days=400)))

    assert half_life_old.deltas(LOGIN)["doc:wrong"] == pytest.approx(0.05 * -2.5 / (2.5 + 5))
    assert too_old.deltas(LOGIN) == {}
    assert len(too_old) == 0


def test_adjust_leaves_its_input_alone() -> None:
    given = hits()

    out = build(crowd(5)).adjust(LOGIN, given)

    assert given == hits()
    assert out[0].source_id == "doc:right" and out[0].score == pytest.approx(0.79 + 0.025)


def test_build_refuses_mismatched_vectors() -> None:
    with pytest.raises(ValueError):
        SourceAdjustments.build(crowd(2), [LOGIN], NOW)
