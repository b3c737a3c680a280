"""PII scrubbing evaluation: precision and recall per kind on a labelled set of snippets (eval/pii/README.md).

A finding is a true positive when a labelled span of the same kind overlaps it; a labelled span is found when a
finding of its kind overlaps it. Precision counts findings, recall counts labelled spans, so one card found as
two pieces is two true positives and one span found. `leaked` counts labelled spans that any letter or digit of
survives scrubbing, whatever kind the scrubber gave the findings around it: the measure that matters for privacy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, Field, model_validator

from deflect.evaluation.golden import load_labelled
from deflect.pii import Finding, PiiKind, find_pii, merge


class LabelledSpan(BaseModel):
    kind: PiiKind
    text: str = Field(min_length=1, description="The span as it appears; every occurrence in the snippet counts.")


class PiiSnippet(BaseModel):
    id: str
    text: str
    names: list[str] = Field(default_factory=list, description="Customer names the caller passes to scrub().")
    spans: list[LabelledSpan] = Field(default_factory=list, description="Every PII span; [] for a hard negative.")

    @model_validator(mode="after")
    def _spans_occur(self) -> PiiSnippet:
        missing = [s.text for s in self.spans if s.text not in self.text]
        if missing:
            raise ValueError(f"span text not in the snippet: {missing}")
        return self


Detector = Callable[[PiiSnippet], Sequence[Finding]]


def scrubber(snippet: PiiSnippet) -> list[Finding]:
    """The product's detector: `find_pii` with the snippet's customer names."""
    return find_pii(snippet.text, snippet.names)


def load_snippets(path: Path) -> list[PiiSnippet]:
    """Read a labelled snippet set; a malformed line, a span not in its text or a repeated id names file and line."""
    return load_labelled(path, PiiSnippet, "PII snippet", "snippet")


def gold_spans(snippet: PiiSnippet) -> list[Finding]:
    """Every occurrence of every labelled span, sorted; overlapping occurrences (the surname inside a labelled full
    name) become one span, so a label repeated or nested counts once."""
    spans: set[Finding] = set()
    for label in snippet.spans:
        start = snippet.text.find(label.text)
        while start != -1:
            spans.add(Finding(start, start + len(label.text), label.kind))
            start = snippet.text.find(label.text, start + len(label.text))
    return merge(spans)


def _overlaps(a: Finding, b: Finding) -> bool:
    return a.start < b.end and b.start < a.end


def _covered(text: str, span: Finding, findings: Sequence[Finding]) -> bool:
    """Whether the findings together cover every letter and digit of `span` (a space left between two scrubbed
    parts of a name gives nothing away)."""
    return all(
        not text[i].isalnum() or any(f.start <= i < f.end for f in findings) for i in range(span.start, span.end)
    )


@dataclass(frozen=True)
class KindCounts:
    """Findings and labelled spans of one kind (or of all kinds summed)."""

    tp: int = 0  # findings that overlap a labelled span of their kind
    fp: int = 0  # findings that do not
    found: int = 0  # labelled spans overlapped by a finding of their kind
    missed: int = 0  # labelled spans that are not
    leaked: int = 0  # labelled spans not wholly covered by findings of any kind

    @property
    def support(self) -> int:
        """Labelled spans of this kind."""
        return self.found + self.missed

    @property
    def precision(self) -> float | None:
        """tp / findings; None when nothing of this kind was found."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        """found / labelled spans; None when no span of this kind is labelled."""
        return self.found / self.support if self.support else None

    def __add__(self, other: KindCounts) -> KindCounts:
        return KindCounts(
            self.tp + other.tp,
            self.fp + other.fp,
            self.found + other.found,
            self.missed + other.missed,
            self.leaked + other.leaked,
        )


@dataclass(frozen=True)
class Error:
    """A false positive (`fp`) or a missed labelled span (`missed`), with the text concerned."""

    id: str
    what: str
    kind: PiiKind
    text: str


@dataclass(frozen=True)
class PiiReport:
    per_kind: dict[PiiKind, KindCounts]
    overall: KindCounts  # micro-average: counts summed over every kind
    snippets: int
    negatives: int  # snippets with no labelled span
    false_alarms: int  # of those, snippets where anything was found
    errors: list[Error] = field(default_factory=list)


def evaluate_pii(snippets: Sequence[PiiSnippet], detector: Detector = scrubber) -> PiiReport:
    """Score `detector` on `snippets`, per kind and overall."""
    tallies = {kind: KindCounts() for kind in PiiKind}
    negatives = false_alarms = 0
    errors: list[Error] = []
    for snippet in snippets:
        gold = gold_spans(snippet)
        found = list(detector(snippet))
        for f in found:
            hit = any(g.kind == f.kind and _overlaps(g, f) for g in gold)
            tallies[f.kind] += KindCounts(tp=int(hit), fp=int(not hit))
            if not hit:
                errors.append(Error(snippet.id, "fp", f.kind, snippet.text[f.start : f.end]))
        for g in gold:
            hit = any(f.kind == g.kind and _overlaps(g, f) for f in found)
            leaked = not _covered(snippet.text, g, [f for f in found if _overlaps(g, f)])
            tallies[g.kind] += KindCounts(found=int(hit), missed=int(not hit), leaked=int(leaked))
            if not hit:
                errors.append(Error(snippet.id, "missed", g.kind, snippet.text[g.start : g.end]))
        if not gold:
            negatives += 1
            false_alarms += bool(found)
    overall = sum(tallies.values(), KindCounts())
    return PiiReport(tallies, overall, len(snippets), negatives, false_alarms, errors)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def render_markdown(report: PiiReport, title: str = "PII scrubbing") -> str:
    """A Markdown table: one row per kind, the micro-averaged overall row, then the hard-negative line."""
    lines = [
        f"## {title}",
        "",
        "| kind | precision | recall | support | TP | FP | found | missed | leaked |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    rows: list[tuple[str, KindCounts]] = [(kind.value, c) for kind, c in report.per_kind.items()]
    for name, c in [*rows, ("**overall (micro)**", report.overall)]:
        lines.append(
            f"| {name} | {_fmt(c.precision)} | {_fmt(c.recall)} | {c.support} | {c.tp} | {c.fp} | {c.found} "
            f"| {c.missed} | {c.leaked} |"
        )
    lines += [
        "",
        f"{report.snippets} snippets; {report.false_alarms} of {report.negatives} hard negatives had a finding.",
    ]
    return "\n".join(lines) + "\n"


def render_errors(report: PiiReport) -> str:
    """One line per false positive and missed span, for reading what went wrong."""
    return "".join(f"- {e.id}: {e.what} {e.kind.value} {e.text!r}\n" for e in report.errors)
