"""PDF manuals keep the structure a reader sees (ingest/pdf/).

End-to-end cases are real PDFs written at test time by fpdf2, each line placed where a manual's typesetter puts
it (left margin, indented descriptions, a monospaced font for options and code, a running header and a page
number on every page, an outline of bookmarks), then read back by pypdf. Finer line-joining cases build the
extracted lines directly, shaped like what pypdf reports for such manuals. The text is ours.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pytest
from fpdf import FPDF

from deflect.answer.units import split_blocks
from deflect.ingest.chunking import Chunker
from deflect.ingest.pdf import Line, OutlineEntry, PdfContent, Run, pdf_to_markdown, read_pdf
from deflect.ingest.rules import KbRules
from deflect.ingest.sources import parse_pdf

SIG = "pdf-test"
SANS, MONO = "Helvetica", "Courier"
# A page: lines of (indent in points, [(font, text), ...]); None is a paragraph's extra space.
Page = list[tuple[float, list[tuple[str, str]]] | None]


def manual(
    pages: list[Page], outline: Sequence[tuple[str, int, int]] = (), header: str | list[str] = "Kettle Handbook"
) -> bytes:
    """A PDF laid out like a typeset manual: `outline` holds (title, level, 1-based page) bookmarks; `header` is
    the running header of every page, or of each page."""
    pdf = FPDF(unit="pt", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_title("Kettle Handbook")
    for n, lines in enumerate(pages, start=1):
        pdf.add_page()
        for title, level, page in outline:
            if page == n:
                pdf.start_section(title, level=level)
        pdf.set_font(SANS, size=10)
        pdf.text(300, 40, header if isinstance(header, str) else header[n - 1])
        y = 80.0
        for line in lines:
            if line is None:
                y += 11
                continue
            x = 72 + line[0]
            for font, text in line[1]:
                pdf.set_font(font, size=10)
                pdf.text(x, y, text)
                x += pdf.get_string_width(text)
            y += 12
        pdf.set_font(SANS, size=10)
        pdf.text(300, 800, str(n))
    return bytes(pdf.output())


def prose(text: str, indent: float = 0) -> tuple[float, list[tuple[str, str]]]:
    return (indent, [(SANS, text)])


def code(text: str, indent: float = 0) -> tuple[float, list[tuple[str, str]]]:
    return (indent, [(MONO, text)])


FULL = "The kettle heats water to the temperature chosen on the dial and keeps it warm for thirty"  # a full line

PAGES: list[Page] = [
    [
        prose("1. Getting started"),
        None,
        prose(FULL),
        prose("minutes after it boils."),
        None,
        prose("1.1. Filling the kettle"),
        None,
        prose("Fill the jug to the line on its side. Never fill it past the line marked maximum."),
    ],
    [
        prose("Pour slowly: the spout is narrow and the lid stays closed while you pour the water."),
        None,
        prose("2. Options"),
        None,
        code("--max-fill=<litres> [default: 1.5]"),
        None,
        prose("Sets the most water the kettle takes, as read by the level sensor. Use it with", 18),
        (18, [(MONO, "--sensor-")]),
        (18, [(MONO, "calibrate"), (SANS, " after each descale.")]),
        None,
        code("--keep-warm=<minutes> [default: 30]"),
        None,
        prose("How long the kettle keeps the water warm after it boils.", 18),
    ],
    [
        prose("The dial has a frost setting for cold kitchens; the kettle warms the jug slowly then. See"),
        (0, [(SANS, "also "), (MONO, "--")]),
        (0, [(MONO, "frost-guard"), (SANS, " for a kettle kept in a shed over winter.")]),
        None,
        prose("To check the sensor, run this:"),
        None,
        code("$ kettle check --sensor"),
        code("  sensor: ok"),
    ],
]
OUTLINE = [("1. Getting started", 0, 1), ("1.1. Filling the kettle", 1, 1), ("2. Options", 0, 2), ("3. Frost", 0, 3)]


def test_outline_titles_become_headings_at_their_place_with_their_page() -> None:
    doc = parse_pdf(manual(PAGES, OUTLINE), "manuals/kettle.pdf", SIG, KbRules(base_url="https://docs.example/"))
    body = doc.body

    assert "# 1. Getting started {#page-1}" in body
    assert "## 1.1. Filling the kettle {#page-1}" in body  # nested entry, one level deeper
    # The title found on its page replaces its printed line; one not printed there opens its page.
    assert body.count("1. Getting started") == 1
    assert body.index("# 3. Frost {#page-3}") < body.index("The dial has a frost setting")
    chunks = Chunker(200, 30).chunk(doc)
    paths = {c.heading_path for c in chunks}
    assert "1. Getting started > 1.1. Filling the kettle" in paths and "2. Options" in paths
    assert not any(re.fullmatch(r"Page \d+", p) for p in paths)
    options = next(c for c in chunks if "--max-fill" in c.text)
    assert options.url == "https://docs.example/manuals/kettle.pdf#page=2"


def test_a_section_running_onto_the_next_page_cites_the_page_each_chunk_starts_on() -> None:
    doc = parse_pdf(manual(PAGES, OUTLINE), "manuals/kettle.pdf", SIG, KbRules(base_url="https://docs.example/"))
    chunks = Chunker(200, 30).chunk(doc)

    pour = next(c for c in chunks if "Pour slowly" in c.text)
    assert pour.heading_path == "1. Getting started > 1.1. Filling the kettle"
    assert pour.url.endswith("#page=2")
    fill = next(c for c in chunks if "Fill the jug" in c.text)
    assert fill.url.endswith("#page=1")


def test_running_headers_and_page_numbers_are_dropped() -> None:
    body = pdf_to_markdown(read_pdf(manual(PAGES, OUTLINE)))

    assert "Kettle Handbook" not in body
    assert not re.search(r"^\d+$", body, flags=re.M)


def test_a_running_header_that_changes_with_each_short_chapter_is_dropped_too() -> None:
    headers = ["Chapter 1: Filling 1", "Chapter 2: Options 2", "Chapter 3: Frost 3"]  # none repeated three times
    body = pdf_to_markdown(read_pdf(manual(PAGES, OUTLINE, header=headers)))

    assert "Chapter" not in body
    assert "The kettle heats water" in body and "Pour slowly" in body  # the first line of text stays


def test_a_numbered_line_under_an_outline_section_is_its_subsection() -> None:
    pages: list[Page] = [[prose("2. Options"), None, prose("2.1 Water options"), None, prose("Set these once.")]]
    body = pdf_to_markdown(read_pdf(manual(pages, [("2. Options", 0, 1)])))

    assert "# 2. Options {#page-1}\n\n## 2.1 Water options {#page-1}\n\nSet these once." in body


def test_an_outline_title_printed_with_its_number_is_found_and_heads_its_numbered_subsections() -> None:
    pages: list[Page] = [
        [prose("Some words before the section begins on this page."), None, prose("2.1 Water options")]
        + [None, prose("Set these once."), None, prose("2.1.1 Hard water"), None, prose("Descale monthly.")]
    ]
    body = pdf_to_markdown(read_pdf(manual(pages, [("Water options", 0, 1)])))

    assert body.index("Some words before") < body.index("# 2.1 Water options {#page-1}")
    assert "## 2.1.1 Hard water {#page-1}" in body
    assert body.count("Water options") == 1


def test_paragraphs_end_at_gaps_and_short_lines() -> None:
    body = pdf_to_markdown(read_pdf(manual(PAGES, OUTLINE)))

    assert f"{FULL} minutes after it boils." in body  # a full line goes on
    paragraphs = body.split("\n\n")
    assert "Fill the jug to the line on its side. Never fill it past the line marked maximum." in paragraphs


def test_an_option_and_its_indented_description_are_one_definition() -> None:
    body = pdf_to_markdown(read_pdf(manual(PAGES, OUTLINE)))

    item = next(line for line in body.splitlines() if "--max-fill" in line)
    assert item.startswith("- **`--max-fill=<litres> [default: 1.5]`**: Sets the most water the kettle takes")
    assert "- **`--keep-warm=<minutes> [default: 30]`**: How long the kettle keeps the water warm" in body
    definitions = [b for b in split_blocks(body) if b.kind == "list"]
    assert definitions and all(b.definitions for b in definitions)  # quoted as option + description


def test_options_broken_at_a_line_end_are_whole_again() -> None:
    body = pdf_to_markdown(read_pdf(manual(PAGES, OUTLINE)))

    assert "`--sensor-calibrate` after each descale" in body
    assert "`--frost-guard` for a kettle kept in a shed" in body


def test_monospaced_lines_after_an_announcement_are_a_code_block() -> None:
    body = pdf_to_markdown(read_pdf(manual(PAGES, OUTLINE)))

    assert "To check the sensor, run this:\n\n```\n$ kettle check --sensor\n  sensor: ok\n```" in body


def test_a_pdf_without_an_outline_whose_titles_look_like_its_text_keeps_one_section_per_page() -> None:
    doc = parse_pdf(manual(PAGES), "manuals/kettle.pdf", SIG, KbRules(base_url="https://docs.example/"))
    chunks = Chunker(200, 30).chunk(doc)

    assert {c.heading_path for c in chunks} == {"Page 1", "Page 2", "Page 3"}
    assert all(c.url.endswith(f"#page={c.heading_path.split()[1]}") for c in chunks)
    assert "- **`--max-fill=<litres> [default: 1.5]`**:" in doc.body  # the rest of the structure is kept


def line(text: str, y: float, x: float = 72, mono: bool = False, page: int = 0) -> Line:
    return Line([Run(text, mono, x)], x, y, 10.0, page)


def test_hyphenated_words_lose_the_hyphen_only_when_the_document_writes_them_whole() -> None:
    width = "x" * 80
    lines = [
        line("Modules are loaded dynam-", 700),
        line("ically when first used, and the frame-", 688),
        line("pointer chain is kept; modules load dynamically, by name.", 676),
        line(width, 640),
    ]
    body = pdf_to_markdown(PdfContent("", [lines]))

    assert "loaded dynamically when first used" in body
    assert "the frame-pointer chain" in body


def test_a_term_with_its_description_on_the_same_line_is_split_at_the_gap() -> None:
    # "LINES <S>" in 10 pt Courier ends near x=126; its description starts a clear gap later, where the
    # description's next line starts too.
    term = Line(
        [Run("LINES <S>", True, 72), Run("   The number of lines of the terminal, used", False, 140)], 72, 700, 10, 0
    )
    lines = [term, line("for select lists and the line editor.", 688, x=140), line("x" * 80, 640)]
    body = pdf_to_markdown(PdfContent("", [lines]))

    assert "- **`LINES <S>`**: The number of lines of the terminal, used for select lists and the line editor." in body


def test_words_a_space_apart_are_not_split_as_a_term() -> None:
    # A paragraph's first line whose second word happens to start where an indented block below starts.
    first = Line(
        [Run("The", False, 72), Run(" NULL constant starts a variable, for example:", True, 90)], 72, 700, 10, 0
    )
    lines = [first, line("x = NULL;", 688, x=90, mono=True), line("x" * 80, 640)]
    body = pdf_to_markdown(PdfContent("", [lines]))

    assert "**The**" not in body


def test_markdown_lookalikes_stay_text() -> None:
    lines = [line("# not a heading", 700), line("---", 680), line("x" * 80, 640)]
    body = pdf_to_markdown(PdfContent("", [lines]))

    assert "\\# not a heading" in body and "\\---" in body
    assert body.startswith("## Page 1\n\n")


def test_an_outline_title_not_printed_on_its_page_opens_the_page() -> None:
    lines = [line("Some text about kettles.", 700)]
    body = pdf_to_markdown(PdfContent("", [lines], [OutlineEntry(0, "Kettles", 0)]))

    assert body.startswith("# Kettles {#page-1}\n\nSome text about kettles.")


def test_ligatures_read_as_their_letters() -> None:
    font = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")  # Debian's fonts-dejavu-core: has the ligatures
    if not font.is_file():
        pytest.skip("needs a font with ligature glyphs (fonts-dejavu-core)")
    pdf = FPDF()
    pdf.add_font("DejaVu", fname=str(font))
    pdf.add_page()
    pdf.set_font("DejaVu", size=11)
    pdf.text(20, 20, "The conﬁg ﬁle sets the oﬀset.")

    body = pdf_to_markdown(read_pdf(bytes(pdf.output())))

    assert "The config file sets the offset." in body
