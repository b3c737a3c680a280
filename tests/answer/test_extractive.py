"""ExtractiveGenerator: answers are verbatim, cited source text chosen by similarity to the question."""

from __future__ import annotations

import re

import pytest

from deflect.answer.extractive import ExtractiveGenerator
from deflect.domain.models import Answer, SourceHit
from deflect.index.embedder import CachedEmbedder
from deflect.testing import HashEmbedder

from .builders import chunk, source, source_of

_CITED = re.compile(r"\s*(.+?) \[(\d+)\]")

PASSWORD = (
    "Forgot your password? You can reset your password yourself.\n\n"
    "1. Open the sign-in page and click Forgot password.\n"
    "2. Enter your work email address.\n"
    "3. Open the reset link we email you.\n\n"
    "The reset link is valid for 60 minutes."
)
INVOICES = (
    "Every invoice is listed under Settings, Billing, Invoices. "
    "Download invoices as PDF files from the invoices page. Invoices are issued monthly."
)
EXPORT = "Export invoices to CSV files from the reports page. Exports include every invoice of the year."


def generator(**kwargs: int) -> ExtractiveGenerator:
    return ExtractiveGenerator(HashEmbedder(), **kwargs)


def cited_pieces(answer: Answer) -> list[tuple[str, int]]:
    """(sentence without marker, citation number) for each marked sentence, in order."""
    pieces = [(m.group(1).strip(), int(m.group(2))) for m in _CITED.finditer(answer.text)]
    assert _CITED.sub("", answer.text).strip() == "", "text outside a cited sentence"
    return pieces


def quotable(hit: SourceHit) -> str:
    return "\n".join(c.chunk.quotable for c in hit.chunks)


CASES = [
    ("How do I reset my password?", [source("pw", PASSWORD)]),
    ("How do I download invoices as PDF?", [source("inv", INVOICES), source("exp", EXPORT, score=0.95)]),
    (
        "Can I export invoices to CSV or download them as PDF?",
        [source("exp", EXPORT), source("inv", INVOICES, score=0.97)],
    ),
    ("Where do I open the reset link?", [source("pw", PASSWORD), source("inv", INVOICES, score=0.92)]),
]


@pytest.mark.parametrize(("question", "sources"), CASES)
def test_every_sentence_is_verbatim_text_of_the_source_it_cites(question: str, sources: list[SourceHit]) -> None:
    answer = generator().generate(question, sources)

    pieces = cited_pieces(answer)
    assert pieces, "expected a non-empty answer"
    by_n = {c.n: c.source_id for c in answer.citations}
    texts = {s.source_id: quotable(s) for s in sources}
    for sentence, n in pieces:
        assert sentence in texts[by_n[n]], f"{sentence!r} is not in source {by_n[n]}"
    assert [s for s, _ in pieces] == answer.sentences


@pytest.mark.parametrize(("question", "sources"), CASES)
def test_citations_are_numbered_in_order_of_first_use_and_match_the_markers(
    question: str, sources: list[SourceHit]
) -> None:
    answer = generator().generate(question, sources)

    used = list(dict.fromkeys(n for _, n in cited_pieces(answer)))
    assert used == list(range(1, len(used) + 1))
    assert [c.n for c in answer.citations] == used
    assert len({c.source_id for c in answer.citations}) == len(answer.citations)


def test_a_citation_carries_the_cited_source_and_a_snippet_of_it() -> None:
    hit = source("inv", INVOICES)

    answer = generator().generate("How do I download invoices as PDF?", [hit])

    (citation,) = answer.citations
    assert (citation.source_id, citation.title, citation.url) == (hit.source_id, hit.title, hit.url)
    assert citation.snippet.rstrip("…") in INVOICES


