"""Outline (bookmark) titles placed as headings at the line that prints them, and the numbered subsections the
outline leaves out."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from deflect.ingest.pdf.lines import SENTENCE_END, Line, OutlineEntry

NUMBER = re.compile(r"^(\d+(?:\.\d+)*\.?)\s+\S")  # a section number and its title


@dataclass
class Heading:
    level: int  # Markdown heading level
    title: str
    page: int


def unnumbered(title: str) -> str:
    """A title without its section number (`2.5. Suppressing errors`, `Chapter 3 Options`, `A.1 Sources`)."""
    return re.sub(r"^(?:[Cc]hapter\s+)?(?:\d+|[A-Z])(?:\.\d+)*\.?\s+", "", title)


def with_headings(pages: list[list[Line]], outline: list[OutlineEntry]) -> Iterator[Line | Heading]:
    """The lines in order with each outline title at its place: the line(s) on its page that read the same
    (replaced by the heading), else the page's start (after the titles placed on it before)."""
    by_page: dict[int, list[OutlineEntry]] = {}
    for entry in outline:
        by_page.setdefault(entry.page, []).append(entry)
    numbered = _Numbering()
    for n, lines in enumerate(pages):
        at: dict[int, list[tuple[Heading, int]]] = {}
        cursor = 0
        for entry in by_page.get(n, []):
            found = _find_title(lines, cursor, entry.title)
            if found is None:
                at.setdefault(cursor, []).append((Heading(min(6, entry.level + 1), entry.title, n), 0))
            else:
                start, count, text = found
                at.setdefault(start, []).append((Heading(min(6, entry.level + 1), text, n), count))
                cursor = start + count
        skip = 0
        for i, line in enumerate(lines):
            for heading, count in at.get(i, []):
                numbered.push(heading)
                yield heading
                skip = max(skip, i + count)
            if i >= skip:
                yield numbered.subsection(line) or line
        for heading, _ in at.get(len(lines), []):
            numbered.push(heading)
            yield heading


class _Numbering:
    """The numbered headings open so far, so that a line numbered under one of them (`16.2.1 Changing
    Directories` under the outline's `16.2 Description of Options`) is read as the subsection the outline left out."""

    def __init__(self) -> None:
        self._open: list[tuple[int, str]] = []  # (heading level, number), outermost first

    def push(self, heading: Heading) -> None:
        match = NUMBER.match(heading.title)
        self._open = [o for o in self._open if o[0] < heading.level]
        if match:
            self._open.append((heading.level, match.group(1).rstrip(".")))

    def subsection(self, line: Line) -> Heading | None:
        match = NUMBER.match(line.text)
        number = match.group(1).rstrip(".") if match else ""
        if "." not in number or len(line.text) > 80 or SENTENCE_END.search(line.text):
            return None  # a numbered list item ("2. Run make") is not a subsection
        parent = number.rsplit(".", 1)[0]
        for level, number in reversed(self._open):
            if number == parent and level < 6:
                heading = Heading(level + 1, line.text, line.page)
                self.push(heading)
                return heading
        return None


def _find_title(lines: list[Line], start: int, title: str) -> tuple[int, int, str] | None:
    """Where a title is printed on its page, from `start`: (first line, number of lines, the heading's text). The
    section number may be printed and not in the outline (`14.1 History Expansion` for "History Expansion") or the
    other way round; the heading then reads as printed, so numbered lines under it are known as its subsections."""
    wanted = {_key(title), _key(unnumbered(title))}
    for count in (1, 2):  # a title on one line anywhere on the page before one wrapped over two
        for i in range(start, len(lines) - count + 1):
            printed = " ".join(line.text for line in lines[i : i + count])
            if _key(printed) in wanted:
                return i, count, title
            if NUMBER.match(printed) and _key(unnumbered(printed)) in wanted:
                return i, count, printed
    return None


def _key(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))
