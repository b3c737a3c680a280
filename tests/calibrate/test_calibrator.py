"""The calibrator end to end on the fake KB: ingest fits a calibration on the KB itself, keeps it while the KB
holds, refits when it changed materially, never overrides an explicit file; leaving sources out of a ranking."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from pytest import MonkeyPatch
from tests.retrieval.test_hybrid import dense, keyword

from conftest import FAKE_CALIBRATION
from deflect.calibrate import selfcal
from deflect.calibrate.fit import Sample
from deflect.calibrate.selfcal import _rank, collect_samples, kb_fingerprint, kb_hash
from deflect.config import Settings
from deflect.domain.cosine import CosineScale
from deflect.domain.models import Audience, Chunk
from deflect.domain.ports import Embedder
from deflect.retrieval.hybrid import HybridRetriever
from deflect.service import DeflectService
from deflect.testing import HashEmbedder, InMemoryIndex, InMemoryStore
from deflect.wiring import assemble


def build(settings: Settings) -> DeflectService:
    return assemble(settings, InMemoryIndex(), HashEmbedder(), store=InMemoryStore())


def test_the_first_ingest_fits_a_calibration_on_the_kb_and_uses_it_at_once(settings: Settings) -> None:
    service = build(settings)
    assert service.calibrator is not None
    assert service.calibrator.stale() == "no calibration fitted on this KB yet"

    report = service.ingest([settings.kb_dir], settings.kb_dir)

    assert report.calibration.startswith("refitted (no calibration fitted on this KB yet)")
    cal = service.calibration
    assert settings.self_calibration_path.exists()
    assert cal.kb_hash == kb_hash(kb_fingerprint(service.index.chunks()))
    assert cal.embedder == "hash-256"
    assert cal.fitted_on[0].startswith("self: ")
    assert {"check_risk", "check_coverage", "fit_risk", "fit_coverage"} <= set(cal.notes)
    assert service.rules.answer_threshold == cal.threshold
    assert service.ask("How do I reset my password?", Audience.CUSTOMER).confidence == round(
        cal.confidence(service.evidence("How do I reset my password?", Audience.CUSTOMER)[1]), 4
    )


def test_an_unchanged_kb_keeps_its_calibration(settings: Settings) -> None:
    service = build(settings)
    service.ingest([settings.kb_dir], settings.kb_dir)
    fitted_at = service.calibration.notes["fitted_at"]

    again = build(settings).ingest([settings.kb_dir], settings.kb_dir)

    assert again.calibration == "kept"
    assert build(settings).calibration.notes["fitted_at"] == fitted_at


def test_a_material_change_refits(settings: Settings, kb: Path) -> None:
    service = build(settings)
    service.ingest([settings.kb_dir], settings.kb_dir)
    article = next(kb.rglob("*.md"))
    article.write_text(article.read_text(encoding="utf-8") + "\nA new paragraph about exporting.\n", encoding="utf-8")

    report = service.ingest([settings.kb_dir], settings.kb_dir)

    assert report.calibration.startswith("refitted (")
    assert "of sources changed" in report.calibration


def test_an_explicit_calibration_file_is_never_replaced(settings: Settings, tmp_path: Path) -> None:
    explicit = tmp_path / "mine.json"
    FAKE_CALIBRATION.save(explicit)
    service = build(settings.model_copy(update={"calibration_file": explicit}))

    report = service.ingest([settings.kb_dir], settings.kb_dir)

    assert report.calibration == "kept"
    assert not settings.self_calibration_path.exists()
    assert service.calibration == FAKE_CALIBRATION


def test_leaving_sources_out_removes_them_and_renormalises_bm25() -> None:
    hits = _rank(
        [dense("a#0", 0.9), dense("b#0", 0.6), dense("c#0", 0.5)],
        [keyword("a#0", 1.0), keyword("b#0", 0.5)],
        0.1,
        {"a"},
    )

    assert [h.source_id for h in hits] == ["b", "c"]
    assert hits[0].chunks[0].keyword == 1.0  # b is now the best keyword match left


def _article(source_id: str, title: str, text: str) -> Chunk:
    return Chunk(
        chunk_id=f"{source_id}#0",
        source_id=source_id,
        kind="article",
        title=title,
        audience="public",
        text=text,
        origin=f"{source_id}.md",
        source_hash="h",
        source_chunks=1,
    )


def _left_out_labels(chunks: list[Chunk], embedder: Embedder | None = None) -> dict[str, int]:
    """Each source's left-out probe label, self-calibrating on an in-memory index of `chunks`."""
    return {s.group: s.label for s in _samples(chunks, embedder or HashEmbedder()) if s.kind == "left_out"}


def _samples(chunks: list[Chunk], embedder: Embedder) -> list[Sample]:
    index = InMemoryIndex()
    index.upsert(chunks, embedder.embed([f"{c.title}\n\n{c.text}" for c in chunks]))
    retriever = HybridRetriever(index, embedder, None, 0.0, 40)
    samples, _ = collect_samples(index.chunks(), retriever, embedder, 10)
    return samples


