"""The feedback eval's pure part on a synthetic set where the answer is known: honest votes fix, one actor cannot."""

from __future__ import annotations

import math

import pytest

from deflect.evaluation.feedback_eval import (
    FeedbackEvalReport,
    Snapshot,
    evaluate,
    flood,
    honest_feedback,
    score,
    split,
)
from deflect.feedback import AdjustConfig

from .builders import hit


def paraphrase(topic: int, n: int) -> tuple[float, ...]:
    """Unit vectors clustered by topic (cosine about 0.98 within a topic, 0 across)."""
    angle = 0.05 * n
    vector = [0.0] * 6
    vector[2 * topic], vector[2 * topic + 1] = math.cos(angle), math.sin(angle)
    return tuple(vector)


def snapshots() -> list[Snapshot]:
    """Topic 0: retrieval puts doc:wrong first for every wording. Topic 1: retrieval is right."""
    out = []
    for n in range(8):
        out.append(
            Snapshot(
                f"t0-{n}",
                f"login {n}",
                ("doc:login",),
                (hit("doc:wrong", 0.8), hit("doc:login", 0.79)),
                paraphrase(0, n),
            )
        )
        out.append(
            Snapshot(
                f"t1-{n}", f"bill {n}", ("doc:bill",), (hit("doc:bill", 0.8), hit("doc:refund", 0.77)), paraphrase(1, n)
            )
        )
    return out


@pytest.fixture(scope="module")
def report() -> FeedbackEvalReport:
    return evaluate(snapshots(), AdjustConfig())


def test_split_alternates_within_each_expected_source() -> None:
    train, test = split(snapshots())

    assert [c.id for c in train if c.id.startswith("t0")] == ["t0-0", "t0-2", "t0-4", "t0-6"]
    assert [c.id for c in test if c.id.startswith("t0")] == ["t0-1", "t0-3", "t0-5", "t0-7"]


def test_honest_feedback_fixes_held_out_paraphrases_and_breaks_nothing(report: FeedbackEvalReport) -> None:
    assert report.before.recall_at_1 == 0.5
    assert report.after.recall_at_1 == 1.0
    assert (report.after.fixed, report.after.broken) == (4, 0)


def test_one_actor_cannot_move_anything_however_many_votes(report: FeedbackEvalReport) -> None:
    by_name = {a.attack: a for a in report.attacks}
    for name in ("flood: 1 actor, 1,000 votes", "scatter: 1 actor, every source"):
        assert by_name[name].heldout == report.before, name
        assert by_name[name].max_shift == 0.0
    assert by_name["sybil flood: 4 actors x 200 votes"].heldout == report.before
    for attack in report.attacks:
        assert attack.max_shift <= AdjustConfig().cap


def test_a_crowd_of_sybils_moves_scores_by_at_most_the_cap(report: FeedbackEvalReport) -> None:
    crowd = {a.actors: a for a in report.attacks if a.attack.startswith("sybil")}
    # doc:bill leads doc:refund by 0.03 < 2 x cap: a big enough crowd can swap it, and that is the bounded risk.
    assert crowd[50].heldout.broken == 4
    assert 0.04 < crowd[50].max_shift <= 0.05


def test_building_blocks() -> None:
    snaps = snapshots()
    train, _ = split(snaps)

    votes = honest_feedback(train, users_per_case=5, noise=0.0)
    assert len(votes) == 5 * len(train)
    assert all(not v.helpful and v.correct_source == "doc:login" for v in votes if v.question.startswith("login"))
    assert all(v.helpful for v in votes if v.question.startswith("bill"))
    assert len(flood(snaps, "m", 1000)) == 1000 and {v.actor for v in flood(snaps, "m", 10)} == {"m"}
    assert score(snaps, None).recall_at_1 == 0.5
