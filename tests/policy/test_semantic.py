"""PrototypeScorer with the deterministic hash embedder: highest prototype cosine per reason, no model loaded."""

from __future__ import annotations

import pytest

from deflect.policy.rules import SemanticRule, TriggerRules
from deflect.policy.semantic import PrototypeScorer, prototype_scores, tuned_for
from deflect.testing import HashEmbedder

RULES = {
    "risk_topic:outage": SemanticRule(threshold=0.5, prototypes=("service down everyone", "outage right now")),
    "human_requested": SemanticRule(threshold=0.5, prototypes=("talk to a person",)),
}


def test_the_score_is_the_best_prototype_cosine() -> None:
    scorer = PrototypeScorer(HashEmbedder(), RULES)

    scores = scorer.score("outage right now")

    assert set(scores) == set(RULES)
    assert scores["risk_topic:outage"] == pytest.approx(1.0)  # identical to its second prototype
    assert scores["human_requested"] < 0.5


def test_score_many_matches_score_one_by_one() -> None:
    scorer = PrototypeScorer(HashEmbedder(), RULES)
    messages = ["talk to a person please", "service down", "invoice pdf"]

    assert scorer.score_many(messages) == [scorer.score(m) for m in messages]


def test_score_vector_reuses_an_existing_embedding() -> None:
    embedder = HashEmbedder()
    scorer = PrototypeScorer(embedder, RULES)
    vector = embedder.embed(["talk to a person please"])[0]
    calls = embedder.calls

    assert scorer.score_vector(vector) == scorer.score("talk to a person please")
    assert embedder.calls == calls + 1  # only score() embedded


def test_prototypes_are_embedded_once() -> None:
    embedder = HashEmbedder()
    scorer = PrototypeScorer(embedder, RULES)

    scorer.score_many(["a", "b"])
    scorer.score("c")

    assert embedder.calls == 3  # prototypes, then one batch per call


def test_no_semantic_rules_means_no_scores_and_no_embedding() -> None:
    embedder = HashEmbedder()
    scorer = PrototypeScorer(embedder, {})

    assert scorer.score_many(["anything", "else"]) == [{}, {}]
    assert embedder.calls == 1  # the (empty) prototype batch only


def test_from_triggers_leaves_inactive_rules_out_unless_asked() -> None:
    triggers = TriggerRules(
        semantic_model="hash-256",
        semantic={
            "human_requested": RULES["human_requested"],
            "frustration": SemanticRule(threshold=0.3, prototypes=("this is useless",), active=False),
        },
    )

    assert set(PrototypeScorer.from_triggers(HashEmbedder(), triggers).score("x")) == {"human_requested"}
    everything = PrototypeScorer.from_triggers(HashEmbedder(), triggers, include_inactive=True).score("x")
    assert set(everything) == {"human_requested", "frustration"}


def test_another_embedder_scores_nothing_so_only_patterns_run(caplog: pytest.LogCaptureFixture) -> None:
    triggers = TriggerRules(semantic_model="minilm", semantic={"human_requested": RULES["human_requested"]})
    embedder = HashEmbedder()

    scorer = PrototypeScorer.from_triggers(embedder, triggers)

    assert scorer.score("talk to a person") == {}
    assert "tuned for 'minilm', not for embedder 'hash-256'" in caplog.text


@pytest.mark.parametrize(
    ("name", "model", "expected"),
    [
        ("minilm:model", "minilm", True),
        ("minilm", "minilm", True),
        ("minilm2:x", "minilm", False),
        ("hash-256", "minilm", False),
    ],
)
def test_tuned_for(name: str, model: str, expected: bool) -> None:
    assert tuned_for(name, model) is expected


def test_semantic_rules_must_name_their_model() -> None:
    with pytest.raises(ValueError, match="semantic_model"):
        TriggerRules(semantic={"human_requested": RULES["human_requested"]})


def test_prototype_scores_by_hand() -> None:
    prototypes = {"a": [[1.0, 0.0], [0.6, 0.8]], "b": [[0.0, 1.0]], "none": []}

    scores = prototype_scores([0.6, 0.8], prototypes)

    assert scores["a"] == pytest.approx(1.0)
    assert scores["b"] == pytest.approx(0.8)
    assert scores["none"] == -1.0
