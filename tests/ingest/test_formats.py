"""Plain text, reStructuredText, AsciiDoc and PDF articles: structure kept, pages cited.

The PDFs are real multi-page files written at test time by fpdf2 (a PDF library), read back by pypdf.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fpdf import FPDF

from deflect.errors import SourceError
from deflect.ingest.chunking import Chunker
from deflect.ingest.rules import KbRules
from deflect.ingest.sources import parse_file, parse_pdf, parse_text

SIG = "formats-test"

PLAIN = """Kettle maintenance
==================

Descale the kettle every month in hard-water areas.
Use a citric acid descaler.

Draining
--------

Open the tap, then run:

    kettle drain --all
      --keep-filter

1. Unplug the kettle.
2. Tip it over the sink.
"""

RST = """=============
Kettle timers
=============

.. note::

   Timers need firmware 2.

Setting a timer
===============

Run this::

    kettle timer 5

.. _timer-limits:

Limits
------

At most 90 minutes.
"""

ASCIIDOC = """= Kettle handbook

== Filling

Fill to the MAX line.

----
kettle fill --to max
kettle status
----

=== Warnings

Never fill while hot.
"""


def make_pdf(pages: list[list[str]], title: str | None = None, columns: int = 1) -> bytes:
    """A text PDF with one page per entry, each line written as a paragraph (two columns when asked)."""
    pdf = FPDF()
    if title:
        pdf.set_title(title)
    pdf.set_font("helvetica", size=11)
    for lines in pages:
        pdf.add_page()
        if columns == 1:
            for line in lines:
                pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
                pdf.ln(2)
            continue
        half = (len(lines) + 1) // 2
        width = (pdf.w - pdf.l_margin - pdf.r_margin - 10) / 2
        for col, chunk in enumerate((lines[:half], lines[half:])):
            pdf.set_xy(pdf.l_margin + col * (width + 10), 20)
            for line in chunk:
                pdf.set_x(pdf.l_margin + col * (width + 10))
                pdf.multi_cell(width, 6, line, new_x="LEFT", new_y="NEXT")
    return bytes(pdf.output())


PAGES = [
    ["Kettle safety guide", "Read this guide before the first use."],
    ["Boiling", "Press the switch once. The light turns red while the kettle heats."],
    ["Cleaning", "Wipe the outside with a damp cloth. Never put the base in water."],
]


def test_plain_text_underlined_titles_become_headings_and_indented_blocks_code() -> None:
    doc = parse_text(PLAIN, "manual/maintenance.txt", SIG)

    assert doc.title == "Kettle maintenance"
    assert doc.inferred[0] == "title: first heading"
    assert "## Draining" in doc.body.splitlines()
    assert "```\nkettle drain --all\n  --keep-filter\n```" in doc.body
    assert "1. Unplug the kettle.\n2. Tip it over the sink." in doc.body
    chunks = Chunker(200, 30).chunk(doc)
    assert [c.heading_path for c in chunks] == ["", "Draining"]


def test_plain_text_without_structure_is_titled_by_its_file_name() -> None:
    doc = parse_text("Just some notes about kettles.\nAnother line.\n", "notes/kettle-tips_2026.txt", SIG)

    assert doc.title == "Kettle tips 2026"
    assert "title: file name" in doc.inferred
    assert doc.body == "Just some notes about kettles.\nAnother line."


def test_restructuredtext_titles_directives_and_literal_blocks() -> None:
    doc = parse_text(RST, "manual/timers.rst", SIG)

    assert doc.title == "Kettle timers"
    lines = doc.body.splitlines()
    assert "## Setting a timer" in lines and "### Limits" in lines
    assert "```\nkettle timer 5\n```" in doc.body
    assert not any(line.startswith("..") for line in lines)
    assert "Timers need firmware 2." in doc.body  # a directive's content stays


def test_asciidoc_headings_and_listing_blocks() -> None:
    doc = parse_text(ASCIIDOC, "manual/handbook.adoc", SIG)

    assert doc.title == "Kettle handbook"
    assert "```\nkettle fill --to max\nkettle status\n```" in doc.body
    chunks = Chunker(200, 30).chunk(doc)
    assert [c.heading_path for c in chunks] == ["Filling", "Filling > Warnings"]


def test_a_multi_page_pdf_keeps_page_numbers_in_heading_paths_and_urls(tmp_path: Path) -> None:
    raw = make_pdf(PAGES, title="Kettle safety")
    rules = KbRules(base_url="https://docs.example/")

    doc = parse_pdf(raw, "guides/safety.pdf", SIG, rules)
    chunks = Chunker(200, 30).chunk(doc)

    assert doc.title == "Kettle safety"
    assert "title: PDF metadata" in doc.inferred
    assert [c.heading_path for c in chunks] == ["Page 1", "Page 2", "Page 3"]
    assert [c.url for c in chunks] == [f"https://docs.example/guides/safety.pdf#page={n}" for n in (1, 2, 3)]
    assert "The light turns red while the kettle heats." in chunks[1].quotable
    assert "Never put the base in water." in chunks[2].quotable


def test_a_pdf_without_a_url_or_title_still_goes_in(tmp_path: Path) -> None:
    path = tmp_path / "kettle-safety.pdf"
    path.write_bytes(make_pdf(PAGES))

    docs, errors = parse_file(path, "kettle-safety.pdf", SIG)

    assert errors == []
    assert docs[0].title == "Kettle safety"  # from the file name
    assert {c.url for c in Chunker(200, 30).chunk(docs[0])} == {""}


def test_a_two_column_pdf_keeps_each_column_in_reading_order() -> None:
    left = [f"Left column sentence {i} about the filter." for i in range(4)]
    right = [f"Right column sentence {i} about the lid." for i in range(4)]

    doc = parse_pdf(make_pdf([left + right], columns=2), "two-column.pdf", SIG)

    text = doc.body
    positions = [text.index(line) for line in left + right]
    assert positions[:4] == sorted(positions[:4]) and positions[4:] == sorted(positions[4:])


def test_a_pdf_with_no_text_is_refused_with_a_reason() -> None:
    pdf = FPDF()
    pdf.add_page()

    with pytest.raises(SourceError, match="no extractable text"):
        parse_pdf(bytes(pdf.output()), "scanned.pdf", SIG)


def test_gzipped_text_is_read_as_the_text_inside(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "kettle-notes.txt.gz"
    path.write_bytes(gzip.compress(b"Kettle notes\n============\n\nDescale monthly.\n"))
    broken = tmp_path / "broken.md.gz"
    broken.write_bytes(b"not gzip at all")

    docs, errors = parse_file(path, "notes/kettle-notes.txt.gz", SIG)

    assert errors == []
    assert (docs[0].source_id, docs[0].title) == ("doc:notes/kettle-notes", "Kettle notes")
    assert "Descale monthly." in docs[0].body
    with pytest.raises(SourceError, match="gzip"):
        parse_file(broken, "broken.md.gz", SIG)


def test_asciidoc_labeled_lists_keep_each_term_with_its_description() -> None:
    text = (
        "== Options\n\n"
        "--strength <level>::\n\tBrew at this strength,\n\tfrom 1 to 5.\n"
        "-q::\n--quiet::\n\tSay nothing.\n"
        "Timer:: Switches the kettle off.\n\n"
        "Run this::\n\n    kettle brew\n"
    )

    body = parse_text(text, "manual/options.adoc", SIG).body

    assert "- **`--strength <level>`**: Brew at this strength, from 1 to 5." in body
    assert "- **Timer**: Switches the kettle off." in body
    assert "- **`-q`, `--quiet`**: Say nothing." in body
    assert "```\nkettle brew\n```" in body  # reStructuredText's "::" before a literal block is not a term
