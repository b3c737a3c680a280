"""DeflectService.ask gives the answer's generator each article's page opening (deflect.retrieval.openings), read
from the index; when that read fails, the question is still answered, without it. Over the fakes."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

import pytest

from deflect.config import Settings
from deflect.domain.models import Answer, Audience, Chunk, SourceHit
from deflect.errors import IndexUnavailable
from deflect.index.keyword import SqliteKeywordIndex
from deflect.retrieval.openings import FOLLOWING, NEARBY
from deflect.service import DeflectService
from deflect.testing import InMemoryIndex
from deflect.testing.fakes import ScriptedGenerator
from deflect.testing.keyword import InMemoryKeywordIndex

_SLOW = " ".join(f"Run {i} of a traced program is about ten times slower than an untraced run." for i in range(20))
_SITES = " ".join(f"Site {i} of a function is listed with the callers that reached it through it." for i in range(20))
TRACER = f"""---
title: Tracer, a call profiler
audience: public
---
# Tracer, a call profiler

To use this tool, you must specify `--tool=tracer` on the Tally command line.

## Overview

Tracer is a profiler for programs run under Tally. {_SLOW}

## Call counts

Tracer counts how often each function of your program is called, and how often each call site calls it.
The counts include calls made from shared libraries. {_SITES}
"""
QUESTION = "How do I count how often each function is called from each call site?"


class RecordingGenerator(ScriptedGenerator):
    """The scripted answer; keeps the sources it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.sources: list[SourceHit] = []

    def generate(self, question: str, sources: Sequence[SourceHit]) -> Answer:
        self.sources = list(sources)
        return super().generate(question, sources)


class BrokenPageReads(InMemoryIndex):
    """Searches work; reading a page's chunks fails (a Chroma `get` error)."""

    fail = False

    def chunks(self, *args: Any, **kwargs: Any) -> list[Chunk]:
        if self.fail:
            raise RuntimeError("Error executing plan")
        return super().chunks(*args, **kwargs)


