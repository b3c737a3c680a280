"""A text PDF as Markdown that keeps the structure a reader sees.

pypdf extracts each page's text in reading order; its visitor also reports where each run of text starts, its size
and its font, which is what a reader goes by:
- the outline (bookmarks) gives the chapters and sections: each title becomes a heading, nested entries deeper
  headings, placed at the line on its destination page that reads the same (at the page's start when none does)
  (headings.py);
- a PDF without an outline, or with one too sparse to carry its structure, gets its headings from the type: lines
  set larger than the text, or bold at its size, that read like titles, nested by size and by section number
  (typography.py); text before the first heading, or all of it when the type marks none, is a `## Page N` section;
- every heading carries its page as an anchor (`{#page-N}`), and a section that runs onto another page has its
  heading repeated there with that page's anchor, so every chunk's citation opens at the page the chunk starts on
  (a block running across a page break stays whole, on the page it starts on);
- a line repeated at the top or bottom of many pages (a running header or footer) and a bare page number there are
  dropped, and so are table-of-contents leader lines (`Title . . . . 12`);
- paragraphs end at a vertical gap wider than the line spacing, at a change of indentation or font kind, or at a
  short line that ends a sentence;
- a short line followed by indented text is a definition term (an option, a parameter) and the indented text its
  description: `- **`term`**: description`, the form the answer step quotes as a unit; a term followed at a wider
  gap on its own line by its description (`NAME <S>   The number of...`) is split there;
- lines set wholly in a monospaced font are a code block, monospaced runs in prose are code spans;
- a line ending in an option fragment (`--`, `--unw-stack-`) or a code span ending in `-` continues with the next
  line's first word without a space. A word hyphenated at a line end loses its hyphen only when the document
  elsewhere writes the word whole (`dynam-` `ically` -> "dynamically"); otherwise the hyphen stays, since a
  compound (`frame-pointer`, `GUI-selected`) broken at its hyphen must keep it.
"""

from __future__ import annotations

from deflect.ingest.pdf.blocks import blocks
from deflect.ingest.pdf.headings import Heading, with_headings
from deflect.ingest.pdf.inline import escape
from deflect.ingest.pdf.lines import Layout, Line, OutlineEntry, PdfContent, Run, read_pdf
from deflect.ingest.pdf.running import drop_running_lines
from deflect.ingest.pdf.typography import sparse, typeset_headings

__all__ = ["Line", "OutlineEntry", "PdfContent", "Run", "drop_running_lines", "pdf_to_markdown", "read_pdf"]


def pdf_to_markdown(pdf: PdfContent) -> str:
    """The PDF as Markdown (package docstring): outline or typeset headings with page anchors, or `## Page N`."""
    pages = drop_running_lines(pdf.pages, pdf.outline)
    if sparse(pdf.outline, len(pages)):
        stream = list(typeset_headings(pages))
    else:
        stream = list(with_headings(pages, pdf.outline))
    lines = [item for item in stream if isinstance(item, Line)]
    layout = Layout(lines)
    out: list[str] = []
    stack: list[tuple[int, str]] = []
    marked: set[int] = set()  # pages a heading already opens at
    for block in blocks(stream, layout):
        if isinstance(block, Heading):
            stack = [*(s for s in stack if s[0] < block.level), (block.level, block.title)]
            out.append(_heading(block.level, block.title, block.page))
            marked.add(block.page)
            continue
        if block.page not in marked:
            marked.add(block.page)
            if stack:  # the section goes on from an earlier page: its heading again, with this page
                out.append(_heading(stack[-1][0], stack[-1][1], block.page))
            else:
                out.append(f"## Page {block.page + 1}")
        out.append(block.render(layout))
    return "\n\n".join(out) + "\n" if out else ""


def _heading(level: int, title: str, page: int) -> str:
    """A heading that names its page (chunking._url opens a PDF citation there)."""
    return "#" * level + " " + escape(title) + f" {{#page-{page + 1}}}"
