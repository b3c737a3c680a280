"""Does feedback help, and can it be gamed? Measured on a golden set over a throwaway index.

1. Every case with an expected source is retrieved once (real embedder, real index): its hits and question vector.
2. Cases are split by their first expected source, alternately, into a training half (which receives feedback) and
   a held-out half (which is measured): held-out questions are other wordings of the same need, or new needs.
3. Honest feedback: several distinct simulated users vote on each training case (unhelpful, naming an expected
   source, when the top source is wrong; helpful otherwise), with a share of noisy votes flipped.
4. Attacks on the held-out half, each starting from no feedback: one actor flooding 1,000 unhelpful votes on correct
   top sources (naming a wrong one as correct); one actor voting against every source of every question; and a
   crowd of k distinct actors doing the flood, to show the effect stays within the cap.

Reproduce (about a minute on CPU):

    HF_HUB_OFFLINE=1 .venv/bin/python -m deflect.evaluation.feedback_eval    # the sample kb golden set
    HF_HUB_OFFLINE=1 .venv/bin/python -m deflect.evaluation.feedback_eval \
        --dataset ../shared/datasets/stackfaq-dev.jsonl
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import BaseModel

from deflect.config import Settings
from deflect.domain.feedback import FeedbackRecord
from deflect.domain.models import SourceHit
from deflect.domain.ports import Embedder
from deflect.evaluation.golden import GoldenCase
from deflect.evaluation.metrics import mean, recall_at_k, reciprocal_rank
from deflect.feedback.adjust import AdjustConfig, SourceAdjustments

NOW = datetime(2026, 6, 1, tzinfo=UTC)
SWEEP_SIMILARITY = (0.5, 0.6, 0.7, 0.8)
SWEEP_CAP = (0.02, 0.05, 0.1, 0.2)
SWEEP_ACTORS_PRIOR = ((1, 2.0), (3, 2.0), (5, 5.0))  # (min_actors, prior)
SYBIL_CROWDS = (1, 4, 5, 10, 50)
SWEEP_SYBILS = 10


@dataclass(frozen=True)
class Snapshot:
    """One golden case as retrieval saw it, before any feedback."""

    id: str
    question: str
    expected: tuple[str, ...]
    hits: tuple[SourceHit, ...]
    vector: tuple[float, ...]

    @property
    def top(self) -> str | None:
        return self.hits[0].source_id if self.hits else None


class Scores(BaseModel):
    """Retrieval quality of a set of cases under one set of adjustments."""

    cases: int
    recall_at_1: float
    mrr: float
    fixed: int = 0  # top-1 wrong before, right after
    broken: int = 0  # top-1 right before, wrong after


class SweepRow(BaseModel):
    min_similarity: float
    cap: float
    min_actors: int
    prior: float
    heldout: Scores  # after honest feedback
    heldout_seen: Scores  # held-out cases whose first expected source also had training cases
    train: Scores
    sybil: Scores  # held-out after SWEEP_SYBILS actors flood (no honest feedback)


class AttackRow(BaseModel):
    attack: str
    actors: int
    votes: int
    heldout: Scores
    max_shift: float  # largest |score change| any held-out hit received


class FeedbackEvalReport(BaseModel):
    label: str
    embedder: str
    config: dict[str, float]
    honest: dict[str, int | float]
    before: Scores
    after: Scores
    before_seen: Scores
    after_seen: Scores
    attacks: list[AttackRow]
    sweep: list[SweepRow]


# --- pure parts -----------------------------------------------------------------------------------------------


def split(cases: Sequence[Snapshot]) -> tuple[list[Snapshot], list[Snapshot]]:
    """Alternate the cases of each first expected source between training and held-out; singletons are held out."""
    groups: dict[str, list[Snapshot]] = {}
    for case in sorted(cases, key=lambda c: c.id):
        groups.setdefault(case.expected[0], []).append(case)
    train: list[Snapshot] = []
    test: list[Snapshot] = []
    for group in groups.values():
        if len(group) == 1:
            test += group
            continue
        train += group[0::2]
        test += group[1::2]
    return train, test


def honest_feedback(
    train: Sequence[Snapshot], users_per_case: int = 5, pool: int = 20, noise: float = 0.1, seed: int = 7
) -> list[FeedbackRecord]:
    """What honest readers say: unhelpful (naming an expected source) when the top source is wrong, else helpful.

    A `noise` share of votes is flipped (an unhappy reader of a right answer, or a satisfied reader of a wrong one)."""
    rng = random.Random(seed)
    out: list[FeedbackRecord] = []
    for case in train:
        if case.top is None:
            continue
        for user in rng.sample(range(pool), users_per_case):
            right = case.top in case.expected
            helpful = right if rng.random() >= noise else not right
            out.append(
                _record(
                    case,
                    f"user-{user}",
                    helpful,
                    None if helpful or right else case.expected[0],
                    NOW - timedelta(days=rng.uniform(0, 30)),
                    len(out),
                )
            )
    return out


def flood(targets: Sequence[Snapshot], actor: str, votes: int) -> list[FeedbackRecord]:
    """`votes` unhelpful votes by one actor on the correct top source of each target in turn, promoting a wrong one."""
    ok = [t for t in targets if t.top in t.expected and len(t.hits) > 1]
    out: list[FeedbackRecord] = []
    for i in range(votes if ok else 0):
        case = ok[i % len(ok)]
        wrong = next(h.source_id for h in case.hits if h.source_id not in case.expected)
        out.append(_record(case, actor, False, wrong, NOW - timedelta(seconds=i), i))
    return out


def scatter(targets: Sequence[Snapshot], actor: str) -> list[FeedbackRecord]:
    """One actor voting against every retrieved source of every target, each time naming the last one as correct."""
    out: list[FeedbackRecord] = []
    for case in targets:
        for hit in case.hits:
            shown = case.hits[-1].source_id
            out.append(
                _record(case, actor, False, shown, NOW, len(out)).model_copy(update={"source_ids": [hit.source_id]})
            )
    return out


def sybils(targets: Sequence[Snapshot], actors: int, votes_each: int = 200) -> list[FeedbackRecord]:
    """`actors` distinct identities, each running `flood`: what an attacker with many accounts can do."""
    return [
        r.model_copy(update={"actor": f"sybil-{a}", "id": f"{r.id}-{a}"})
        for a in range(actors)
        for r in flood(targets, "sybil", votes_each)
    ]


def score(cases: Sequence[Snapshot], adjustments: SourceAdjustments | None) -> Scores:
    """R@1 and MRR@10 with the adjustments applied, and how many cases they fixed or broke."""
    r1, rr = [], []
    fixed = broken = 0
    for case in cases:
        before = [h.source_id for h in case.hits]
        after = before if adjustments is None else [h.source_id for h in adjustments.adjust(case.vector, case.hits)]
        was, now = recall_at_k(before, case.expected, 1), recall_at_k(after, case.expected, 1)
        fixed += int(was == 0.0 and now == 1.0)
        broken += int(was == 1.0 and now == 0.0)
        r1.append(now)
        rr.append(reciprocal_rank(after, case.expected, 10))
    return Scores(
        cases=len(cases),
        recall_at_1=round(mean(r1) or 0.0, 4),
        mrr=round(mean(rr) or 0.0, 4),
        fixed=fixed,
        broken=broken,
    )


def max_shift(cases: Sequence[Snapshot], adjustments: SourceAdjustments) -> float:
    """The largest score change any hit of these cases receives."""
    shifts = [abs(d) for c in cases for d in adjustments.deltas(c.vector).values()]
    return round(max(shifts, default=0.0), 4)


def build(
    records: Sequence[FeedbackRecord], vectors: dict[str, tuple[float, ...]], config: AdjustConfig
) -> SourceAdjustments:
    return SourceAdjustments.build(records, [vectors[r.answer_id] for r in records], NOW, config)


def evaluate(
    snapshots: Sequence[Snapshot], config: AdjustConfig, label: str = "", embedder: str = ""
) -> FeedbackEvalReport:
    """Everything after retrieval: honest feedback, attacks and the parameter sweep (pure, fast)."""
    train, test = split(snapshots)
    seen_sources = {c.expected[0] for c in train}
    seen = [c for c in test if c.expected[0] in seen_sources]
    vectors = {c.id: c.vector for c in snapshots}
    honest = honest_feedback(train)
    adjusted = build(honest, vectors, config)
    attacks = []
    one = flood(test, "mallory", 1000)
    attacks.append(_attack("flood: 1 actor, 1,000 votes", 1, one, test, vectors, config))
    spread = scatter(test, "mallory")
    attacks.append(_attack("scatter: 1 actor, every source", 1, spread, test, vectors, config))
    attacks.append(_attack("flood over honest feedback", 1, [*honest, *one], test, vectors, config))
    for k in SYBIL_CROWDS[1:]:
        attacks.append(_attack(f"sybil flood: {k} actors x 200 votes", k, sybils(test, k), test, vectors, config))
    crowd = sybils(test, SWEEP_SYBILS)
    sweep = []
    for sim in SWEEP_SIMILARITY:
        for cap in SWEEP_CAP:
            for n, prior in SWEEP_ACTORS_PRIOR:
                variant = replace(config, min_similarity=sim, cap=cap, min_actors=n, prior=prior)
                adj = build(honest, vectors, variant)
                sweep.append(
                    SweepRow(
                        min_similarity=sim,
                        cap=cap,
                        min_actors=n,
                        prior=prior,
                        heldout=score(test, adj),
                        heldout_seen=score(seen, adj),
                        train=score(train, adj),
                        sybil=score(test, build(crowd, vectors, variant)),
                    )
                )
    return FeedbackEvalReport(
        label=label,
        embedder=embedder,
        config={k: float(v) for k, v in vars(config).items()},
        honest={
            "train_cases": len(train),
            "heldout_cases": len(test),
            "votes": len(honest),
            "unhelpful": sum(not r.helpful for r in honest),
            "actors": len({r.actor for r in honest}),
        },
        before=score(test, None),
        after=score(test, adjusted),
        before_seen=score(seen, None),
        after_seen=score(seen, adjusted),
        attacks=attacks,
        sweep=sweep,
    )


def _attack(
    name: str,
    actors: int,
    records: Sequence[FeedbackRecord],
    test: Sequence[Snapshot],
    vectors: dict[str, tuple[float, ...]],
    config: AdjustConfig,
) -> AttackRow:
    adj = build(records, vectors, config)
    return AttackRow(
        attack=name, actors=actors, votes=len(records), heldout=score(test, adj), max_shift=max_shift(test, adj)
    )


def _record(case: Snapshot, actor: str, helpful: bool, correct: str | None, at: datetime, n: int) -> FeedbackRecord:
    # answer_id carries the case id, so `build` finds the question's vector.
    return FeedbackRecord(
        id=f"fb-{actor}-{n}",
        answer_id=case.id,
        at=at,
        helpful=helpful,
        correct_source=correct,
        actor=actor,
        role="customer",
        question=case.question,
        source_ids=[case.top] if case.top else [],
        decision="answer",
    )


# --- the run over a real index --------------------------------------------------------------------------------


def snapshots(
    settings: Settings,
    embedder: Embedder,
    golden: Path | None = None,
    kb: Path | None = None,
    dataset: Path | None = None,
) -> tuple[list[Snapshot], str]:
    """Retrieve every case with an expected source once, through the service, on a throwaway index."""
    from deflect.evaluation.runner import prepare

    if dataset is not None:
        setup = prepare(settings, embedder, dataset=dataset)
    else:
        setup = prepare(settings, embedder, golden=golden, kb=kb or settings.kb_dir)
    cases: list[GoldenCase] = [c for c in setup.cases if c.expected_sources and not c.should_escalate]
    vectors = embedder.embed_questions([c.question for c in cases])
    out = []
    for case, vector in zip(cases, vectors, strict=True):
        hits, _ = setup.service.evidence(case.question, case.audience)
        out.append(Snapshot(case.id, case.question, tuple(case.expected_sources), tuple(hits), tuple(vector)))
    return out, setup.label


def run(
    settings: Settings,
    embedder: Embedder,
    golden: Path | None = None,
    kb: Path | None = None,
    dataset: Path | None = None,
    config: AdjustConfig | None = None,
) -> FeedbackEvalReport:
    """The whole feedback eval: retrieve the cases of a golden set or a dataset, then `evaluate`."""
    snaps, label = snapshots(settings, embedder, golden, kb, dataset)
    return evaluate(snaps, config or AdjustConfig(), label, embedder.name)


def render(report: FeedbackEvalReport) -> Iterable[str]:
    """The report as plain text lines."""
    yield f"feedback eval on {report.label} ({report.embedder}); config {report.config}"
    yield f"honest feedback: {report.honest}"
    for name, before, after in (
        ("held-out", report.before, report.after),
        ("held-out, source seen in training", report.before_seen, report.after_seen),
    ):
        yield (
            f"{name} ({after.cases} cases): R@1 {before.recall_at_1:.3f} -> {after.recall_at_1:.3f}, "
            f"MRR {before.mrr:.3f} -> {after.mrr:.3f}, fixed {after.fixed}, broken {after.broken}"
        )
    yield "attacks (held-out, from no feedback):"
    for a in report.attacks:
        yield (
            f"  {a.attack}: R@1 {a.heldout.recall_at_1:.3f}, MRR {a.heldout.mrr:.3f}, "
            f"broken {a.heldout.broken}, fixed {a.heldout.fixed}, max score shift {a.max_shift:.3f}"
        )
    yield f"sweep (honest: held-out R@1 / MRR / fixed / broken; train R@1 | {SWEEP_SYBILS} sybils: R@1 / broken):"
    for s in report.sweep:
        yield (
            f"  sim>={s.min_similarity:.2f} cap={s.cap:.2f} actors>={s.min_actors} prior={s.prior:g}: "
            f"{s.heldout.recall_at_1:.3f} / {s.heldout.mrr:.3f} / +{s.heldout.fixed} / -{s.heldout.broken}; "
            f"{s.train.recall_at_1:.3f} | {s.sybil.recall_at_1:.3f} / -{s.sybil.broken}"
        )


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m deflect.evaluation.feedback_eval`: run on the sample kb golden set with MiniLM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--golden", type=Path, default=None, help="Default: eval/golden/kb.jsonl over the kb.")
    parser.add_argument("--kb", type=Path, default=None)
    parser.add_argument("--dataset", type=Path, default=None, help="A StackFAQ-style dataset instead of --golden.")
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    from deflect.index.embedder import SentenceTransformerEmbedder
    from deflect.wiring import offline_environment

    offline_environment()
    golden = args.golden or (None if args.dataset else Path("eval/golden/kb.jsonl"))
    report = run(Settings.load(), SentenceTransformerEmbedder(args.model), golden, args.kb, args.dataset)
    print(report.model_dump_json(indent=2) if args.json else "\n".join(render(report)))


if __name__ == "__main__":
    main()
