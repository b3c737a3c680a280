"""PII evaluation: per-kind and overall counts on a tiny hand-made set, checked against hand arithmetic."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from deflect.errors import SourceError
from deflect.evaluation.pii_eval import (
    Detector,
    Error,
    KindCounts,
    PiiReport,
    PiiSnippet,
    evaluate_pii,
    gold_spans,
    load_snippets,
    render_errors,
    render_markdown,
)
from deflect.pii import Finding, PiiKind

E, P, C, IP, N = PiiKind.EMAIL, PiiKind.PHONE, PiiKind.CARD, PiiKind.IP, PiiKind.NAME


def snippet(id: str, text: str, *spans: tuple[PiiKind, str], names: Sequence[str] = ()) -> PiiSnippet:
    return PiiSnippet.model_validate(
        {"id": id, "text": text, "names": list(names), "spans": [{"kind": k, "text": t} for k, t in spans]}
    )


TINY = [
    snippet("s1", "mail a@example.com now", (E, "a@example.com")),
    snippet("s2", "call 202-555-0143 or 202-555-0199", (P, "202-555-0143"), (P, "202-555-0199")),
    snippet("s3", "card 4111 1111 1111 1111", (C, "4111 1111 1111 1111")),
    snippet("s4", "version 5.2.1"),
    snippet("s5", "Jane at 203.0.113.5", (N, "Jane"), (IP, "203.0.113.5"), names=["Jane Roe"]),
    snippet("s6", "nothing here"),
]
# What a scripted detector reports for each snippet, as (kind, start, end).
FIRED: dict[str, list[tuple[PiiKind, int, int]]] = {
    "s1": [(E, 5, 18)],  # email true positive
    "s2": [(P, 5, 17)],  # first phone found, second missed (and leaked)
    "s3": [(C, 5, 14), (C, 15, 24)],  # one card in two pieces: 2 true positives, 1 span found, nothing leaked
    "s4": [(IP, 8, 13)],  # a version taken for an address: false positive, and a false alarm on a negative
    "s5": [(P, 8, 19)],  # the address found with the wrong kind: a phone false positive, an IP miss, no leak;
    "s6": [],  # the name missed and leaked
}


def scripted(fired: Mapping[str, list[tuple[PiiKind, int, int]]]) -> Detector:
    return lambda s: [Finding(start, end, kind) for kind, start, end in fired[s.id]]


@pytest.fixture
def report() -> PiiReport:
    return evaluate_pii(TINY, scripted(FIRED))


def test_per_kind_counts_and_scores(report: PiiReport) -> None:
    k = report.per_kind

    assert k[E] == KindCounts(tp=1, fp=0, found=1, missed=0, leaked=0)
    assert k[P] == KindCounts(tp=1, fp=1, found=1, missed=1, leaked=1)
    assert k[C] == KindCounts(tp=2, fp=0, found=1, missed=0, leaked=0)
    assert k[IP] == KindCounts(tp=0, fp=1, found=0, missed=1, leaked=0)
    assert k[N] == KindCounts(tp=0, fp=0, found=0, missed=1, leaked=1)
    assert (k[E].precision, k[E].recall) == (1.0, 1.0)
    assert (k[P].precision, k[P].recall) == (0.5, 0.5)
    assert (k[C].precision, k[C].recall) == (1.0, 1.0)
    assert (k[IP].precision, k[IP].recall) == (0.0, 0.0)
    assert (k[N].precision, k[N].recall) == (None, 0.0)
    assert (k[PiiKind.IBAN].precision, k[PiiKind.IBAN].recall) == (None, None)


def test_overall_is_micro_averaged(report: PiiReport) -> None:
    overall = report.overall

    assert overall == KindCounts(tp=4, fp=2, found=3, missed=3, leaked=2)
    assert overall.precision == pytest.approx(4 / 6)
    assert overall.recall == 0.5
    assert overall.support == 6


def test_negatives_false_alarms_and_errors(report: PiiReport) -> None:
    assert (report.snippets, report.negatives, report.false_alarms) == (6, 2, 1)
    assert report.errors == [
        Error("s2", "missed", P, "202-555-0199"),
        Error("s4", "fp", IP, "5.2.1"),
        Error("s5", "fp", P, "203.0.113.5"),
        Error("s5", "missed", N, "Jane"),
        Error("s5", "missed", IP, "203.0.113.5"),
    ]


def test_render_markdown(report: PiiReport) -> None:
    text = render_markdown(report, "Tiny")

    assert text.startswith("## Tiny\n")
    assert "| PHONE | 0.500 | 0.500 | 2 | 1 | 1 | 1 | 1 | 1 |" in text
    assert "| NAME | n/a | 0.000 | 1 | 0 | 0 | 0 | 1 | 1 |" in text
    assert "| IBAN | n/a | n/a | 0 | 0 | 0 | 0 | 0 | 0 |" in text
    assert "| **overall (micro)** | 0.667 | 0.500 | 6 | 4 | 2 | 3 | 3 | 2 |" in text
    assert "6 snippets; 1 of 2 hard negatives had a finding." in text
    assert "- s4: fp IP '5.2.1'\n" in render_errors(report)


def test_gold_spans_count_every_occurrence_and_merge_nested_labels() -> None:
    s = snippet("n", "Ann Lee; Lee again", (N, "Ann Lee"), (N, "Lee"), names=["Ann Lee"])

    assert gold_spans(s) == [Finding(0, 7, N), Finding(9, 12, N)]


def test_the_default_detector_is_the_scrubber() -> None:
    cases = [snippet("r", "Jane Roe <jane@example.com>", (N, "Jane Roe"), (E, "jane@example.com"), names=["Jane Roe"])]

    report = evaluate_pii(cases)

    assert report.overall == KindCounts(tp=2, fp=0, found=2, missed=0, leaked=0)


def write(tmp_path: Path, *rows: object) -> Path:
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_load_snippets_reads_the_format(tmp_path: Path) -> None:
    row = {"id": "a", "text": "x a@example.com", "names": [], "spans": [{"kind": "EMAIL", "text": "a@example.com"}]}

    assert load_snippets(write(tmp_path, row, "", {"id": "b", "text": "clean"})) == [
        snippet("a", "x a@example.com", (E, "a@example.com")),
        snippet("b", "clean"),
    ]


@pytest.mark.parametrize(
    ("rows", "line", "message"),
    [
        (['{"id": "a", "text": "t"', ""], 1, "bad PII snippet"),
        ([{"id": "a", "text": "t", "spans": [{"kind": "EMAIL", "text": "z@example.com"}]}], 1, "not in the snippet"),
        ([{"id": "a", "text": "t", "spans": [{"kind": "SSN", "text": "t"}]}], 1, "bad PII snippet"),
        ([{"id": "a", "text": "t"}, {"id": "a", "text": "u"}], 2, "duplicate snippet id 'a'"),
    ],
)
def test_load_snippets_names_the_bad_line(tmp_path: Path, rows: list[object], line: int, message: str) -> None:
    with pytest.raises(SourceError, match=message) as caught:
        load_snippets(write(tmp_path, *rows))

    assert caught.value.line == line


def test_the_shipped_sets_load_and_have_enough_negatives() -> None:
    root = Path(__file__).resolve().parents[2] / "eval" / "pii"
    snippets = [s for name in ("snippets.jsonl",) for s in load_snippets(root / name)]

    assert len(snippets) >= 140
    assert sum(not s.spans for s in snippets) >= 50