def test_a_question_about_a_step_returns_the_whole_procedure_in_order() -> None:
    answer = generator().generate("Where do I enter my work email address?", [source("pw", PASSWORD)])

    lines = [sentence for sentence, _ in cited_pieces(answer)]
    steps = [
        "1. Open the sign-in page and click Forgot password.",
        "2. Enter your work email address.",
        "3. Open the reset link we email you.",
    ]
    assert lines[-3:] == steps
    assert [line for line in lines if line[0].isdigit()] == steps
    assert answer.text.count("\n") == len(lines) - 1  # one step per line


def test_an_escalation_quotes_the_resolution_never_the_customer_question() -> None:
    question = "Our webhook signature check fails on every single delivery."
    head = f"Webhook signature fails\n\n{question}"
    text = (
        head + "\n\nResolution: The HMAC was computed over re-serialised JSON. "
        "Compute the webhook signature HMAC over the raw request body instead."
    )
    esc = chunk("esc:ESC-1", 0, text, quote_from=text.index("The HMAC"), kind="escalation")

    answer = generator().generate(question, [source_of(esc)])

    assert answer.sentences
    assert "check fails" not in answer.text
    assert "Webhook signature fails" not in answer.text
    for sentence in answer.sentences:
        assert sentence in esc.quotable


@pytest.mark.parametrize(("second_score", "cited"), [(0.95, True), (0.9, True), (0.89, False), (0.5, False)])
def test_a_second_source_is_cited_only_when_it_scores_close_to_the_first(second_score: float, cited: bool) -> None:
    question = "Can I export invoices to CSV files or download invoices as PDF files?"
    sources = [source("inv", INVOICES, score=1.0), source("exp", EXPORT, score=second_score)]

    answer = generator().generate(question, sources)

    assert answer.citations[0].source_id == "inv"
    assert ("exp" in {c.source_id for c in answer.citations}) is cited


def test_a_third_source_is_never_cited_with_the_default_two_sources() -> None:
    question = "Can I export invoices to CSV files or download invoices as PDF files?"
    sources = [
        source("a", INVOICES),
        source("b", INVOICES + " Invoices are also emailed.", score=0.99),
        source("c", EXPORT, score=0.99),
    ]

    answer = generator().generate(question, sources)

    assert "c" not in {c.source_id for c in answer.citations}


@pytest.mark.parametrize("max_sentences", [1, 2, 3])
def test_prose_answers_have_at_most_max_sentences(max_sentences: int) -> None:
    formats = ("CSV", "PDF", "XML", "JSON", "HTML")
    text = " ".join(f"The invoice export supports {fmt} files." for fmt in formats)

    answer = generator(max_sentences=max_sentences).generate(
        "Which files does the invoice export support?", [source("exp", text)]
    )

    assert len(answer.sentences) == max_sentences
    assert len(cited_pieces(answer)) == max_sentences


def test_no_sources_give_an_empty_answer() -> None:
    answer = generator().generate("How do I reset my password?", [])

    assert answer.text == ""
    assert answer.citations == []
    assert answer.sentences == []


def test_a_sentence_repeated_by_overlapping_chunks_appears_once() -> None:
    shared = "Invoices can be downloaded as PDF from the billing page."
    hit = source("inv", f"Billing runs monthly. {shared}", f"{shared} Invoices are kept for seven years.")

    answer = generator().generate("Can invoices be downloaded as PDF from the billing page?", [hit])

    assert answer.sentences.count(shared) == 1
    assert answer.text.count(shared) == 1


def test_sentence_embeddings_are_cached_across_questions() -> None:
    embedder = HashEmbedder()
    gen = ExtractiveGenerator(CachedEmbedder(embedder))  # as wiring builds it
    hit = source("doc:a", "Reset links are valid for 60 minutes. Five failed logins lock the account.")
    gen.generate("how long is a reset link valid", [hit])
    texts_embedded_before = embedder.texts
    gen.generate("when does the account lock", [hit])
    # The second question embeds only itself: the sentences came from the cache.
    assert embedder.texts - texts_embedded_before == 1
