"""Loading config/policy.yaml: the shipped file is valid, and every way a file can be wrong is a clear ConfigError."""

from __future__ import annotations

from pathlib import Path

import pytest

from deflect.errors import ConfigError
from deflect.policy.loader import load_policy, parse_policy
from deflect.policy.rules import PolicyConfig


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_policy_configures_every_trigger(shipped: PolicyConfig) -> None:
    triggers = shipped.triggers

    assert shipped.version
    assert set(triggers.risk_topics) == {"billing_dispute", "legal", "security", "outage", "data_loss"}
    assert all(rule.patterns for rule in triggers.risk_topics.values())
    assert triggers.human_requested.patterns
    assert triggers.frustration.strong.patterns and triggers.frustration.negative.patterns
    assert all(rule.prototypes for rule in triggers.semantic.values())


VARIANTS = """
version: v1
triggers:
  semantic_model: minilm
  semantic:
    human_requested:
      threshold: 0.5
      prototypes: [let me talk to a person]
    frustration:
      threshold: 0.4
      prototypes: [this is ridiculous]
  semantic_variants:
    e5:
      thresholds: {human_requested: 0.9}
      prototypes: {human_requested: [quero falar com uma pessoa]}
"""


def test_a_models_variant_replaces_thresholds_adds_phrases_and_names_itself_in_the_version() -> None:
    policy = parse_policy(VARIANTS)
    tuned = policy.for_model("e5:multilingual-e5-small")

    assert tuned.version == "v1+e5" and tuned.triggers.semantic_model == "e5"
    human = tuned.triggers.semantic["human_requested"]
    assert human.threshold == 0.9 and human.prototypes == ("let me talk to a person", "quero falar com uma pessoa")
    assert human.active
    # A reason the variant gives no threshold was not tuned for that model: it stays measured but out of decisions.
    assert not tuned.triggers.semantic["frustration"].active
    assert policy.triggers.semantic["human_requested"].threshold == 0.5  # the policy itself is unchanged


@pytest.mark.parametrize("model", ["minilm", "minilm:/models/minilm", "mpnet", "e5x"])
def test_the_policys_own_model_or_one_without_a_variant_gets_the_policy_as_it_is(model: str) -> None:
    policy = parse_policy(VARIANTS)
    assert policy.for_model(model) is policy


def test_the_shipped_policy_has_an_e5_variant_for_every_semantic_rule(shipped: PolicyConfig) -> None:
    tuned = shipped.for_model("e5").triggers
    assert tuned.semantic_model == "e5"
    assert all(rule.active for rule in tuned.semantic.values())
    assert all(
        len(tuned.semantic[r].prototypes) > len(rule.prototypes) for r, rule in shipped.triggers.semantic.items()
    )


def test_a_minimal_file_gets_the_defaults(tmp_path: Path) -> None:
    config = load_policy(write(tmp_path, "version: test-1\n"))

    assert config.version == "test-1"
    assert config.triggers.risk_topics == {}
    assert config.triggers.repeat_contact.min_recent_contacts == 1


def test_patterns_are_compiled_case_insensitively(tmp_path: Path) -> None:
    text = "version: v\ntriggers:\n  risk_topics:\n    legal:\n      patterns: ['\\bsubpoena\\b']\n"

    rule = load_policy(write(tmp_path, text)).triggers.risk_topics["legal"]

    assert rule.patterns[0].search("A SUBPOENA arrived")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"policy file .*nope\.yaml does not exist"):
        load_policy(tmp_path / "nope.yaml")


def test_unreadable_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        load_policy(tmp_path)  # a directory


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "version: v\ntriggers:\n  risk_topics: [unclosed\n")

    with pytest.raises(ConfigError, match=r"policy\.yaml:\d+: not valid YAML"):
        load_policy(path)


@pytest.mark.parametrize("text", ["", "- a\n- list\n", "just words\n"], ids=["empty", "list", "scalar"])
def test_a_file_that_is_not_a_mapping(text: str) -> None:
    with pytest.raises(ConfigError, match="expected a mapping"):
        parse_policy(text, "p.yaml")


@pytest.mark.parametrize(
    ("text", "field", "problem"),
    [
        pytest.param("triggers: {}\n", "version", "Field required", id="no-version"),
        pytest.param(
            "version: v\ntriggers:\n  human_requested:\n    patterns: ['(unclosed']\n",
            "triggers.human_requested.patterns.0",
            "bad regular expression",
            id="bad-regex",
        ),
        pytest.param(
            "version: v\ntriggers:\n  human_requsted: {}\n",
            "triggers.human_requsted",
            "Extra inputs are not permitted",
            id="misspelt-key",
        ),
        pytest.param(
            "version: v\ntriggers:\n  risk_topics:\n    Billing Dispute: {}\n",
            "triggers.risk_topics",
            "lower_snake_case",
            id="bad-topic-name",
        ),
        pytest.param(
            "version: v\ntriggers:\n  repeat_contact:\n    min_recent_contacts: 0\n",
            "triggers.repeat_contact.min_recent_contacts",
            "greater than or equal to 1",
            id="threshold-out-of-range",
        ),
        pytest.param(
            "version: v\ntriggers:\n  semantic_model: minilm\n  semantic:\n"
            "    risk_topic:fraud:\n      threshold: 0.5\n      prototypes: [x]\n",
            "triggers",
            "unknown reasons ['risk_topic:fraud']",
            id="semantic-rule-for-unknown-reason",
        ),
        pytest.param(
            "version: v\ntriggers:\n  semantic:\n    human_requested:\n      threshold: 0.5\n      prototypes: [x]\n",
            "triggers",
            "semantic rules need `semantic_model`",
            id="semantic-rules-without-their-model",
        ),
        pytest.param(
            "version: v\ntriggers:\n  semantic_model: minilm\n  semantic:\n    human_requested:\n"
            "      threshold: 0.5\n      prototypes: [x]\n  semantic_variants:\n    e5:\n"
            "      thresholds: {frustration: 0.9}\n",
            "triggers",
            "semantic_variants.e5 names reasons with no semantic rule: ['frustration']",
            id="variant-for-a-reason-without-a-rule",
        ),
        pytest.param(
            "version: v\ntriggers:\n  semantic:\n    human_requested:\n      threshold: 0.5\n      prototypes: []\n",
            "triggers.semantic.human_requested.prototypes",
            "at least 1 item",
            id="semantic-rule-without-prototypes",
        ),
    ],
)
def test_invalid_policy_names_the_field_and_the_problem(text: str, field: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_policy(text, "p.yaml")

    error = caught.value
    assert error.code == "config_error"
    assert error.message.startswith("p.yaml: invalid policy: ")
    assert problem in error.message
    assert any(d["field"] == field and problem in d["problem"] for d in error.details), error.details
