"""Running headers and footers, page numbers and table-of-contents leader lines: print furniture, not text."""

from __future__ import annotations

import re
from collections import Counter

from deflect.ingest.pdf.headings import unnumbered
from deflect.ingest.pdf.lines import Layout, Line, OutlineEntry

_PAGE_NUMBER = re.compile(r"^(?:\d{1,4}|[ivxlcdm]{1,9})$", re.I)
_TOC_LEADER = re.compile(r"(?:\.\s?){4,}\s*(?:\d{1,4}|[ivxlcdm]{1,9})\s*$", re.I)


def drop_running_lines(pages: list[list[Line]], outline: list[OutlineEntry]) -> list[list[Line]]:
    """Pages without their running headers and footers, and without table-of-contents leader lines.

    A first (last) line is a running header (footer) when it is a bare page number; or, digits aside, the first
    (last) line of at least three pages; or a chapter's title printed atop a page other than the chapter's first;
    or it sits where most pages have their first (last) line, set apart from the text by a wider gap than any
    paragraph's (a header of a chapter too short to repeat it three times)."""
    tops = Counter(_shape(p[0].text) for p in pages if p)
    bottoms = Counter(_shape(p[-1].text) for p in pages if p)
    titles = {_shape(unnumbered(e.title)): e.page for e in outline}
    spacing = Layout([line for page in pages for line in page]).spacing
    top_band = _band([p[0] for p in pages if len(p) > 1 and _apart(p[0], p[1], spacing)], len(pages))
    bottom_band = _band([p[-1] for p in pages if len(p) > 1 and _apart(p[-2], p[-1], spacing)], len(pages))

    def running(line: Line, other: Line | None, counts: Counter[str], band: float | None, page: int) -> bool:
        shape = _shape(line.text)
        if _PAGE_NUMBER.match(line.text):
            return True
        if counts[shape] >= 3 and sum(c.isalpha() for c in shape) >= 3:
            return True
        if shape in titles and titles[shape] != page:
            return True
        if other is None:
            return False
        upper, lower = (line, other) if line.y >= other.y else (other, line)
        apart = _apart(upper, lower, spacing)
        return band is not None and abs(line.y - band) <= 2 and apart and len(line.text.split()) <= 12

    kept: list[list[Line]] = []
    for n, page in enumerate(pages):
        lines = list(page)
        if lines and running(lines[0], lines[1] if len(lines) > 1 else None, tops, top_band, n):
            lines.pop(0)
        if lines and running(lines[-1], lines[-2] if len(lines) > 1 else None, bottoms, bottom_band, n):
            lines.pop()
        kept.append([line for line in lines if not _TOC_LEADER.search(line.text)])
    return kept


def _apart(upper: Line, lower: Line, spacing: float) -> bool:
    """Further apart than lines and paragraphs are: a header or footer's margin."""
    return upper.page == lower.page and upper.y - lower.y > 2.5 * spacing * max(upper.size, lower.size, 1.0)


def _band(lines: list[Line], pages: int) -> float | None:
    """The height at which at least half the pages (three at least) have such a set-apart line, if any."""
    heights = Counter(round(line.y) for line in lines)
    if not heights:
        return None
    y, count = heights.most_common(1)[0]
    return float(y) if count >= max(3, pages / 2) else None


def _shape(text: str) -> str:
    return re.sub(r"\d+", "#", " ".join(text.lower().split()))
