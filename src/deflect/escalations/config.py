"""The escalation configuration (config/escalation.yaml): priority and tier matrices, SLA clocks, message templates.

The YAML file is the single source of the defaults; these models only validate it. Loading is the one piece of
I/O in the escalations package.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from deflect.domain.escalation import Priority, Tier
from deflect.errors import ConfigError

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_UNIT_SECONDS = (86_400, 3_600, 60, 1)

CUSTOMER_PLACEHOLDERS = frozenset({"reference", "response_time", "acknowledge_by", "opening"})
# Which opening sentence the customer sees, by the first kind of reason that fired, in this order.
OPENING_ORDER = ("human_requested", "risk_topic", "frustration", "repeat_contact")
ENGINEERING_PLACEHOLDERS = frozenset(
    {
        "id",
        "time",
        "priority",
        "tier",
        "state",
        "customer",
        "audience",
        "impact",
        "reasons",
        "sla",
        "question",
        "conversation",
        "evidence",
        "checklist",
        "draft",
        "policy_version",
    }
)
DRAFT_PLACEHOLDERS = frozenset({"draft_answer"})


def parse_duration(value: object) -> object:
    """`15m`, `2h`, `1h30m`, `3d`, `90s` or a number of seconds, as whole seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or text such as 15m, 2h, 1h30m")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        match = _DURATION.fullmatch(text)
        if text and match:
            return sum(int(part or 0) * unit for part, unit in zip(match.groups(), _UNIT_SECONDS, strict=True))
    raise ValueError(f"{value!r} is not a duration such as 15m, 2h, 1h30m, 3d or 90s")


