"""Headings read from the type, for a PDF whose outline is missing or too sparse to carry its structure.

A heading is a line set larger than the body text, or in bold at the body's size, that reads like a title: short,
letters in it, not ending in sentence punctuation, not an option (`-v`), not code; it starts a block (a gap above
it, or a new page) and the text after it starts another. A bold line indented from the page's margin with text
indented further below it is a definition's term (a man page's option), not a heading. A title wrapped over a few
lines in one style is one heading. Headings nest by their style's rank: larger above smaller, at one size bold
above regular."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from deflect.ingest.pdf.headings import NUMBER, Heading
from deflect.ingest.pdf.lines import INDENT, Layout, Line, OutlineEntry

_MAX_CHARS = 90
_MAX_WORDS = 14
_MAX_LINES = 3  # a title wrapped over more lines than this is a paragraph set large (a cover's blurb)
_ENDS_SENTENCE = re.compile(r"[.,;:]$")  # a question ("Why does it crash?") may head a FAQ entry
_NUMBER_ONLY = re.compile(r"^[\divxlcdm.]+$", re.I)


def sparse(outline: list[OutlineEntry], pages: int) -> bool:
    """Too few outline destinations to carry the structure: none, or fewer pages than one in ten."""
    return len({e.page for e in outline}) * 10 < pages


@dataclass(frozen=True, order=True)
class _Style:
    size: float  # to the half point
    bold: bool


def _style(line: Line) -> _Style:
    return _Style(round(line.size * 2) / 2, line.bold)


def typeset_headings(pages: list[list[Line]]) -> Iterator[Line | Heading]:
    """The lines in order, the ones the type marks as headings (module docstring) replaced by Headings."""
    lines = [line for page in pages for line in page]
    if not lines:
        return
    layout = Layout(lines)
    body = layout.size
    margins = {n: min((line.x for line in page if not line.mono), default=0.0) for n, page in enumerate(pages)}
    marks = [_headlike(line, body) for line in lines]
    groups: list[tuple[int, int]] = []  # [start, end) of each heading's lines
    i = 0
    while i < len(lines):
        if not marks[i] or not _starts_block(lines, i, layout):
            i += 1
            continue
        j = i + 1
        while j < len(lines) and j - i < _MAX_LINES and marks[j] and _wrapped(lines[j - 1], lines[j], layout):
            if not _runs_on(lines[j - 1], lines[j], layout, body):
                break  # a numbered line opens a title of its own; short lines set alike are a list
            j += 1
        if (
            _ends_block(lines, j, layout)
            and not _term(lines, i, j, margins)
            and not _wrapped_further(lines, j, layout)
            and not _in_a_row(lines, marks, i, j)
        ):
            groups.append((i, j))
            i = j
        else:
            i += 1
    titles = [" ".join(line.text for line in lines[start:end]) for start, end in groups]
    levels = _numbered(titles, _levels([_style(lines[start]) for start, _ in groups]))
    heads = {
        start: (end, Heading(level, title, lines[start].page))
        for (start, end), title, level in zip(groups, titles, levels, strict=True)
    }
    i = 0
    while i < len(lines):
        if i in heads:
            i, heading = heads[i]
            yield heading
        else:
            yield lines[i]
            i += 1


def _headlike(line: Line, body: float) -> bool:
    """Set like a heading and reading like a title (module docstring)."""
    text = line.text
    if line.mono or len(text) > _MAX_CHARS or len(text.split()) > _MAX_WORDS:
        return False
    if sum(c.isalpha() for c in text) < 2 or _ENDS_SENTENCE.search(text) or text.startswith("-"):
        return False
    if _NUMBER_ONLY.match(text):
        return False
    larger = line.size >= body + max(1.0, 0.1 * body)
    return larger or (line.bold and line.size >= body - 0.5)


def _gap(a: Line, b: Line, layout: Layout) -> bool:
    """More space between two lines (a above b) than between the lines of a paragraph, or a page break between."""
    return a.page != b.page or layout.gap(a, b) or a.y < b.y


def _starts_block(lines: list[Line], i: int, layout: Layout) -> bool:
    if i == 0:
        return True
    before, line = lines[i - 1], lines[i]
    return _apart(before, line, layout) or _depth(line.text) > 0


def _ends_block(lines: list[Line], end: int, layout: Layout) -> bool:
    """The line after a heading's last starts another block (or a numbered title of its own)."""
    if end >= len(lines):
        return True
    last, after = lines[end - 1], lines[end]
    return _apart(last, after, layout) or _depth(after.text) > 0


