"""suggested_pages(): the pages an escalated asker is pointed at while waiting, and the hand-off sentence that
introduces them. Pure: hits are built here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from deflect.domain.models import Answer, Chunk, Citation, ScoredChunk, SourceHit
from deflect.escalations import SUGGEST_MAX, customer_message, page_excerpt, suggested_pages

from .builders import CONFIG, at, config_with, escalation, raw_config

PUBLIC = frozenset({"public"})
EVERYONE = frozenset({"public", "internal"})
FLOOR = 0.3


def chunk(source_id: str, n: int, heading: str, audience: Literal["public", "internal"]) -> ScoredChunk:
    return ScoredChunk(
        chunk=Chunk(
            chunk_id=f"{source_id}#{n}",
            source_id=source_id,
            kind="article",
            title=f"Title of {source_id}",
            heading_path=heading,
            audience=audience,
            text="text",
            origin="test",
            source_hash="h",
            source_chunks=3,
        )
    )


def hit(source_id: str, dense: float, audience: Literal["public", "internal"] = "public", url: str = "") -> SourceHit:
    """A retrieved source whose best chunk is section #2 ('Section 2 of <id>'), then its opening."""
    return SourceHit(
        source_id=source_id,
        title=f"Title of {source_id}",
        url=url,
        kind="article",
        score=dense,
        dense=dense,
        chunks=[chunk(source_id, 2, f"Section 2 of {source_id}", audience), chunk(source_id, 0, "", audience)],
    )


def ids(hits: list[SourceHit], visible: frozenset[str] = PUBLIC) -> list[str]:
    return [p.source_id for p in suggested_pages(hits, visible, FLOOR)]


def test_pages_come_in_rank_order_with_the_best_sections_heading_and_no_text() -> None:
    pages = suggested_pages([hit("b", 0.6, url="https://help.example/b#s2"), hit("a", 0.7)], PUBLIC, FLOOR)

    assert [p.source_id for p in pages] == ["b", "a"]  # the retriever's order, not re-sorted by cosine
    assert pages[0].heading == "Section 2 of b" and pages[0].url == "https://help.example/b#s2"
    # A pointer: the excerpt is quoted by the service (`page_excerpt`), for the first page of a customer only.
    assert all(p.excerpt == "" for p in pages)


def test_a_resolved_escalation_is_suggested_without_its_record_section_as_heading() -> None:
    resolved = hit("esc:ESC-1", 0.6)
    resolved = resolved.model_copy(
        update={
            "kind": "escalation",
            "chunks": [
                c.model_copy(update={"chunk": c.chunk.model_copy(update={"kind": "escalation"})})
                for c in resolved.chunks
            ],
        }
    )

    assert [(p.source_id, p.heading) for p in suggested_pages([resolved], PUBLIC, FLOOR)] == [("esc:ESC-1", "")]


def test_pages_under_the_relevance_floor_are_left_out() -> None:
    assert ids([hit("a", 0.5), hit("b", FLOOR - 0.01), hit("c", FLOOR)]) == ["a", "c"]
    assert ids([hit("a", FLOOR - 0.2)]) == []


def test_a_customer_is_never_pointed_at_an_internal_page_even_if_retrieval_returned_one() -> None:
    hits = [hit("runbook", 0.9, "internal"), hit("article", 0.5)]

    assert ids(hits, PUBLIC) == ["article"]
    assert ids(hits, EVERYONE) == ["runbook", "article"]


def test_a_source_with_any_chunk_the_asker_may_not_see_is_left_out() -> None:
    mixed = hit("mixed", 0.9)
    mixed = mixed.model_copy(update={"chunks": [mixed.chunks[0], chunk("mixed", 5, "Internal notes", "internal")]})

    assert ids([mixed, hit("article", 0.5)]) == ["article"]


def test_at_most_three_pages() -> None:
    hits = [hit(f"p{i}", 0.9 - i / 100) for i in range(6)]

    assert ids(hits) == [f"p{i}" for i in range(SUGGEST_MAX)] and SUGGEST_MAX == 3


def test_the_hand_off_introduces_the_pages_last_only_when_there_are_some() -> None:
    esc = escalation(reasons=("low_confidence",))

    plain = customer_message(esc, CONFIG, at())
    with_pages = customer_message(esc, CONFIG, at(), pages=True)

    assert with_pages.startswith(plain)
    assert with_pages.endswith("\n\nWhile you wait, these pages may help:")
    assert "may help" not in plain


def test_the_sentence_comes_from_the_config() -> None:
    config = config_with(messages={**raw_config()["messages"], "suggestions": "Meanwhile, try these:"})

    assert customer_message(escalation(config=config), config, at(), pages=True).endswith("\n\nMeanwhile, try these:")


def test_with_an_excerpt_the_hand_off_says_what_it_is_instead() -> None:
    esc = escalation(reasons=("low_confidence",))

    pointers = customer_message(esc, CONFIG, at(), pages=True)
    quoted = customer_message(esc, CONFIG, at(), pages=True, excerpt=True)

    assert quoted == customer_message(esc, CONFIG, at()) + "\n\n" + CONFIG.messages.suggestions_excerpt
    assert quoted != pointers and customer_message(esc, CONFIG, at(), excerpt=True) == customer_message(
        esc, CONFIG, at()
    )
    sentence = CONFIG.messages.suggestions_excerpt
    # From the docs, may answer it, a person follows up unless the customer says it solved it.
    assert "documentation" in sentence and "may" in sentence and "solved it" in sentence and "still reply" in sentence


class Recording:
    """A generator that quotes its first source's first chunk, or returns what it is told to."""

    def __init__(self, answer: Answer | None = None) -> None:
        self.answer = answer
        self.asked: list[list[str]] = []

    def __call__(self, question: str, sources: Sequence[SourceHit]) -> Answer:
        self.asked.append([s.source_id for s in sources])
        if self.answer is not None:
            return self.answer
        top = sources[0]
        cite = Citation(n=1, source_id=top.source_id, title=top.title, url=top.url, snippet="text")
        return Answer(text=f"{top.chunks[0].chunk.text} [1]", citations=[cite])


def test_an_excerpt_is_generated_from_the_pages_own_hit_alone() -> None:
    hits = [hit("a", 0.7), hit("b", 0.6)]
    page = suggested_pages(hits, PUBLIC, FLOOR)[1]
    generate = Recording()

    assert page_excerpt("q", page, hits, generate) == "text [1]"
    assert generate.asked == [["b"]]


def test_no_excerpt_when_nothing_is_quoted_or_another_page_is_cited() -> None:
    hits = [hit("a", 0.7)]
    page = suggested_pages(hits, PUBLIC, FLOOR)[0]
    other = Citation(n=1, source_id="z", title="Z", url="", snippet="")

    assert page_excerpt("q", page, hits, Recording(Answer(text="", citations=[]))) == ""
    assert page_excerpt("q", page, hits, Recording(Answer(text="quote [1]", citations=[]))) == ""
    assert page_excerpt("q", page, hits, Recording(Answer(text="quote [1]", citations=[other]))) == ""
    assert page_excerpt("q", page, [hit("c", 0.7)], Recording()) == ""  # the page is not among the hits
