"""Dataset adapters: turn a public Q&A dataset into a throwaway KB (resolved escalations) plus golden cases.

An adapter is data: which fields hold the thread id, the question, the answers and the paraphrases.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from deflect.domain.models import Audience
from deflect.errors import ConfigError
from deflect.evaluation.golden import GoldenCase


@dataclass(frozen=True)
class Adapter:
    name: str
    id_field: str
    question_field: str
    answers_field: str
    paraphrases_field: str
    audience: Audience = Audience.AGENT  # resolved escalations are internal by default
    # Optional in a row: one tag per paraphrase (who wrote it, say), so the report breaks the scores down by it.
    paraphrase_tags_field: str = "paraphrase_tags"


ADAPTERS = {"stackfaq": Adapter("stackfaq", "thread", "question", "answers", "paraphrases")}


@dataclass
class DatasetSplit:
    escalations: list[dict[str, object]]  # kb/escalations JSONL records for the indexed threads
    cases: list[GoldenCase]
    held_out: list[str]


def held_out(thread_ids: list[str], fraction: float) -> set[str]:
    """A fixed, order-independent share of threads: those whose id hashes lowest."""
    ranked = sorted(thread_ids, key=lambda t: hashlib.sha256(t.encode()).hexdigest())
    return set(ranked[: round(len(ranked) * fraction)])


def load_dataset(path: Path, adapter: Adapter, holdout_fraction: float = 0.0) -> DatasetSplit:
    """Threads become resolved escalations `esc:<thread>`; paraphrases become questions. Held-out threads stay
    out of the KB, so their paraphrases must escalate."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    ids = [str(r[adapter.id_field]) for r in rows]
    hidden = held_out(ids, holdout_fraction)
    escalations: list[dict[str, object]] = []
    cases: list[GoldenCase] = []
    for row, tid in zip(rows, ids, strict=True):
        if tid not in hidden:
            escalations.append(
                {
                    "id": tid,
                    "subject": row[adapter.question_field],
                    "question": row[adapter.question_field],
                    "resolution": "\n\n".join(row[adapter.answers_field]),
                    "tags": [adapter.name],
                    "product": adapter.name,
                    "audience": "internal",
                }
            )
        paraphrases = row[adapter.paraphrases_field]
        labels = row.get(adapter.paraphrase_tags_field) or [None] * len(paraphrases)
        if len(labels) != len(paraphrases):
            raise ConfigError(f"{path}: thread {tid} has {len(labels)} paraphrase tags, {len(paraphrases)} paraphrases")
        for i, (para, label) in enumerate(zip(paraphrases, labels, strict=True)):
            cases.append(
                GoldenCase(
                    id=f"{tid}-p{i}",
                    question=para,
                    audience=adapter.audience,
                    expected_sources=[] if tid in hidden else [f"esc:{tid}"],
                    should_escalate=tid in hidden,
                    tags=["held_out" if tid in hidden else "indexed", f"thread:{tid}", *([label] if label else [])],
                )
            )
    return DatasetSplit(escalations, cases, sorted(hidden))


def write_escalations(records: list[dict[str, object]], path: Path) -> None:
    """Write records as a kb/escalations-style JSONL file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
