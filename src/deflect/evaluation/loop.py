"""Measured loop closure: do resolutions stop the next customer with the same problem from escalating?

For every thread held out of the KB: its first paraphrase must escalate; the escalation is claimed and resolved
with the thread's answer (through DeflectService.resolve_escalation, as a human would); the remaining paraphrases
must now be answered citing the new `esc:` source. False closures: questions of other threads (indexed ones and
held-out ones not yet resolved are re-asked at the end) that are answered citing a new source that is not theirs.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deflect.config import Settings
from deflect.domain.models import Audience, Decision
from deflect.domain.ports import Embedder
from deflect.evaluation.datasets import ADAPTERS, load_dataset
from deflect.evaluation.metrics import percentile
from deflect.evaluation.runner import Progress, prepare


@dataclass
class LoopResult:
    threads: int = 0
    first_escalated: int = 0
    later_questions: int = 0
    closed: int = 0  # later paraphrases answered citing the new source
    false_closures: int = 0
    checked_for_false_closure: int = 0
    searchable_ms: list[float] = field(default_factory=list)
    per_thread: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "threads": self.threads,
            "first_paraphrase_escalated": self.first_escalated,
            "later_paraphrases": self.later_questions,
            "closure_rate": self.closed / self.later_questions if self.later_questions else None,
            "false_closures": self.false_closures,
            "false_closure_rate": (
                self.false_closures / self.checked_for_false_closure if self.checked_for_false_closure else None
            ),
            "checked_for_false_closure": self.checked_for_false_closure,
            "searchable_p50_ms": percentile(self.searchable_ms, 50),
            "searchable_p95_ms": percentile(self.searchable_ms, 95),
        }


def closure_eval(
    settings: Settings,
    embedder: Embedder,
    dataset: Path,
    holdout_fraction: float,
    out_dir: Path | None = None,
    progress: Progress | None = None,
) -> LoopResult:
    """Replay the loop on a StackFAQ-format dataset with `holdout_fraction` of threads left out of the KB."""
    adapter = ADAPTERS["stackfaq"]
    setup = prepare(settings, embedder, dataset=dataset, holdout_fraction=holdout_fraction)
    service = setup.service
    rows = {str(r[adapter.id_field]): r for r in _rows(dataset)}
    split = load_dataset(dataset, adapter, holdout_fraction)
    held = defaultdict(list)
    for case in split.cases:
        thread = next(t[7:] for t in case.tags if t.startswith("thread:"))
        if thread in split.held_out:
            held[thread].append(case)
    result = LoopResult(threads=len(held))
    new_sources: dict[str, str] = {}  # source id -> thread it came from
    for i, (thread, cases) in enumerate(sorted(held.items()), start=1):
        first = service.ask(cases[0].question, Audience.AGENT)
        record: dict[str, Any] = {"thread": thread, "first": first.decision.value, "reasons": first.reasons}
        if first.decision is Decision.ESCALATE and first.escalation_id:
            result.first_escalated += 1
            service.desk.act(first.escalation_id, "claim", "eval")
            service.desk.act(first.escalation_id, "start", "eval")
            answer = "\n\n".join(rows[thread][adapter.answers_field])
            _, sources, ms = service.resolve_escalation(first.escalation_id, "eval", answer)
            result.searchable_ms.append(ms)
            new_sources.update(dict.fromkeys(sources, thread))
            closed = 0
            for case in cases[1:]:
                r = service.ask(case.question, Audience.AGENT)
                cited = {c.source_id for c in r.citations}
                if r.decision is Decision.ANSWER and cited & set(sources):
                    closed += 1
            result.later_questions += len(cases) - 1
            result.closed += closed
            record.update(closed=closed, later=len(cases) - 1, searchable_ms=ms)
        result.per_thread.append(record)
        if progress:
            progress(i, len(held))
    # False closures: every question of the dataset, asked again now that all resolutions are knowledge.
    for case in split.cases:
        thread = next(t[7:] for t in case.tags if t.startswith("thread:"))
        r = service.ask(case.question, Audience.AGENT)
        wrong = [c.source_id for c in r.citations if c.source_id in new_sources and new_sources[c.source_id] != thread]
        result.checked_for_false_closure += 1
        if r.decision is Decision.ANSWER and wrong:
            result.false_closures += 1
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "loop.json").write_text(
            json.dumps({"summary": result.summary(), "threads": result.per_thread}, indent=2) + "\n", encoding="utf-8"
        )
    return result


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
