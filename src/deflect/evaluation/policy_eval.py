"""Escalation-trigger evaluation: precision, recall and F1 per trigger on a labelled set (eval/policy/README.md).

A detector maps a case to the trigger reasons it fires; `rule_detector` is the one the product uses. Only trigger
reasons are scored: `low_confidence` and `no_relevant_source` depend on retrieval, not on the message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, Field

from deflect.domain.ports import Embedder
from deflect.evaluation.golden import load_labelled
from deflect.policy.rules import TriggerRules
from deflect.policy.semantic import PrototypeScorer
from deflect.policy.triggers import REPEAT_CONTACT, detect, trigger_reasons


class TriggerCase(BaseModel):
    id: str
    message: str
    conversation: list[str] = Field(default_factory=list, description="The customer's earlier messages, oldest first.")
    recent_similar_contacts: int = Field(0, ge=0)
    labels: list[str] = Field(default_factory=list, description="Trigger reasons that should fire; [] for none.")


Detector = Callable[[TriggerCase], Sequence[str]]


def load_trigger_cases(path: Path) -> list[TriggerCase]:
    """Read a labelled trigger set; a malformed line or a repeated id is an error naming the file and line."""
    return load_labelled(path, TriggerCase, "trigger case", "case")


def rule_detector(rules: TriggerRules, scores: Mapping[str, Mapping[str, float]] | None = None) -> Detector:
    """The product's detection; `scores` holds precomputed semantic scores by case id, if the rules use any."""

    def run(case: TriggerCase) -> list[str]:
        return detect(
            case.message,
            rules,
            conversation=case.conversation,
            recent_similar_contacts=case.recent_similar_contacts,
            semantic_scores=(scores or {}).get(case.id),
        )

    return run


def case_scores(cases: Sequence[TriggerCase], scorer: PrototypeScorer) -> dict[str, dict[str, float]]:
    """Semantic scores of every case's message, by case id."""
    return dict(zip([c.id for c in cases], scorer.score_many([c.message for c in cases]), strict=True))


def prototype_detector(rules: TriggerRules, scores: Mapping[str, Mapping[str, float]]) -> Detector:
    """Embedding prototypes alone (active or not) for the reasons that have them; repeat_contact as configured."""

    def run(case: TriggerCase) -> list[str]:
        case_scores = scores.get(case.id, {})
        fired = [r for r, rule in rules.semantic.items() if case_scores.get(r, -1.0) >= rule.threshold]
        if case.recent_similar_contacts >= rules.repeat_contact.min_recent_contacts:
            fired.append(REPEAT_CONTACT)
        return fired

    return run


def compare_methods(
    cases: Sequence[TriggerCase], rules: TriggerRules, scores: Mapping[str, Mapping[str, float]]
) -> dict[str, TriggerReport]:
    """Patterns alone, prototypes alone, either of them, and the policy as configured, on the same cases."""
    reasons = trigger_reasons(rules)
    every_semantic = {r: rule.model_copy(update={"active": True}) for r, rule in rules.semantic.items()}
    detectors: dict[str, Detector] = {
        "patterns": rule_detector(rules.model_copy(update={"semantic": {}})),
        "prototypes": prototype_detector(rules, scores),
        "either": rule_detector(rules.model_copy(update={"semantic": every_semantic}), scores),
        "policy": rule_detector(rules, scores),
    }
    return {name: evaluate_triggers(cases, detector, reasons) for name, detector in detectors.items()}


@dataclass(frozen=True)
class Counts:
    """Confusion counts for one reason (or summed over all of them)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def support(self) -> int:
        """Cases that carry the label."""
        return self.tp + self.fn

    @property
    def precision(self) -> float | None:
        """tp / (tp + fp); None when the detector never fired."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        """tp / (tp + fn); None when no case carries the label."""
        return self.tp / self.support if self.support else None

    @property
    def f1(self) -> float | None:
        """Harmonic mean of precision and recall; 0 when either is 0, None when either is undefined."""
        p, r = self.precision, self.recall
        if p is None or r is None:
            return None
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True)
class Miss:
    """A case where the detector's reasons differ from the labels."""

    id: str
    expected: tuple[str, ...]
    fired: tuple[str, ...]


@dataclass(frozen=True)
class TriggerReport:
    per_trigger: dict[str, Counts]
    overall: Counts  # micro-average: counts summed over every trigger
    cases: int
    negatives: int  # cases with no label
    false_alarms: int  # of those, cases where anything fired
    misses: list[Miss] = field(default_factory=list)

    @property
    def macro_f1(self) -> float | None:
        """Mean F1 over the triggers where it is defined."""
        values = [c.f1 for c in self.per_trigger.values() if c.f1 is not None]
        return sum(values) / len(values) if values else None


