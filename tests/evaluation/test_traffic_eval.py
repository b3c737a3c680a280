"""The traffic evaluation's simulated desk: the outcomes it casts are the honest ones, through the product's path,
and become the calibration cases the calibrator reads (fakes; the measured runs are in docs/confidence.md)."""

from __future__ import annotations

from deflect.config import Settings
from deflect.domain.models import Audience
from deflect.evaluation.golden import GoldenCase
from deflect.evaluation.runner import group_of
from deflect.evaluation.traffic_eval import Arm, TrafficReport, cast_outcomes, render, right
from deflect.testing import HashEmbedder, InMemoryIndex, InMemoryStore
from deflect.wiring import assemble


def test_outcomes_cast_for_the_traffic_half_label_it_as_the_golden_set_does(settings: Settings) -> None:
    service = assemble(
        settings.model_copy(update={"traffic_min_cases": 1}), InMemoryIndex(), HashEmbedder(), store=InMemoryStore()
    )
    service.ingest([settings.kb_dir], settings.kb_dir)
    cases = [
        GoldenCase(id="c1", question="How do I download invoices?", expected_sources=["doc:articles/invoices"]),
        GoldenCase(id="c2", question="How do I reset my password?", expected_sources=["doc:articles/reset-password"]),
        GoldenCase(id="c3", question="What is the weather on Mars?", should_escalate=True),
        GoldenCase(id="c4", question="Where are invoices?", expected_sources=["doc:nowhere"], audience=Audience.AGENT),
    ]
    truth = {}
    for case in cases:
        top = service.retriever.retrieve(case.question, case.audience.visible(), k=5)
        truth[case.id] = right(case, top[0].source_id if top else None)

    assert cast_outcomes(service, cases, share=1.0) == 4

    assert service.calibrator is not None
    traffic = service.calibrator.traffic()
    assert traffic is not None and len(traffic.samples) == 4
    asked = {e.answer_id: e.data["question"] for e in service.desk.store.audit(kind="decision")}
    by_question = {asked[s.group.removeprefix("traffic:")]: s.label for s in traffic.samples}
    assert by_question == {c.question: int(truth[c.id]) for c in cases}
    assert by_question["What is the weather on Mars?"] == 0
    assert by_question["Where are invoices?"] == 0  # the agent named a page the top source is not


def test_a_share_below_one_labels_only_part_of_the_traffic(settings: Settings) -> None:
    service = assemble(settings, InMemoryIndex(), HashEmbedder(), store=InMemoryStore())
    service.ingest([settings.kb_dir], settings.kb_dir)
    cases = [GoldenCase(id=f"c{i}", question=f"How do I export report {i}?") for i in range(20)]
    labelled = cast_outcomes(service, cases, share=0.3)
    assert 0 < labelled < 20
    assert len(service.desk.store.audit(kind="decision")) == 20  # every question was asked and recorded


def test_groups_keep_a_thread_on_one_side_and_the_report_renders() -> None:
    case = GoldenCase(id="x", question="q", tags=["thread:sf001"])
    assert group_of(case) == "thread:sf001"
    assert group_of(GoldenCase(id="y", question="q")) == "y"
    report = TrafficReport("set", 10, 5, 10, [Arm("alone", 0.5, 0.4, 0.05, None, 0.8, 4)], ["probes"])
    lines = render(report)
    assert lines[0] == "set: 10 traffic questions (5 labelled), 10 scored"
    assert lines[3] == "| alone | 0.5000 | 0.400 | 0.050 | - | 0.800 |"