class PageReads(InMemoryKeywordIndex):
    """The keyword index, counting its reads by id (how openings are read); they fail once `fail` is set."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.failing = fail  # from the ask on: ingestion writes it first
        self.fail = False
        self.reads = 0

    def chunks(self, chunk_ids: Collection[str], audiences: frozenset[str]) -> list[Chunk]:
        self.reads += 1
        if self.fail:
            raise IndexUnavailable("the keyword index failed while reading: database is locked")
        return super().chunks(chunk_ids, audiences)


def ask(
    make_service: Callable[..., DeflectService],
    settings: Settings,
    index: InMemoryIndex,
    question: str = QUESTION,
    keyword: InMemoryKeywordIndex | None = None,
) -> RecordingGenerator:
    Path(settings.kb_dir, "articles", "tracer.md").write_text(TRACER, encoding="utf-8")
    generator = RecordingGenerator()
    service = make_service(index=index, generator=generator, keyword_index=keyword or InMemoryKeywordIndex())
    if isinstance(index, BrokenPageReads):
        index.fail = True
    if isinstance(keyword, PageReads):
        keyword.fail = keyword.failing
    service.ask(question, Audience.CUSTOMER, record=False)
    return generator


def test_the_generator_gets_the_opening_of_a_page_answered_from_a_later_section(
    make_service: Callable[..., DeflectService], settings: Settings
) -> None:
    generator = ask(make_service, settings, InMemoryIndex())

    top = generator.sources[0]
    assert top.source_id == "doc:articles/tracer"
    assert all(not c.chunk.chunk_id.endswith("#0") for c in top.chunks), "the fixture must not retrieve the opening"
    assert top.opening is not None and "`--tool=tracer`" in top.opening.text


def test_a_failing_page_read_leaves_the_answer_without_the_opening(
    make_service: Callable[..., DeflectService], settings: Settings
) -> None:
    generator = ask(make_service, settings, BrokenPageReads(), keyword=PageReads(fail=True))

    assert generator.sources and generator.sources[0].opening is None


def test_a_failing_keyword_read_is_made_from_the_vector_index(
    make_service: Callable[..., DeflectService], settings: Settings
) -> None:
    index, keyword = CountingPageReads(), PageReads(fail=True)

    generator = ask(make_service, settings, index, keyword=keyword)

    # The retrieved chunks' read failed too, and the vector index was queried with its chunks instead (not a read
    # by id); then the openings' read failed and was made from the vector index.
    assert keyword.reads == 2 and index.reads == 1
    assert generator.sources[0].opening is not None and "`--tool=tracer`" in generator.sources[0].opening.text


class CountingPageReads(InMemoryIndex):
    """Counts reads of chunks by id (how openings are read)."""

    reads = 0

    def chunks(self, *args: Any, **kwargs: Any) -> list[Chunk]:
        self.reads += 1 if kwargs.get("chunk_ids") else 0
        return super().chunks(*args, **kwargs)


@pytest.mark.parametrize(
    ("question", "opening"),
    [(QUESTION, True), ("Which call sites does Tracer count for each function of a program?", False)],
)
def test_only_a_how_to_question_reads_openings(
    make_service: Callable[..., DeflectService], settings: Settings, question: str, opening: bool
) -> None:
    # Only a how-to answer quotes an opening (deflect.answer.extractive); every answer reads the chunks next to its
    # first source's retrieved ones, in the same one read.
    index, keyword = CountingPageReads(), PageReads()
    generator = ask(make_service, settings, index, question, keyword)

    assert generator.sources[0].source_id == "doc:articles/tracer"
    assert (generator.sources[0].opening is not None) == opening
    assert keyword.reads == 2, "the retrieved chunks, then openings and neighbours in one read, from the keyword index"
    assert index.reads == 0, "it holds every chunk at the version retrieved: nothing is read from the vector index"


def wanting(monkeypatch: pytest.MonkeyPatch, ids: set[str]) -> None:
    """The answer wants these neighbours (deflect.answer.passages.neighbours_wanted decides on the chunks' text;
    its cases are tested there): the service's part is to read them."""
    monkeypatch.setattr("deflect.service.neighbours_wanted", lambda sources: set(ids))


@pytest.mark.parametrize("question", [QUESTION, "Which call sites does Tracer count for each function of a program?"])
def test_neighbours_are_read_in_the_one_read_with_the_openings_whatever_the_question(
    make_service: Callable[..., DeflectService],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    question: str,
) -> None:
    wanting(monkeypatch, {"doc:articles/tracer#1"})
    index, keyword = CountingPageReads(), PageReads()

    generator = ask(make_service, settings, index, question, keyword)

    top = generator.sources[0]
    assert keyword.reads == 2 and index.reads == 0  # the retrieved chunks, then neighbours and openings
    assert [c.chunk_id for c in top.context] == ["doc:articles/tracer#1"]
    assert "#1" not in {c.chunk.chunk_id[-2:] for c in top.chunks}, "the fixture must not retrieve the neighbour"