def evaluate_triggers(cases: Sequence[TriggerCase], detector: Detector, reasons: Sequence[str]) -> TriggerReport:
    """Score `detector` on `cases` for each of `reasons`; a label outside `reasons` gets its own row, not silence."""
    order = list(dict.fromkeys([*reasons, *sorted({lab for c in cases for lab in c.labels} - set(reasons))]))
    tallies = {reason: [0, 0, 0] for reason in order}
    negatives = false_alarms = 0
    misses = []
    for case in cases:
        expected = set(case.labels)
        fired = {r for r in detector(case) if r in tallies}
        for reason in order:
            if reason in fired and reason in expected:
                tallies[reason][0] += 1
            elif reason in fired:
                tallies[reason][1] += 1
            elif reason in expected:
                tallies[reason][2] += 1
        if not expected:
            negatives += 1
            false_alarms += bool(fired)
        if fired != expected:
            misses.append(Miss(case.id, tuple(sorted(expected)), tuple(sorted(fired))))
    per_trigger = {reason: Counts(*t) for reason, t in tallies.items()}
    overall = Counts(*(sum(c[i] for c in tallies.values()) for i in range(3)))
    return TriggerReport(per_trigger, overall, len(cases), negatives, false_alarms, misses)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def render_markdown(report: TriggerReport, title: str = "Escalation triggers") -> str:
    """A Markdown table: one row per trigger, then the micro-averaged overall row, then the false-alarm line."""
    lines = [
        f"## {title}",
        "",
        "| trigger | precision | recall | F1 | support | TP | FP | FN |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    rows = [*report.per_trigger.items(), ("**overall (micro)**", report.overall)]
    for name, c in rows:
        scores = f"{_fmt(c.precision)} | {_fmt(c.recall)} | {_fmt(c.f1)}"
        lines.append(f"| {name} | {scores} | {c.support} | {c.tp} | {c.fp} | {c.fn} |")
    lines += [
        "",
        f"Macro F1 {_fmt(report.macro_f1)} over {report.cases} cases; "
        f"{report.false_alarms} of {report.negatives} hard negatives fired a trigger.",
    ]
    return "\n".join(lines) + "\n"


def best_threshold(scores: Sequence[float], gold: Sequence[bool], min_precision: float | None = None) -> float | None:
    """The threshold (fire when score >= it) with the best F1 or, given `min_precision`, the best recall among
    thresholds at least that precise; the highest on ties; None when there is no positive or no threshold is precise
    enough.

    Returned halfway between the lowest score it fires on and the highest it does not, never on a case's score: the
    same message can score a little differently on another machine (e5's 4-bit engine differed in the fourth
    decimal between two CPUs, session 18), and a threshold on a case's score flips that case at the first wobble."""
    if not any(gold):
        return None
    ranked = sorted(set(scores), reverse=True)
    best_value, best = -1.0, None
    for threshold in ranked:
        fired = [s >= threshold for s in scores]
        counts = Counts(
            tp=sum(f and g for f, g in zip(fired, gold, strict=True)),
            fp=sum(f and not g for f, g in zip(fired, gold, strict=True)),
            fn=sum(g and not f for f, g in zip(fired, gold, strict=True)),
        )
        if min_precision is None:
            value = counts.f1 or 0.0
        elif (counts.precision or 0.0) >= min_precision:
            value = counts.recall or 0.0
        else:
            continue
        if value > best_value:
            best_value, best = value, threshold
    if best is None:
        return None
    below = next((s for s in ranked if s < best), None)  # ranked from the highest: the first under it is the next
    return best if below is None else (best + below) / 2


def tune_thresholds(
    cases: Sequence[TriggerCase], scores: Mapping[str, Mapping[str, float]], rules: TriggerRules, min_precision: float
) -> dict[str, float | None]:
    """Per semantic reason, the threshold the prototypes alone would need on `cases` (see best_threshold)."""
    return {
        reason: best_threshold(
            [scores[c.id].get(reason, -1.0) for c in cases], [reason in c.labels for c in cases], min_precision
        )
        for reason in rules.semantic
    }


def render_comparison(reports: Mapping[str, TriggerReport], title: str = "Detectors compared") -> str:
    """One Markdown table with precision / recall / F1 per trigger for each named detector."""
    names = list(reports)
    reasons = list(dict.fromkeys(r for report in reports.values() for r in report.per_trigger))
    lines = [
        f"## {title}",
        "",
        "| trigger | support | " + " | ".join(f"{n} P / R / F1" for n in names) + " |",
        "| --- | ---: | " + " | ".join("---" for _ in names) + " |",
    ]

    def cell(c: Counts) -> str:
        return f"{_fmt(c.precision)} / {_fmt(c.recall)} / {_fmt(c.f1)}"

    first = reports[names[0]]
    for reason in reasons:
        cells = [cell(reports[n].per_trigger.get(reason, Counts())) for n in names]
        support = first.per_trigger.get(reason, Counts()).support
        lines.append(f"| {reason} | {support} | " + " | ".join(cells) + " |")
    lines.append(
        f"| **overall (micro)** | {first.overall.support} | "
        + " | ".join(cell(reports[n].overall) for n in names)
        + " |"
    )
    lines.append(
        "| hard negatives that fired | "
        + f"{first.negatives} | "
        + " | ".join(str(reports[n].false_alarms) for n in names)
        + " |"
    )
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class PolicyEvaluation:
    """The configured policy on a labelled set and, with an embedder, every detection method compared."""

    policy: TriggerReport
    compared: dict[str, TriggerReport]  # empty without an embedder
    embedder: str | None  # the embedder's name; None means patterns only

    def markdown(self, name: str) -> str:
        """Both tables as one Markdown document."""
        how = f"patterns and prototypes ({self.embedder})" if self.embedder else "patterns only (no embedder given)"
        text = render_markdown(self.policy, f"Escalation triggers on {name}: {how}")
        if self.compared:
            text += "\n" + render_comparison(self.compared, f"Detection methods compared on {name}")
        return text


def evaluate_policy(
    cases: Sequence[TriggerCase], rules: TriggerRules, embedder: Embedder | None = None
) -> PolicyEvaluation:
    """Run the triggers as configured; without an embedder the semantic rules cannot run and only patterns count."""
    reasons = trigger_reasons(rules)
    if embedder is None:
        return PolicyEvaluation(evaluate_triggers(cases, rule_detector(rules), reasons), {}, None)
    scores = case_scores(cases, PrototypeScorer.from_triggers(embedder, rules, include_inactive=True))
    compared = compare_methods(cases, rules, scores)
    return PolicyEvaluation(compared["policy"], compared, embedder.name)