Seconds = Annotated[int, BeforeValidator(parse_duration), Field(gt=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _lower(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(v.strip().lower() for v in values)


def _phrase_regex(phrase: str) -> str:
    """A phrase matched on word boundaries, where a hyphen and whitespace are interchangeable."""
    parts = [re.escape(p) for p in re.split(r"[-\s]+", phrase.strip()) if p]
    return r"(?<!\w)" + r"[-\s]+".join(parts) + r"(?!\w)"


class Rule(_Strict):
    """One row of a matrix: matches when every condition it names holds (see the YAML header)."""

    name: str = Field(min_length=1)
    reasons: tuple[str, ...] = ()
    only_reasons: tuple[str, ...] = ()
    risk_topics: tuple[str, ...] = ()
    customer_tiers: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    _text: re.Pattern[str] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _compile(self) -> Rule:
        if not self._conditions():
            raise ValueError(f"rule {self.name!r} names no condition")
        if any(not w.strip() for w in self.words):
            raise ValueError(f"rule {self.name!r} has an empty word")
        alternatives = [_phrase_regex(w) for w in self.words]
        for pattern in self.patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(
                    f"rule {self.name!r}: pattern {pattern!r} is not a valid regular expression: {exc}"
                ) from exc
            alternatives.append(f"(?:{pattern})")
        if alternatives:
            self._text = re.compile("|".join(alternatives), re.IGNORECASE)
        return self

    def _conditions(self) -> list[object]:
        return [
            c
            for c in (
                self.reasons,
                self.only_reasons,
                self.risk_topics,
                self.customer_tiers,
                self.words + self.patterns,
            )
            if c
        ]

    @property
    def text_pattern(self) -> re.Pattern[str] | None:
        """Any of the rule's words or patterns, compiled once; None when the rule has no wording condition."""
        return self._text

    @property
    def tiers(self) -> frozenset[str]:
        """Customer tiers, lower-cased."""
        return frozenset(_lower(self.customer_tiers))


class TierRule(Rule):
    """A tier-matrix row, which may also condition on the priority already assigned."""

    priorities: tuple[Priority, ...] = ()

    def _conditions(self) -> list[object]:
        return [*super()._conditions(), *([self.priorities] if self.priorities else [])]


class PriorityMatrix(_Strict):
    """Rows per priority; the highest matching priority wins, `default` when none matches."""

    default: Priority
    critical: tuple[Rule, ...] = ()
    high: tuple[Rule, ...] = ()
    medium: tuple[Rule, ...] = ()
    low: tuple[Rule, ...] = ()

    def rows(self) -> list[tuple[Priority, Rule]]:
        """Every row with the priority it assigns."""
        return [(p, rule) for p in Priority for rule in getattr(self, p.value)]


class TierMatrix(_Strict):
    """Rows per tier; the highest matching tier wins, `default` when none matches."""

    default: Tier
    on_sla_breach: Tier
    tier1: tuple[TierRule, ...] = ()
    tier2: tuple[TierRule, ...] = ()
    tier3: tuple[TierRule, ...] = ()
    management: tuple[TierRule, ...] = ()

    def rows(self) -> list[tuple[Tier, TierRule]]:
        """Every row with the tier it assigns."""
        return [(t, rule) for t in Tier for rule in getattr(self, t.value)]


class SlaWindow(_Strict):
    """How long until the first human acknowledgement and until resolution, in seconds."""

    acknowledge: Seconds
    resolve: Seconds

    @model_validator(mode="after")
    def _acknowledge_first(self) -> SlaWindow:
        if self.acknowledge > self.resolve:
            raise ValueError("the acknowledge window cannot be longer than the resolve window")
        return self


class SlaPolicy(_Strict):
    """SLA windows per priority, overridable per customer tier, and when to warn."""

    warning_lead: float = Field(gt=0.0, lt=1.0, description="Warn when this fraction of a window remains.")
    clocks: dict[Priority, SlaWindow]
    customer_tiers: dict[str, dict[Priority, SlaWindow]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _every_priority_has_a_clock(self) -> SlaPolicy:
        missing = [p.value for p in Priority if p not in self.clocks]
        if missing:
            raise ValueError(f"sla.clocks has no window for {', '.join(missing)}")
        lowered = [t.strip().lower() for t in self.customer_tiers]
        if len(set(lowered)) != len(lowered):
            raise ValueError("sla.customer_tiers lists a tier twice (tiers are case-insensitive)")
        return self

    def window(self, priority: Priority, customer_tier: str | None) -> SlaWindow:
        """The window for this priority, the customer tier's override when it has one."""
        if customer_tier:
            wanted = customer_tier.strip().lower()
            for tier, overrides in self.customer_tiers.items():
                if tier.strip().lower() == wanted and priority in overrides:
                    return overrides[priority]
        return self.clocks[priority]


def _template(text: str, allowed: frozenset[str], where: str) -> str:
    template = Template(text)
    if not template.is_valid():
        raise ValueError(f"{where}: a `$` that is not a placeholder (write `$$` for a dollar sign)")
    unknown = sorted(set(template.get_identifiers()) - allowed)
    if unknown:
        raise ValueError(f"{where}: unknown placeholder(s) {', '.join('$' + u for u in unknown)}")
    return text


class MessageTemplates(_Strict):
    """string.Template texts for the customer hand-off and the engineering briefing."""

    missing_marker: str = Field(min_length=1)
    customer: str = Field(min_length=1)
    # Instead of `customer` for an anonymous widget visitor: nobody can reply in a chat the visitor closes, so it
    # must not say "they will ask you here" (the widget offers an optional email field under it). Same placeholders.
    customer_anonymous: str = Field(
        "$opening, together with what you've told me so far, so you won't need to repeat yourself.\n\n"
        "What happens next: a member of the team will review it $response_time. You are not signed in, so they "
        "cannot reply in this chat: leave your email address below if you would like an answer by email, or quote "
        "your reference when you contact us.\n\nYour reference: $reference",
        min_length=1,
    )
    engineering: str = Field(min_length=1)
    engineering_draft: str = Field(min_length=1)
    # Opening sentence by reason kind (human_requested, risk_topic, frustration, repeat_contact) and `default`.
    openings: dict[str, str] = Field(default_factory=dict)
    # The customer message's last paragraph when pages are suggested (deflect.escalations.suggest); the pages
    # themselves travel as the reply's `suggested` list, which each client renders under it (plain text, no
    # placeholders: it is not a template).
    suggestions: str = Field("While you wait, these pages may help:", min_length=1)
    # Instead of `suggestions` when the first page comes with an excerpt quoted from it (Suggestion.excerpt): it
    # must say the quote is from the docs, may answer the question, and that a person still follows up unless the
    # customer says it solved it (the escalation stands). Plain text, no placeholders.
    suggestions_excerpt: str = Field(
        "While you wait, these pages may help. Under the first one is a passage quoted from our documentation: it "
        "may already answer your question. If it solves your problem, tell us it solved it and we will close your "
        "request; otherwise a member of the team will still reply as promised.",
        min_length=1,
    )
    # What the customer reads after withdrawing their escalation because a page solved it; $reference only.
    self_served: str = Field(
        "Glad that helped. We have closed request $reference, so nobody will contact you about it. "
        "If the problem comes back, just ask again.",
        min_length=1,
    )

    @model_validator(mode="after")
    def _placeholders_known(self) -> MessageTemplates:
        unknown = sorted(set(self.openings) - {*OPENING_ORDER, "default"})
        if unknown:
            raise ValueError(f"messages.openings has unknown keys {unknown}; known: {[*OPENING_ORDER, 'default']}")
        _template(self.customer, CUSTOMER_PLACEHOLDERS, "messages.customer")
        _template(self.customer_anonymous, CUSTOMER_PLACEHOLDERS, "messages.customer_anonymous")
        _template(self.engineering, ENGINEERING_PLACEHOLDERS, "messages.engineering")
        _template(self.engineering_draft, DRAFT_PLACEHOLDERS, "messages.engineering_draft")
        _template(self.self_served, frozenset({"reference"}), "messages.self_served")
        return self


class EscalationConfig(_Strict):
    """Everything config/escalation.yaml holds."""

    version: str = Field(min_length=1)
    priority: PriorityMatrix
    tier: TierMatrix
    sla: SlaPolicy
    messages: MessageTemplates


def _problems(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(part) for part in err["loc"]) or "(top level)", "problem": err["msg"]}
        for err in exc.errors()
    ]


def load_escalation_config(path: Path) -> EscalationConfig:
    """Read and validate the escalation YAML; any problem is a ConfigError naming the file and the field."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"escalation config {path} not found (setting DEFLECT_ESCALATION_FILE)") from None
    except OSError as exc:
        raise ConfigError(f"escalation config {path} cannot be read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"escalation config {where} is not valid YAML: {problem}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"escalation config {path} must be a mapping with version, priority, tier, sla, messages")
    try:
        return EscalationConfig.model_validate(raw)
    except ValidationError as exc:
        problems = _problems(exc)
        summary = "; ".join(f"{p['field']}: {p['problem']}" for p in problems)
        raise ConfigError(f"escalation config {path} is invalid: {summary}", problems) from None
