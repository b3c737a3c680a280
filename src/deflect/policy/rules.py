"""The configured escalation triggers as validated, immutable models (config/policy.yaml, read by the loader).

Every pattern is a Python regular expression, compiled case-insensitively when the rules are built, so a bad
pattern is a configuration error at start-up rather than a surprise on the first question. Unknown keys are
refused: a misspelt setting must not silently turn a trigger off.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator


def _compile(value: object) -> object:
    """Compile a pattern string case-insensitively; anything else is left for pydantic to refuse."""
    if not isinstance(value, str):
        return value
    try:
        return re.compile(value, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"bad regular expression {value!r}: {exc}") from None


Regex = Annotated[re.Pattern[str], BeforeValidator(_compile)]


def _topic_names(topics: dict[str, PatternRule]) -> dict[str, PatternRule]:
    for name in topics:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise ValueError(f"risk topic name {name!r} must be lower_snake_case (it becomes risk_topic:{name})")
    return topics


class _Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PatternRule(_Rule):
    """Fires when any pattern matches the text left after the `ignore` phrases are blanked out."""

    description: str = ""
    patterns: tuple[Regex, ...] = ()
    # Look-alike phrases removed before matching ("scroll down", "legal name"), so they cannot fire a pattern.
    ignore: tuple[Regex, ...] = ()


class ShoutingRule(_Rule):
    """ALL CAPS shouting: a run of consecutive upper-case words, acronyms excepted."""

    min_words: int = Field(3, ge=1, description="Consecutive all-caps words (of 2+ letters) that count as shouting.")
    acronyms: frozenset[str] = Field(
        default_factory=frozenset, description="Upper-case words that are names, not shouting (API, SSO, ...)."
    )
    # Pasted upper-case text that is not shouting ("INTERNAL SERVER ERROR"), blanked out before counting.
    ignore: tuple[Regex, ...] = ()


class FrustrationRule(_Rule):
    """Frustration: a strong signal in the message, or negative sentiment repeated across the conversation."""

    strong: PatternRule = PatternRule()
    negative: PatternRule = PatternRule()
    shouting: ShoutingRule = ShoutingRule()
    min_negative_messages: int = Field(2, ge=1, description="Negative messages in the window that fire the trigger.")
    window_messages: int = Field(4, ge=1, description="The current message and the ones before it that are read.")


class RepeatContactRule(_Rule):
    """The same customer back with the same problem; the service counts the earlier contacts."""

    min_recent_contacts: int = Field(1, ge=1, description="Earlier similar contacts in the window that fire.")
    # Read by the service when it counts recent similar contacts; the policy only compares the count.
    window_days: float = Field(7.0, gt=0)
    min_similarity: float = Field(0.8, ge=-1.0, le=1.0)


class SemanticRule(_Rule):
    """An embedding-prototype detector: fires when the precomputed score reaches the threshold."""

    threshold: float = Field(ge=-1.0, le=1.0)
    prototypes: tuple[str, ...] = Field(min_length=1)
    # A message that matches one of these is a routine request on the topic and nothing more ("I forgot my
    # password"): its embedding still sits near the prototypes ("my account was hacked", 0.65), so they must not
    # fire on it. Only the prototypes are vetoed; the topic's patterns still read the message.
    veto: tuple[Regex, ...] = ()
    # False keeps a measured rule out of decisions while the evaluation can still compare it.
    active: bool = True


def tuned_for(embedder_name: str, model: str) -> bool:
    """Whether an embedder is the model thresholds were tuned with (`minilm` matches `minilm:<dir>`)."""
    return embedder_name == model or embedder_name.startswith(model + ":")


class SemanticVariant(_Rule):
    """The semantic rules as tuned for another embedder: its thresholds (a reason without one is off with that model)
    and the phrases it adds to each reason's prototypes (e.g. in other languages, for a multilingual model)."""

    thresholds: dict[str, Annotated[float, Field(ge=-1.0, le=1.0)]] = Field(min_length=1)
    prototypes: dict[str, tuple[str, ...]] = Field(default_factory=dict)


class TriggerRules(_Rule):
    """Every escalation trigger. The default has no patterns: only a passed-in repeat count can fire."""

    risk_topics: Annotated[dict[str, PatternRule], AfterValidator(_topic_names)] = Field(default_factory=dict)
    human_requested: PatternRule = PatternRule()
    frustration: FrustrationRule = FrustrationRule()
    repeat_contact: RepeatContactRule = RepeatContactRule()
    # Keyed by reason code (e.g. "risk_topic:outage"); fires alongside that trigger's patterns.
    semantic: dict[str, SemanticRule] = Field(default_factory=dict)
    # The embedder the semantic thresholds were tuned with (an Embedder.name, or its part before ":", such as
    # `minilm`): cosines from another model are on another scale, so its scores are not used.
    semantic_model: str = ""
    # The same rules tuned for other embedders, keyed like `semantic_model` (`for_model` picks one).
    semantic_variants: dict[str, SemanticVariant] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _semantic_reasons_exist(self) -> TriggerRules:
        if self.semantic and not self.semantic_model:
            raise ValueError("semantic rules need `semantic_model`: the embedder their thresholds were tuned with")
        known = {f"risk_topic:{name}" for name in self.risk_topics} | {"human_requested", "frustration"}
        unknown = sorted(set(self.semantic) - known)
        if unknown:
            raise ValueError(f"semantic rules for unknown reasons {unknown}; known: {sorted(known)}")
        for model, variant in self.semantic_variants.items():
            stray = sorted((set(variant.thresholds) | set(variant.prototypes)) - set(self.semantic))
            if stray:
                raise ValueError(f"semantic_variants.{model} names reasons with no semantic rule: {stray}")
        return self

    def for_model(self, embedder_name: str) -> TriggerRules:
        """These rules as tuned for `embedder_name` (a model name or alias): the variant's thresholds and added
        phrases when there is one; as they are otherwise (the scorer then judges whether the model fits)."""
        model = next((m for m in self.semantic_variants if tuned_for(embedder_name, m)), None)
        if model is None or tuned_for(embedder_name, self.semantic_model):
            return self
        variant = self.semantic_variants[model]
        semantic = {
            reason: rule.model_copy(
                update={
                    "threshold": variant.thresholds.get(reason, rule.threshold),
                    "prototypes": (*rule.prototypes, *variant.prototypes.get(reason, ())),
                    "active": rule.active and reason in variant.thresholds,
                }
            )
            for reason, rule in self.semantic.items()
        }
        return self.model_copy(update={"semantic": semantic, "semantic_model": model})


class PolicyConfig(_Rule):
    """The whole of config/policy.yaml."""

    version: str = Field(min_length=1, description="Recorded with every decision, so audits know which rules ran.")
    triggers: TriggerRules = TriggerRules()

    def for_model(self, embedder_name: str) -> PolicyConfig:
        """The policy with its triggers as tuned for `embedder_name`; a variant's name joins the version
        (`policy-2026.07+e5`), so an audit knows which thresholds decided."""
        triggers = self.triggers.for_model(embedder_name)
        if triggers is self.triggers:
            return self
        return self.model_copy(update={"triggers": triggers, "version": f"{self.version}+{triggers.semantic_model}"})
