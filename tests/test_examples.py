"""Example questions from the served KB: public article titles only, a deterministic pick, headings when titles run
short, and the cache that spares a whole-index read on every page load."""

from __future__ import annotations

import random

import pytest

from deflect.bounded import Bounded
from deflect.domain.models import Chunk
from deflect.errors import IndexUnavailable
from deflect.examples import ExampleQuestions, example_questions
from deflect.testing import InMemoryIndex
from deflect.testing.contracts import make_chunk


def chunk(source_id: str, title: str, heading: str = "", audience: str = "public", kind: str = "article") -> Chunk:
    return make_chunk(f"{source_id}#{heading}", audience, title=title, heading_path=heading, kind=kind)


TITLES = [
    "Trimming lantern wicks",
    "Refilling the oil tank",
    "Storing lanterns for winter",
    "Replacing a cracked globe",
    "Choosing a wick size",
]
PUBLIC = [chunk(f"doc:p{i}", title) for i, title in enumerate(TITLES)]


def test_only_public_article_titles_are_offered() -> None:
    chunks = [
        *PUBLIC,
        chunk("doc:runbook", "Refund approvals above the limit", audience="internal"),
        chunk("esc:1", "Customer says the lantern smokes", kind="escalation"),
    ]

    picked = example_questions(chunks, n=10)

    assert sorted(picked) == sorted(c.title for c in PUBLIC)


def test_the_pick_is_deterministic_whatever_order_the_index_returns() -> None:
    first = example_questions(PUBLIC, n=3)
    shuffled = PUBLIC[:]
    for seed in range(5):
        random.Random(seed).shuffle(shuffled)
        assert example_questions(shuffled, n=3) == first
    assert len(first) == 3 and len(set(first)) == 3


def test_a_new_page_moves_at_most_one_example() -> None:
    before = example_questions(PUBLIC, n=3)
    after = example_questions([*PUBLIC, chunk("doc:new", "Cleaning soot from the chimney")], n=3)
    assert len(set(before) & set(after)) >= 2


def test_titles_a_visitor_would_not_type_are_left_out() -> None:
    chunks = [
        chunk("doc:a", "Overview"),  # one content word says nothing to ask about
        chunk("doc:b", "Lanterns | Acme documentation"),  # "|" separates the widget's examples
        chunk("doc:c", "A very long title " * 6),
        chunk("doc:d", "Why?"),  # a question, however short
        chunk("doc:e", "Fuel   safety\nrules"),
    ]

    assert sorted(example_questions(chunks, n=10)) == ["Fuel safety rules", "Why?"]


def test_a_manual_s_chapter_numbers_are_not_part_of_the_question() -> None:
    chunks = [
        chunk("doc:a", "4. Memcheck: a memory error detector"),
        chunk("doc:b", "2.3.1 Tuning the cache size"),
        chunk("doc:c", "1984 Olympic lantern relay"),  # a number that is the title's own word, not a section's
    ]

    assert sorted(example_questions(chunks, n=10)) == [
        "1984 Olympic lantern relay",
        "Memcheck: a memory error detector",
        "Tuning the cache size",
    ]


def test_headings_top_up_a_kb_with_too_few_titles() -> None:
    chunks = [
        chunk("doc:manual", "The lantern manual", "Lighting > Lighting the wick safely"),
        chunk("doc:manual", "The lantern manual", "Lighting > Overview"),
        chunk("doc:manual", "The lantern manual", "Maintenance > Cleaning the globe"),
        chunk("doc:secret", "Secret", "Supplier discount codes", audience="internal"),
    ]

    picked = example_questions(chunks, n=3)

    assert picked[0] == "The lantern manual"  # titles first
    assert sorted(picked[1:]) == ["Cleaning the globe", "Lighting the wick safely"]


def test_the_same_title_on_many_chunks_is_offered_once() -> None:
    chunks = [chunk("doc:a", "Trimming lantern wicks", f"Part {i}") for i in range(5)]
    assert example_questions(chunks, n=1) == ["Trimming lantern wicks"]


class CountingIndex(InMemoryIndex):
    def __init__(self) -> None:
        super().__init__()
        self.scans = 0

    def pages(self, size: int = 1000):  # type: ignore[no-untyped-def]
        self.scans += 1
        return super().pages(size)


def examples_of(index: InMemoryIndex) -> ExampleQuestions:
    return ExampleQuestions(index, Bounded("index", 5.0, IndexUnavailable), Bounded("scan", 5.0, IndexUnavailable))


def test_the_pick_is_kept_until_the_index_changes() -> None:
    index = CountingIndex()
    index.upsert(PUBLIC[:2], [[1.0]] * 2)
    examples = examples_of(index)

    first = examples.get(3)
    assert examples.get(3) == first and index.scans == 1  # unchanged index: no second read

    index.upsert(PUBLIC[2:], [[1.0]] * 3)  # another process's ingest: the count changed
    assert len(examples.get(3)) == 3 and index.scans == 2

    examples.invalidate()  # this process's ingest
    examples.get(3)
    assert index.scans == 3


def test_an_empty_index_has_no_examples_and_is_not_read() -> None:
    index = CountingIndex()
    assert examples_of(index).get(3) == []
    assert index.scans == 0


def test_an_index_that_fails_is_unavailable() -> None:
    class Broken(InMemoryIndex):
        def count(self) -> int:
            raise RuntimeError("connection refused")

    with pytest.raises(IndexUnavailable):
        examples_of(Broken()).get(3)


def test_questions_in_titles_or_headings_come_before_topic_titles() -> None:
    chunks = [
        *PUBLIC,
        chunk("doc:faq", "Frequently asked questions", "Wicks > How do I stop a wick from smoking?"),
        chunk("doc:faq", "Frequently asked questions", "Fuel > Can I burn olive oil?"),
        chunk("doc:hidden", "Runbook", "Why do refunds fail?", audience="internal"),
    ]

    picked = example_questions(chunks, n=3)

    assert sorted(picked[:2]) == ["Can I burn olive oil?", "How do I stop a wick from smoking?"]
    assert picked[2] in {c.title for c in PUBLIC}  # then titles, as before
