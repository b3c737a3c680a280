"""Does calibrating on the desk's labelled traffic help? Half of a set's questions play the desk's past traffic, the
other half is scored, through the product's own path.

1. The KB is indexed and self-calibrated as `deflect eval` does (a throwaway index and store).
2. The questions are split in two halves by group (a StackFAQ thread, or a case), so no thread is in both.
3. The traffic half is asked through `DeflectService.ask` (its decisions stored with their features, as in
   production), and a share of them (`labelled_share`, drawn from a fixed seed) gets an honest outcome through
   `FeedbackDesk.record`, as readers and agents give it: an answer a customer found right gets a helpful vote, a
   wrong one an unhelpful vote; an escalated question an agent names the answering source for (the top source when
   it is an expected one, else the first expected) or, when the KB does not cover it, votes the draft unhelpful. No
   resolution is written: it would enter the KB (the knowledge loop) and change what the scored half is asked
   against.
4. The calibration is fitted twice on the same index: without the traffic (`deflect calibrate --no-traffic`) and
   with it (`deflect calibrate`), and the scored half is asked under each: right answers among answerable
   questions, wrong among answers, unanswerable escalated, AUROC of the confidence.

Nothing is fitted on the scored half; "right" is the golden set's label (top citation expected), never a vote.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from deflect.calibrate.fit import fold_of
from deflect.config import Settings
from deflect.domain.models import Audience
from deflect.domain.ports import Embedder
from deflect.evaluation.golden import GoldenCase
from deflect.evaluation.metrics import auroc
from deflect.evaluation.runner import group_of, prepare
from deflect.service import DeflectService

Progress = Callable[[int, int], None]
SALT = "traffic"


@dataclass
class Arm:
    name: str
    threshold: float
    right: float  # right answers / answerable questions
    wrong: float  # wrong answers / answers
    unanswerable_escalated: float | None
    auroc: float | None
    answered: int


@dataclass
class TrafficReport:
    label: str
    traffic: int
    labelled: int
    scored: int
    arms: list[Arm] = field(default_factory=list)
    fitted_on: list[str] = field(default_factory=list)


def right(case: GoldenCase, top: str | None) -> bool:
    return not case.should_escalate and top is not None and top in set(case.expected_sources)


def cast_outcomes(service: DeflectService, cases: Sequence[GoldenCase], share: float, seed: int = 0) -> int:
    """Ask the traffic half and give `share` of it an honest outcome; how many were labelled."""
    assert service.feedback is not None
    rng = random.Random(seed)
    labelled = 0
    for i, case in enumerate(cases):
        result = service.ask(case.question, case.audience)
        if rng.random() >= share:
            continue
        top = result.retrieved[0] if result.retrieved else None
        if result.decision.value == "answer":
            # The reader says whether it helped: each a different customer (or the agent who asked), as on a desk.
            role = "customer" if case.audience is Audience.CUSTOMER else "agent"
            who = f"customer-{i}" if role == "customer" else "agent"
            service.feedback.record(result.id, right(case, top), caller_role=role, actor=who)
        elif case.should_escalate or not case.expected_sources:
            service.feedback.record(result.id, False, caller_role="agent", actor="agent")
        else:
            # The agent who handles it names a page that answers it: the top one when it does.
            named = top if top in case.expected_sources else case.expected_sources[0]
            service.feedback.record(result.id, True, None, named, caller_role="agent", actor="agent")
        labelled += 1
    return labelled


def score(service: DeflectService, cases: Sequence[GoldenCase], name: str) -> Arm:
    """Ask the scored half under the calibration in force."""
    conf: list[float] = []
    labels: list[int] = []
    answered = right_answers = 0
    unanswerable = escalated_unanswerable = 0
    for case in cases:
        result = service.ask(case.question, case.audience, record=False)
        top = result.citations[0].source_id if result.citations else next(iter(result.retrieved), None)
        ok = right(case, top)
        conf.append(result.confidence)
        labels.append(int(ok))
        if result.decision.value == "answer":
            answered += 1
            right_answers += ok
        if case.should_escalate:
            unanswerable += 1
            escalated_unanswerable += result.decision.value != "answer"
    answerable = sum(1 for c in cases if not c.should_escalate)
    return Arm(
        name=name,
        threshold=service.rules.answer_threshold,
        right=right_answers / answerable if answerable else 0.0,
        wrong=(answered - right_answers) / answered if answered else 0.0,
        unanswerable_escalated=escalated_unanswerable / unanswerable if unanswerable else None,
        auroc=auroc(conf, labels),
        answered=answered,
    )


def run(
    settings: Settings,
    embedder: Embedder,
    golden: Path | None = None,
    dataset: Path | None = None,
    holdout_fraction: float = 0.25,
    labelled_share: float = 1.0,
    progress: Progress | None = None,
) -> TrafficReport:
    """The traffic half labelled at `labelled_share`, then the scored half under both calibrations."""
    settings = settings.model_copy(update={"calibration_file": None, "calibrate_from_traffic": True})
    setup = prepare(
        settings,
        embedder,
        golden=golden,
        kb=settings.kb_dir if dataset is None else None,
        dataset=dataset,
        holdout_fraction=holdout_fraction if dataset else 0.0,
    )
    service, calibrator = setup.service, setup.service.calibrator
    assert calibrator is not None
    cases = [c for c in setup.cases if c.audience in (Audience.CUSTOMER, Audience.AGENT)]
    traffic = [c for c in cases if fold_of(group_of(c), 2, SALT) == 0]
    scored = [c for c in cases if fold_of(group_of(c), 2, SALT) == 1]
    labelled = cast_outcomes(service, traffic, labelled_share)
    report = TrafficReport(setup.label, len(traffic), labelled, len(scored))
    calibrator.fit(use_traffic=False)
    report.arms.append(score(service, scored, "self-calibration alone (--no-traffic)"))
    cal = calibrator.fit(use_traffic=True)
    report.fitted_on = list(cal.fitted_on)
    if "traffic_check_risk" in cal.notes:
        report.fitted_on.append(
            f"estimated on the traffic, out of fold: risk {cal.notes['traffic_check_risk']}, coverage "
            f"{cal.notes['traffic_check_coverage']}; the target on the traffic alone needs >= "
            f"{cal.notes.get('traffic_threshold')}"
        )
    used = cal.notes.get("traffic_cases", 0)
    report.arms.append(score(service, scored, f"with the desk's labelled traffic ({used} cases)"))
    return report


def render(report: TrafficReport) -> list[str]:
    lines = [
        f"{report.label}: {report.traffic} traffic questions ({report.labelled} labelled), {report.scored} scored",
        "| calibration | threshold | right / answerable | wrong / answers | unanswerable escalated | AUROC |",
        "|---|---|---|---|---|---|",
    ]
    for a in report.arms:
        unans = "-" if a.unanswerable_escalated is None else f"{a.unanswerable_escalated:.3f}"
        roc = "-" if a.auroc is None else f"{a.auroc:.3f}"
        lines.append(f"| {a.name} | {a.threshold:.4f} | {a.right:.3f} | {a.wrong:.3f} | {unans} | {roc} |")
    lines += [f"fitted on: {line}" for line in report.fitted_on]
    return lines
