"""Measured loop closure: do resolutions stop the next customer with the same problem from escalating?

For every thread held out of the KB: its first paraphrase must escalate; the escalation is claimed and resolved
with the thread's answer (through DeflectService.resolve_escalation, as a human would); the remaining paraphrases
must now be answered citing the new `esc:` source. False closures: questions of other threads (indexed ones and
held-out ones not yet resolved are re-asked at the end) that are answered citing a new source that is not theirs.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deflect.config import Settings
from deflect.domain.models import Audience, Decision
from deflect.domain.ports import Embedder
from deflect.evaluation.datasets import ADAPTERS, load_dataset
from deflect.evaluation.golden import GoldenCase, load_golden
from deflect.evaluation.metrics import percentile
from deflect.evaluation.runner import Progress, prepare
from deflect.service import DeflectService


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


@dataclass(frozen=True)
class Thread:
    """One problem: the question that must escalate, the resolution a human gives, the later askers."""

    id: str
    first: str
    first_audience: Audience
    resolution: str
    later: list[GoldenCase]


def run_loop(
    service: DeflectService,
    threads: Sequence[Thread],
    everyone: Sequence[tuple[GoldenCase, str]],
    progress: Progress | None = None,
) -> LoopResult:
    """Escalate, resolve and re-ask every thread; then re-ask everyone (case, thread id) for false closures."""
    result = LoopResult(threads=len(threads))
    new_sources: dict[str, str] = {}  # source id -> thread it came from
    for i, thread in enumerate(threads, start=1):
        first = service.ask(thread.first, thread.first_audience)
        record: dict[str, Any] = {"thread": thread.id, "first": first.decision.value, "reasons": first.reasons}
        if first.decision is Decision.ESCALATE and first.escalation_id:
            result.first_escalated += 1
            service.desk.act(first.escalation_id, "claim", "eval")
            service.desk.act(first.escalation_id, "start", "eval")
            _, sources, ms = service.resolve_escalation(first.escalation_id, "eval", thread.resolution)
            if ms is not None:  # None: the resolution could not be indexed yet (it is retried); nothing to time
                result.searchable_ms.append(ms)
            new_sources.update(dict.fromkeys(sources, thread.id))
            closed = 0
            for case in thread.later:
                r = service.ask(case.question, case.audience)
                if r.decision is Decision.ANSWER and {c.source_id for c in r.citations} & set(sources):
                    closed += 1
            result.later_questions += len(thread.later)
            result.closed += closed
            record.update(closed=closed, later=len(thread.later), searchable_ms=ms)
        result.per_thread.append(record)
        if progress:
            progress(i, len(threads))
    for case, thread_id in everyone:
        r = service.ask(case.question, case.audience)
        wrong = [c.source_id for c in r.citations if new_sources.get(c.source_id, thread_id) != thread_id]
        result.checked_for_false_closure += 1
        if r.decision is Decision.ANSWER and wrong:
            result.false_closures += 1
    return result


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
    rows = {str(r[adapter.id_field]): r for r in _rows(dataset)}
    split = load_dataset(dataset, adapter, holdout_fraction)
    everyone = [(case, _thread_of(case)) for case in split.cases]
    held: dict[str, list[GoldenCase]] = defaultdict(list)
    for case, thread in everyone:
        if thread in split.held_out:
            held[thread].append(case)
    threads = [
        Thread(t, cases[0].question, cases[0].audience, "\n\n".join(rows[t][adapter.answers_field]), cases[1:])
        for t, cases in sorted(held.items())
    ]
    return _finish(run_loop(setup.service, threads, everyone, progress), out_dir)


def closure_eval_kb(
    settings: Settings,
    embedder: Embedder,
    golden: Path,
    out_dir: Path | None = None,
    progress: Progress | None = None,
) -> LoopResult:
    """The loop on the sample KB: escalations that golden cases need are taken out of a copy of the KB; each one's
    own question must escalate, its own resolution is given, and the golden cases expecting it are re-asked."""
    cases = load_golden(golden)
    wanted = {sid[4:] for c in cases if not c.should_escalate for sid in c.expected_sources if sid.startswith("esc:")}
    removed: dict[str, dict[str, Any]] = {}
    # The trimmed KB is only read by prepare, which copies it into the setup's own temporary work folder.
    with tempfile.TemporaryDirectory(prefix="deflect-loop-") as work:
        kb = shutil.copytree(settings.kb_dir, Path(work) / "kb")
        for path in sorted((kb / "escalations").glob("*.jsonl")):
            kept = []
            for line in path.read_text(encoding="utf-8").splitlines():
                record = json.loads(line) if line.strip() else None
                if record is not None and str(record.get("id")) in wanted:
                    removed[str(record["id"])] = record
                elif line.strip():
                    kept.append(line)
            path.write_text("".join(k + "\n" for k in kept), encoding="utf-8")
        setup = prepare(settings, embedder, kb=kb)
    threads = []
    owner: dict[str, str] = {}
    for esc_id, record in sorted(removed.items()):
        later = [c for c in cases if f"esc:{esc_id}" in c.expected_sources and not c.should_escalate]
        # Only cases this escalation alone answers measure closure; others are still answered by articles.
        later = [c for c in later if all(s == f"esc:{esc_id}" or s[4:] in removed for s in c.expected_sources)]
        audience = Audience.AGENT if record.get("audience", "internal") == "internal" else Audience.CUSTOMER
        threads.append(Thread(esc_id, str(record["question"]), audience, str(record["resolution"]), later))
        for c in later:
            owner.setdefault(c.id, esc_id)
    everyone = [(c, owner.get(c.id, "kb")) for c in cases]
    return _finish(run_loop(setup.service, threads, everyone, progress), out_dir)


def _thread_of(case: GoldenCase) -> str:
    return next(t[7:] for t in case.tags if t.startswith("thread:"))


def _finish(result: LoopResult, out_dir: Path | None) -> LoopResult:
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "loop.json").write_text(
            json.dumps({"summary": result.summary(), "threads": result.per_thread}, indent=2) + "\n", encoding="utf-8"
        )
    return result


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