def _apart(a: Line, b: Line, layout: Layout) -> bool:
    """Two lines (a above b) of different blocks: a gap between them, another style, or another indentation."""
    return _gap(a, b, layout) or _style(a) != _style(b) or abs(a.x - b.x) > INDENT / 2


def _wrapped(a: Line, b: Line, layout: Layout) -> bool:
    """b continues a's title: the same style, the next line of the same page, no paragraph gap between."""
    return _style(a) == _style(b) and not _gap(a, b, layout)


def _runs_on(a: Line, b: Line, layout: Layout, body: float) -> bool:
    """b goes on with a's title: not numbered itself, and starting in lower case or after a line that nears the
    text's width (its width estimated at half an em a character, as the prose's widest lines are)."""
    if _depth(b.text):
        return False
    return b.text[:1].islower() or len(a.text) * a.size >= 0.6 * layout.width * body


def _wrapped_further(lines: list[Line], end: int, layout: Layout) -> bool:
    """The heading's style goes on past the lines taken: a paragraph set large or bold, not a title."""
    return (
        end < len(lines)
        and not _depth(lines[end].text)
        and _wrapped(lines[end - 1], lines[end], layout)
        and abs(lines[end].x - lines[end - 1].x) <= INDENT / 2
    )


def _in_a_row(lines: list[Line], marks: list[bool], start: int, end: int) -> bool:
    """A line set like this title just before or after it on the page (numbered as deep, if numbered): entries of a
    list, a table of contents, a chart's labels, not a section, whose title is followed by its text (`7.1.2` followed
    by `7.1.2.1` set alike is a section opening with its first subsection)."""
    style, page, depth = _style(lines[start]), lines[start].page, _depth(lines[start].text)
    return any(
        0 <= k < len(lines)
        and marks[k]
        and lines[k].page == page
        and _style(lines[k]) == style
        and _depth(lines[k].text) == depth
        for k in (start - 1, end)
    )


def _depth(title: str) -> int:
    """How deep a title's section number is (`7.1.2 Modes`: 3), 0 when it has none."""
    match = NUMBER.match(title)
    return len(match.group(1).rstrip(".").split(".")) if match else 0


def _term(lines: list[Line], start: int, end: int, margins: dict[int, float]) -> bool:
    """A bold line at the body's size, indented from its page's margin, above text indented further: a term."""
    first = lines[start]
    if end >= len(lines) or lines[end].page != first.page or first.x <= margins[first.page] + INDENT / 2:
        return False
    return lines[end].x >= first.x + INDENT


def _levels(styles: list[_Style]) -> list[int]:
    """Each heading's level: its style's rank among the headings' styles, larger first, at one size bold first."""
    ranked = sorted(set(styles), key=lambda s: (-s.size, not s.bold))
    rank = {style: min(6, n + 1) for n, style in enumerate(ranked)}
    return [rank[s] for s in styles]


def _numbered(titles: list[str], levels: list[int]) -> list[int]:
    """Levels with numbered titles nested by their numbers' depth (`7.1.1` and `7.1.1.1` are often set alike), from
    the level the type gives the top-numbered ones (`7 Reference`), when most titles are numbered."""
    depths = [_depth(t) for t in titles]
    if not any(depths) or sum(d > 0 for d in depths) * 2 < len(titles):
        return levels
    tops = Counter(level for level, depth in zip(levels, depths, strict=True) if depth == 1)
    base = tops.most_common(1)[0][0] if tops else min(lv for lv, d in zip(levels, depths, strict=True) if d)
    return [min(6, base + d - 1) if d else level for level, d in zip(levels, depths, strict=True)]
