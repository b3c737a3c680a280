"""A PDF without an outline gets its headings from the type (ingest/pdf/typography.py).

Each case is a PDF written at test time by fpdf2 with no bookmarks, its titles set larger or bolder than its text
the way a word processor, a help-center export or a man page printed to PDF sets them, then read back by pypdf.
The text is ours.
"""

from __future__ import annotations

import re

from fpdf import FPDF

from deflect.ingest.chunking import Chunker
from deflect.ingest.pdf import OutlineEntry, pdf_to_markdown, read_pdf
from deflect.ingest.pdf.typography import sparse
from deflect.ingest.rules import KbRules
from deflect.ingest.sources import parse_pdf

# A line: (size, style "" or "B", indent in points, text); None is a paragraph's extra space.
Spec = tuple[float, str, float, str] | None

TEXT = "The kettle heats water to the temperature chosen on the dial and keeps it warm for thirty"


def document(pages: list[list[Spec]], bookmarks: list[tuple[str, int]] = ()) -> bytes:  # type: ignore[assignment]
    """A PDF of `pages` in Helvetica, a footer with the page number on each, `bookmarks` as (title, 1-based page)."""
    pdf = FPDF(unit="pt", format="A4")
    pdf.set_auto_page_break(False)
    for n, lines in enumerate(pages, start=1):
        pdf.add_page()
        for title, page in bookmarks:
            if page == n:
                pdf.start_section(title)
        y = 80.0
        for spec in lines:
            if spec is None:
                y += 11
                continue
            size, style, indent, text = spec
            y += max(0.0, size - 10) * 1.2  # a larger title takes more room above it
            pdf.set_font("Helvetica", style=style, size=size)
            pdf.text(72 + indent, y, text)
            y += size * 1.2
        pdf.set_font("Helvetica", size=10)
        pdf.text(300, 800, str(n))
    return bytes(pdf.output())


def body(text: str, indent: float = 0) -> Spec:
    return (10, "", indent, text)


PAGES: list[list[Spec]] = [
    [
        (18, "B", 0, "Kettle Handbook"),
        None,
        body(TEXT),
        body("minutes after it boils."),
        None,
        (14, "B", 0, "1 Getting started"),
        None,
        body("Fill the jug to the line on its side. Never fill it past the line marked maximum."),
        None,
        (12, "B", 0, "1.1 Choosing the water"),
        None,
        body("Soft water leaves less scale. Filtered water is best where the water is hard."),
    ],
    [
        body("Pour slowly so the water does not splash over the base of the kettle while it fills."),
        None,
        (14, "B", 0, "2 Cleaning"),
        None,
        body("Descale the kettle once a month with the descaler sold for it, then rinse it twice."),
        None,
        (12, "B", 0, "2.1 The filter"),
        None,
        body("Take the filter out and rinse it under the tap."),
    ],
]


def test_titles_set_larger_become_headings_nested_by_size_each_with_its_page() -> None:
    md = pdf_to_markdown(read_pdf(document(PAGES)))

    assert "# Kettle Handbook {#page-1}" in md
    assert "## 1 Getting started {#page-1}" in md
    assert "### 1.1 Choosing the water {#page-1}" in md
    assert "## 2 Cleaning {#page-2}" in md and "### 2.1 The filter {#page-2}" in md
    assert "Page 1" not in md and "Page 2" not in md
    assert f"{TEXT} minutes after it boils." in md  # the text under a heading stays one paragraph


def test_a_section_running_onto_the_next_page_cites_that_page_under_its_heading() -> None:
    doc = parse_pdf(document(PAGES), "manuals/kettle.pdf", "sig", KbRules(base_url="https://docs.example/"))
    chunks = Chunker(200, 30).chunk(doc)

    pour = next(c for c in chunks if "Pour slowly" in c.text)
    assert pour.heading_path.endswith("1 Getting started > 1.1 Choosing the water")
    assert pour.url == "https://docs.example/manuals/kettle.pdf#page=2"
    descale = next(c for c in chunks if "Descale" in c.text)
    assert descale.heading_path.endswith("2 Cleaning") and descale.url.endswith("#page=2")


