"""deflect.wiring.build_trigger_embedder: the semantic escalation triggers keep scoring with the model their
thresholds were tuned for when retrieval runs another one. The retrieval side is the hash embedder renamed as the
configured model would name itself; the triggers' side is the real packaged MiniLM (from its PyPI package)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import FAKE_CALIBRATION
from deflect.config import Settings
from deflect.domain.models import Audience, Decision
from deflect.domain.ports import Embedder
from deflect.errors import ConfigError
from deflect.offline import offline_environment
from deflect.policy.loader import load_policy
from deflect.testing import HashEmbedder, InMemoryIndex
from deflect.testing.store import InMemoryStore
from deflect.wiring import assemble, build_embedder, build_trigger_embedder

# A trigger only the prototype can catch: no pattern, a phrase no pattern in config/policy.yaml matches.
POLICY = """
version: test-1
triggers:
  semantic_model: minilm
  semantic:
    human_requested:
      threshold: 0.8
      prototypes:
        - could a colleague of yours take this over from here
"""
ASKED = "Could a colleague of yours take over from here?"


def retrieval_model(name: str) -> HashEmbedder:
    """The hash embedder, named as a sentence-transformers model `name` names itself (`alias:folder`)."""
    embedder = HashEmbedder()
    embedder.name = f"{name}:{name}-folder"
    return embedder


@pytest.fixture
def policy_settings(settings: Settings, tmp_path: Path) -> Settings:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    return settings.model_copy(update={"policy_file": policy, "embedding_model": "mpnet"})


def test_the_retrieval_model_scores_the_triggers_when_they_were_tuned_for_it(settings: Settings) -> None:
    retrieval = retrieval_model("minilm")
    assert build_trigger_embedder(settings, retrieval) is retrieval  # one question encoding serves both


def test_a_test_embedder_is_left_to_the_scorers_own_fallback(policy_settings: Settings) -> None:
    fake = HashEmbedder()  # not the configured model: nothing is loaded beside it
    assert build_trigger_embedder(policy_settings, fake) is fake


def test_no_semantic_rules_need_no_model(policy_settings: Settings, tmp_path: Path) -> None:
    policy = tmp_path / "patterns-only.yaml"
    policy.write_text("version: test-1\ntriggers: {}\n", encoding="utf-8")
    settings = policy_settings.model_copy(update={"policy_file": policy})
    assert build_trigger_embedder(settings, retrieval_model("mpnet")) is None


def test_another_retrieval_model_gets_the_triggers_model_beside_it(policy_settings: Settings, kb: Path) -> None:
    retrieval = retrieval_model("mpnet")
    # As every entry point does before loading a model: the hub library reads these once, when first imported, and
    # a model loaded here first would leave progress bars on for the CLI tests that follow (tests/index/test_embedder).
    offline_environment()
    triggers = build_trigger_embedder(policy_settings, retrieval)
    assert triggers is not None and triggers.name.startswith("minilm:")

    def ask(trigger_embedder: Embedder | None) -> tuple[Decision, list[str]]:
        service = assemble(
            policy_settings,
            InMemoryIndex(),
            retrieval,
            calibration=FAKE_CALIBRATION,
            store=InMemoryStore(),
            trigger_embedder=trigger_embedder,
        )
        service.ingest([kb], kb)
        result = service.ask(ASKED, Audience.CUSTOMER)
        return result.decision, result.reasons

    assert load_policy(policy_settings.policy_file).triggers.semantic  # the rule under test is the prototype
    decision, reasons = ask(triggers)
    assert decision is Decision.ESCALATE and "human_requested" in reasons
    # Without it (as before this change) the rule is off for this model and the request goes unseen.
    assert "human_requested" not in ask(None)[1]


def test_a_policy_without_an_e5_variant_keeps_minilm_beside_e5(policy_settings: Settings) -> None:
    settings = policy_settings.model_copy(update={"embedding_model": "e5"})
    offline_environment()
    retrieval = build_embedder(settings)
    assert retrieval.name.startswith("e5:")
    triggers = build_trigger_embedder(settings, retrieval)
    assert triggers is not None and triggers.name.startswith("minilm:")


def test_the_shipped_policy_scores_its_triggers_with_e5_itself_in_portuguese_too(settings: Settings, kb: Path) -> None:
    # config/policy.yaml has a variant for e5 (semantic_variants): thresholds tuned with it and Portuguese phrases.
    # The retrieval model scores them (no MiniLM beside it), and a Portuguese request for a person, which no pattern
    # and no MiniLM prototype reads, is handed over. The decision records which thresholds decided.
    settings = settings.model_copy(update={"embedding_model": "e5"})
    offline_environment()
    retrieval = build_embedder(settings)
    assert build_trigger_embedder(settings, retrieval) is retrieval
    service = assemble(settings, InMemoryIndex(), retrieval, calibration=FAKE_CALIBRATION, store=InMemoryStore())
    service.ingest([kb], kb)
    result = service.ask("Quero falar com uma pessoa, não com um robô.", Audience.CUSTOMER)
    assert result.decision is Decision.ESCALATE and "human_requested" in result.reasons
    assert service.rules.version.endswith("+e5")
    assert "human_requested" not in service.ask("Como descarrego a minha fatura em PDF?", Audience.CUSTOMER).reasons


def test_an_unknown_embedding_model_is_refused_naming_every_packaged_alias(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="'nonsense' is neither a packaged alias") as caught:
        build_embedder(settings.model_copy(update={"embedding_model": "nonsense"}))

    named = caught.value.message.split("(", 1)[1].split(")", 1)[0].split(", ")
    assert sorted(named) == ["e5", "minilm", "mpnet"]  # the documented DEFLECT_EMBEDDING_MODEL aliases