def test_a_left_out_probe_answered_by_a_source_saying_the_same_is_right_and_otherwise_wrong() -> None:
    how = "Open the board menu and choose Export as CSV."
    left_out = _left_out_labels(
        [
            _article("doc:export", "Exporting boards to CSV files", how),
            _article("doc:csv-faq", "Spreadsheet downloads for managers", how),
            _article("doc:sso", "Configuring single sign-on with SAML", "Upload the metadata XML from your provider."),
            _article("doc:pricing", "Plans and prices for teams", "Business costs 24 dollars per member."),
        ]
    )

    # leaving out the export article, the FAQ that quotes the same sentence still answers; not so for SSO
    assert left_out["doc:export"] == 1
    assert left_out["doc:sso"] == 0


class Crowded(HashEmbedder):
    """The hash embedder with every cosine squeezed towards 1 (cos' = 0.2 cos + 0.8), as e5 crowds its cosines: one
    shared extra dimension carries most of every vector."""

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [[math.sqrt(0.2) * x for x in v] + [math.sqrt(0.8)] for v in super().embed(texts)]


EXPORT_CASE = [
    _article("doc:export", "Exporting boards to CSV files", "Open the board menu and choose Export as CSV."),
    _article("doc:csv-faq", "Spreadsheet downloads for managers", "Open the board menu and choose Export as CSV."),
    _article("doc:sso", "Configuring single sign-on with SAML", "Upload the metadata XML from your provider."),
    _article("doc:pricing", "Plans and prices for teams", "Business costs 24 dollars per member."),
    _article("doc:invoices", "Downloading invoices as PDF", "Billing lists every invoice with a PDF link."),
]


def test_a_model_that_crowds_its_cosines_gets_the_labels_the_hash_model_gets(monkeypatch: MonkeyPatch) -> None:
    plain = _left_out_labels(EXPORT_CASE)
    crowded = _samples(EXPORT_CASE, Crowded())

    assert {s.group: s.label for s in crowded if s.kind == "left_out"} == plain
    assert all(s.features["top_dense"] > 0 for s in crowded if s.kind == "left_out")  # other sources stayed
    # Read on the raw cosines, any two quotes "say the same": every left-out probe would count as answered by
    # whatever source is left, and the threshold fitted on that answers what the KB does not cover.
    monkeypatch.setattr(selfcal, "measure_scale", lambda embedder, texts: CosineScale())
    unscaled = _samples(EXPORT_CASE, Crowded())
    assert plain["doc:sso"] == 0
    assert all(s.label == 1 for s in unscaled if s.kind == "left_out")


def test_a_probe_answered_by_another_page_that_poses_it_in_its_title_and_headings_is_right() -> None:
    embedder = HashEmbedder()
    chunks = [
        # an API page's section on URI filenames says little about them; the page of that title says it all
        _article("doc:open", "Opening a new connection", "Call open with a name; see the page on names.").model_copy(
            update={"heading_path": "URI filenames"}
        ),
        _article("doc:uri", "Naming database files with URI filenames and query strings", "URI filenames " * 5),
        _article("doc:pricing", "Plans and prices for teams", "Business costs 24 dollars per member."),
        _article("doc:sso", "Configuring single sign-on with SAML", "Upload the metadata XML from your provider."),
    ]
    index = InMemoryIndex()
    index.upsert(chunks, embedder.embed([f"{c.title}\n\n{c.text}" for c in chunks]))
    retriever = HybridRetriever(index, embedder, None, 0.0, 40)

    samples, counts = collect_samples(index.chunks(), retriever, embedder, 10)

    heading = next(s for s in samples if s.group == "doc:open" and s.kind == "heading")
    assert heading.label == 1  # doc:uri ranks first, and it poses the question as much as doc:open does
    assert counts["posed_elsewhere"] == 1
    assert counts["right_posed_elsewhere"] == 1


def test_the_same_text_counts_when_the_other_source_ranks_another_of_its_chunks_first() -> None:
    repeated = "Borg stores ACLs, extended attributes and BSD flags of every file it backs up."
    left_out = _left_out_labels(
        [
            _article("doc:general", "Support for file metadata", repeated),
            # the man page repeats the section, but its first retrieved chunk is a pointer elsewhere
            _article("doc:man", "The borg manual page", "For JSON output of file metadata see Internals."),
            _article("doc:man", "The borg manual page", repeated).model_copy(update={"chunk_id": "doc:man#1"}),
            _article("doc:pricing", "Plans and prices for teams", "Business costs 24 dollars per member."),
        ]
    )

    assert left_out["doc:general"] == 1
    assert left_out["doc:pricing"] == 0