def test_a_failing_read_leaves_the_answer_without_its_neighbours(
    make_service: Callable[..., DeflectService], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    wanting(monkeypatch, {"doc:articles/tracer#1"})

    generator = ask(make_service, settings, BrokenPageReads(), keyword=PageReads(fail=True))

    assert generator.sources and generator.sources[0].context == []


QUESTION_NOT_HOW = "Which call sites does Tracer count for each function of a program?"
_LATER = " ".join(f"Report {i} of a traced run lists its functions by their call counts." for i in range(20))
TRACER_LONG = (
    TRACER
    + f"""
## Reading the report

Tracer writes one report per run. {_LATER}

To print the report sorted by call count:

```
tracer-report --sort=calls tracer.out.1234
```

## Limits

Tracer slows a program down by a factor of ten. {_SLOW}
"""
)


def ask_long(
    make_service: Callable[..., DeflectService], settings: Settings, question: str
) -> tuple[RecordingGenerator, PageReads]:
    """Ask about the longer tracer page; the generator has the sources it was given, the keyword index counts reads
    by id (the vector index is read by id only for what the keyword index lacks: nothing here)."""
    Path(settings.kb_dir, "articles", "tracer.md").write_text(TRACER_LONG, encoding="utf-8")
    generator = RecordingGenerator()
    index, keyword = CountingPageReads(), PageReads()
    service = make_service(index=index, generator=generator, keyword_index=keyword)
    service.ask(question, Audience.CUSTOMER, record=False)
    assert index.reads == 0
    return generator, keyword


@pytest.mark.parametrize(("question", "read"), [(QUESTION, True), (QUESTION_NOT_HOW, False)])
def test_a_how_to_answer_gets_the_chunks_after_its_top_sources_retrieved_ones_in_the_same_read(
    make_service: Callable[..., DeflectService], settings: Settings, question: str, read: bool
) -> None:
    generator, index = ask_long(make_service, settings, question)

    top = generator.sources[0]
    retrieved = {c.chunk.chunk_id for c in top.chunks}
    numbers = sorted(int(i.rpartition("#")[2]) for i in retrieved)
    after = {f"doc:articles/tracer#{n + k}" for n in numbers for k in range(1, FOLLOWING + 1)} - retrieved
    after = {i for i in after if int(i.rpartition("#")[2]) < top.chunks[0].chunk.source_chunks}
    assert top.source_id == "doc:articles/tracer"
    assert after, "the fixture must leave chunks after the retrieved ones"
    assert index.reads == 2, "after the retrieved chunks, the chunks next to them are read for any question"
    assert {c.chunk_id for c in top.following} == (after if read else set())


def test_every_answer_gets_the_chunks_next_to_its_first_sources_retrieved_ones(
    make_service: Callable[..., DeflectService], settings: Settings
) -> None:
    generator, index = ask_long(make_service, settings, QUESTION_NOT_HOW)

    top = generator.sources[0]
    retrieved = {c.chunk.chunk_id for c in top.chunks}
    numbers = {int(i.rpartition("#")[2]) for i in retrieved}
    size = top.chunks[0].chunk.source_chunks
    near = {f"doc:articles/tracer#{n + k}" for n in numbers for k in range(-NEARBY, NEARBY + 1) if 0 <= n + k < size}
    assert near - retrieved, "the fixture must leave chunks next to the retrieved ones"
    assert index.reads == 2  # the retrieved chunks, then the ones next to them
    assert {c.chunk_id for c in top.nearby} == near - retrieved
    assert all(s.nearby == [] for s in generator.sources[1:]), "the first source's only"


class ForgetfulPageReads(SqliteKeywordIndex):
    """The embedded keyword index, holding nothing by id: the retrieved chunks and every opening are read from the
    vector index, as before the keyword index served those reads."""

    def chunks(self, chunk_ids: Collection[str], audiences: frozenset[str]) -> list[Chunk]:
        return []


@pytest.mark.parametrize("audience", [Audience.CUSTOMER, Audience.AGENT])
def test_an_answer_quoting_its_pages_opening_is_the_same_whichever_index_the_opening_is_read_from(
    make_service: Callable[..., DeflectService], settings: Settings, audience: Audience, tmp_path: Path
) -> None:
    Path(settings.kb_dir, "articles", "tracer.md").write_text(TRACER_LONG, encoding="utf-8")
    results = []
    for keyword in (SqliteKeywordIndex(tmp_path / "served.sqlite3"), ForgetfulPageReads(tmp_path / "former.sqlite3")):
        index = CountingPageReads()
        service = make_service(index=index, keyword_index=keyword)  # the extractive generator
        results.append((service.ask(QUESTION, audience, record=False), index.reads))

    (served, vector_reads_served), (former, vector_reads_former) = results
    assert (vector_reads_served, vector_reads_former) == (0, 2)
    assert "`--tool=tracer`" in (served.answer or served.draft_answer or ""), "the answer quotes the opening"
    assert served.model_dump(exclude={"id", "latency_ms"}) == former.model_dump(exclude={"id", "latency_ms"})
