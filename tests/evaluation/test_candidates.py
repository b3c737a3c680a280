"""Confidence candidates compared on the same self-calibration probes; own titles asked as a customer."""

from __future__ import annotations

from pytest import MonkeyPatch

from deflect.config import Settings
from deflect.evaluation.candidates import CANDIDATES, compare
from deflect.evaluation.golden import GoldenCase
from deflect.evaluation.titles import titles_answered
from deflect.testing import HashEmbedder, InMemoryIndex, InMemoryStore
from deflect.wiring import assemble


def test_every_candidate_is_fitted_on_the_kb_probes_and_scored_on_the_cases(settings: Settings) -> None:
    service = assemble(settings, InMemoryIndex(), HashEmbedder(), store=InMemoryStore())
    service.ingest([settings.kb_dir], settings.kb_dir)
    assert service.calibrator is not None and service.calibrator.last_samples
    cases = [
        GoldenCase(id="a", question="How do I reset my password?", expected_sources=["doc:articles/password-reset"]),
        GoldenCase(id="b", question="What is the capital of Peru?", should_escalate=True),
    ]

    table = compare(service, cases, service.calibrator.last_samples, 0.05)

    assert set(table) == set(CANDIDATES)
    for row in table.values():
        assert row["unanswerable escalated"] in (0.0, 1.0)
        assert 0.0 <= (row["right/answerable"] or 0.0) <= 1.0


def test_own_titles_are_asked_as_a_customer(settings: Settings) -> None:
    service = assemble(settings, InMemoryIndex(), HashEmbedder(), store=InMemoryStore())
    service.ingest([settings.kb_dir], settings.kb_dir)
    public_articles = {
        c.source_id for c in service.index.chunks(frozenset({"public"})) if c.kind == "article" and c.title
    }

    result = titles_answered(service)

    assert result["titles_asked"] == len(public_articles) > 0
    share = result["titles_answered_own"]
    assert share is not None and 0.0 <= share <= 1.0


def test_each_case_is_asked_cleaned_as_ask_cleans_it(settings: Settings, monkeypatch: MonkeyPatch) -> None:
    service = assemble(settings, InMemoryIndex(), HashEmbedder(), store=InMemoryStore())
    service.ingest([settings.kb_dir], settings.kb_dir)
    assert service.calibrator is not None
    asked: list[str] = []
    evidence = service.evidence
    monkeypatch.setattr(service, "evidence", lambda q, a: (asked.append(q), evidence(q, a))[1])
    decomposed = "Cafe\u0301 invoice\u200b  download?"  # e + combining accent, a zero-width space, two spaces

    compare(service, [GoldenCase(id="a", question=decomposed)], service.calibrator.last_samples, 0.05)

    assert asked == ["Caf\u00e9 invoice download?"]