MAN: list[list[Spec]] = [
    [
        (10, "B", 0, "NAME"),
        body("kettle - heat water", 36),
        None,
        (10, "B", 0, "OPTIONS"),
        (10, "B", 36, "-w, --warm MINUTES"),
        body("Keep the water warm for this many minutes after it boils.", 72),
        None,
        (10, "B", 36, "-q, --quiet"),
        body("Do not whistle when the water boils.", 72),
        None,
        (10, "B", 0, "SEE ALSO"),
        body("teapot(1)", 36),
    ]
]


def test_bold_titles_at_the_margin_are_headings_and_bold_indented_terms_stay_definitions() -> None:
    md = pdf_to_markdown(read_pdf(document(MAN)))

    assert "# NAME {#page-1}" in md and "# OPTIONS {#page-1}" in md and "# SEE ALSO {#page-1}" in md
    assert "- **`-w, --warm MINUTES`**: Keep the water warm" in md
    assert "- **`-q, --quiet`**: Do not whistle" in md


def test_a_title_wrapped_over_two_lines_is_one_heading() -> None:
    pages: list[list[Spec]] = [
        [(14, "B", 0, "Keeping the kettle working well"), (14, "B", 0, "through a hard winter"), None, body(TEXT)]
    ]
    md = pdf_to_markdown(read_pdf(document(pages)))

    assert "# Keeping the kettle working well through a hard winter {#page-1}" in md


def test_bold_or_large_sentences_and_paragraphs_are_not_headings() -> None:
    pages: list[list[Spec]] = [
        [
            (14, "B", 0, "Heating"),
            None,
            (10, "B", 0, "Never open the lid while the water boils."),  # a warning, not a title
            None,
            body(TEXT),
            body("minutes."),
            None,
            (10, "B", 0, "Unplug the kettle before you clean it and let it cool"),
            (10, "B", 0, "for at least ten minutes, or the element may burn you"),
            (10, "B", 0, "when you wipe the inside of the jug with the cloth"),
            (10, "B", 0, "that came in the box"),
        ]
    ]
    md = pdf_to_markdown(read_pdf(document(pages)))

    assert re.findall(r"^#+ .*$", md, flags=re.M) == ["# Heating {#page-1}"]
    assert "Never open the lid while the water boils." in md
    assert "that came in the box" in md


def test_an_outline_is_used_when_it_carries_the_structure_and_the_type_when_it_is_sparse() -> None:
    outlined = pdf_to_markdown(read_pdf(document(PAGES, [("Getting started", 1), ("Cleaning", 2)])))

    assert "# 1 Getting started {#page-1}" in outlined and "# 2 Cleaning {#page-2}" in outlined
    assert "# Kettle Handbook" not in outlined  # set large, but the outline does not list it
    assert not sparse([OutlineEntry(0, "Getting started", 0)], 10)
    assert sparse([OutlineEntry(0, "Getting started", 0)], 11)
    assert sparse([], 1)


def test_numbered_titles_set_alike_nest_by_their_numbers() -> None:
    pages: list[list[Spec]] = [
        [
            (14, "B", 0, "3 Cleaning"),
            None,
            body("Clean the kettle once a week."),
            None,
            (12, "B", 0, "3.1 The filter"),
            (12, "B", 0, "3.1.1 Rinsing the filter"),  # set like 3.1, one level deeper by its number
            None,
            body("Rinse it under the tap."),
            None,
            (12, "B", 0, "3.2 The jug"),
            None,
            body("Wipe the jug with a soft cloth."),
        ]
    ]
    md = pdf_to_markdown(read_pdf(document(pages)))

    assert "# 3 Cleaning {#page-1}" in md
    assert "## 3.1 The filter {#page-1}\n\n### 3.1.1 Rinsing the filter {#page-1}" in md
    assert "## 3.2 The jug {#page-1}" in md


def test_lines_set_alike_one_after_another_are_a_list_not_headings() -> None:
    pages: list[list[Spec]] = [
        [
            (14, "B", 0, "Models"),
            None,
            body("The kettle comes in three models:"),
            None,
            (12, "B", 0, "Kettle One"),
            (12, "B", 0, "Kettle Two"),
            (12, "B", 0, "Kettle Steel"),
            None,
            body("Each takes the same filter."),
        ]
    ]
    md = pdf_to_markdown(read_pdf(document(pages)))

    assert re.findall(r"^#+ .*$", md, flags=re.M) == ["# Models {#page-1}"]
    assert "Kettle One" in md and "Kettle Steel" in md