def test_questions_the_desk_labelled_join_the_fit_once_there_are_enough(settings: Settings) -> None:
    settings = settings.model_copy(update={"traffic_min_cases": 4})
    service = build(settings)
    service.ingest([settings.kb_dir], settings.kb_dir)
    calibrator = service.calibrator
    assert calibrator is not None
    assert calibrator.traffic() is None  # nothing labelled yet
    questions = ["How do I export my data?", "How do I reset my password?", "Where are invoices?", "Cancel plan"]
    asked = [service.ask(q, Audience.AGENT) for q in questions]
    assert service.feedback is not None
    for i, result in enumerate(asked[:3]):
        if i % 2:
            service.feedback.record(result.id, False, caller_role="agent", actor="agent-1")
        else:  # the agent names the source that answers it: the top one, so answering would have been right
            service.feedback.record(result.id, True, None, result.retrieved[0], caller_role="agent", actor="agent-1")
    assert calibrator.traffic() is None  # 3 < 4
    assert calibrator.stale() is None

    service.feedback.record(asked[3].id, False, caller_role="agent", actor="agent-1")

    assert calibrator.stale() == "4 more questions labelled at the desk since it was fitted"
    cal = calibrator.fit()
    assert cal.notes["traffic_cases"] == 4
    assert any(line.startswith("traffic: 4 questions asked at the desk") for line in cal.fitted_on)
    assert sorted(s.label for s in calibrator.last_samples if s.kind == "traffic") == [0, 0, 1, 1]
    # what the fit expects on the desk's questions alone, out of fold, at the threshold it chose
    assert 0.0 <= cal.notes["traffic_check_risk"] <= 1.0 and 0 <= cal.notes["traffic_check_answered"] <= 4
    assert calibrator.stale() is None  # fitted on all of them
    without = calibrator.fit(use_traffic=False)
    assert without.notes["traffic_cases"] == 0
    assert "traffic_check_risk" not in without.notes
    assert not any(line.startswith("traffic:") for line in without.fitted_on)


def test_traffic_is_not_read_when_switched_off(settings: Settings) -> None:
    service = build(settings.model_copy(update={"calibrate_from_traffic": False, "traffic_min_cases": 1}))
    service.ingest([settings.kb_dir], settings.kb_dir)
    result = service.ask("How do I export my data?", Audience.AGENT)
    assert service.feedback is not None and service.calibrator is not None
    service.feedback.record(result.id, True, caller_role="agent", actor="agent-1")
    assert service.calibrator.traffic() is None
    assert service.calibrator.stale() is None


def test_the_serving_job_refits_for_new_desk_labels_and_loads_what_another_process_fitted(settings: Settings) -> None:
    settings = settings.model_copy(update={"traffic_min_cases": 2})
    service = build(settings)
    service.ingest([settings.kb_dir], settings.kb_dir)
    job = service.jobs["calibration"]
    assert job.run_once() == {"calibration": "not checked at start-up"}
    pages = service.index.pages
    service.index.pages = lambda *a, **k: (_ for _ in ()).throw(AssertionError("read every chunk"))  # type: ignore[method-assign]
    assert job.run_once() == {"calibration": "kept"}  # without reading the whole index back
    service.index.pages = pages  # type: ignore[method-assign]
    assert service.feedback is not None
    for question in ("How do I export my data?", "Where are invoices?"):
        result = service.ask(question, Audience.AGENT)
        service.feedback.record(result.id, False, caller_role="agent", actor="agent-1")

    done = job.run_once()

    assert done["calibration"].startswith("refitted (2 more questions labelled at the desk since it was fitted)")
    assert service.calibration.notes["traffic_cases"] == 2
    # Another process (a second worker, `deflect calibrate`) fits one: this one loads it at its next check.
    cal = service.calibration
    theirs = cal.model_copy(update={"threshold": 0.77, "notes": {**cal.notes, "fitted_at": "2099-01-01T00:00:00"}})
    service.calibrator.store.save(theirs)
    assert job.run_once() == {"calibration": "loaded the one another process fitted"}
    assert service.calibration.threshold == 0.77
    assert job.run_once() == {"calibration": "kept"}
    with service.jobs["ingest"]._run_lock:  # an ingest in progress refits by itself when it ends
        assert job.run_once() == {"calibration": "not checked: an ingest is running and refits when it ends"}


def test_a_store_that_cannot_be_read_leaves_the_desk_out_instead_of_failing_the_fit(settings: Settings) -> None:
    service = build(settings.model_copy(update={"traffic_min_cases": 1}))
    service.ingest([settings.kb_dir], settings.kb_dir)
    calibrator = service.calibrator
    assert calibrator is not None

    def down() -> None:
        raise RuntimeError("database is locked")

    calibrator._traffic = down  # type: ignore[assignment]

    assert calibrator.traffic() is None
    assert calibrator.stale() is None
    assert calibrator.fit().notes["traffic_cases"] == 0
