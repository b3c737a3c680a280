"""A text PDF as Markdown that keeps the structure a reader sees.

pypdf extracts each page's text in reading order; its visitor also reports where each run of text starts, its size
and its font, which is what a reader goes by:
- the outline (bookmarks) gives the chapters and sections: each title becomes a heading, nested entries deeper
  headings, placed at the line on its destination page that reads the same (at the page's start when none does);
- every heading carries its page as an anchor (`{#page-N}`), and a section that runs onto another page has its
  heading repeated there with that page's anchor, so every chunk's citation opens at the page the chunk starts on
  (a block running across a page break stays whole, on the page it starts on). Without an outline each page is a
  `## Page N` section, as before;
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

import io
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from deflect.ingest.blocks import fence
from deflect.ingest.html import code_span

_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"})
_MONO_FONT = re.compile(r"courier|mono|cmtt|sftt|typewriter|consol|menlo|code|inconsolata", re.I)
_PAGE_NUMBER = re.compile(r"^(?:\d{1,4}|[ivxlcdm]{1,9})$", re.I)
_TOC_LEADER = re.compile(r"(?:\.\s?){4,}\s*(?:\d{1,4}|[ivxlcdm]{1,9})\s*$", re.I)
_OPTION_FRAGMENT = re.compile(r"(?:^|\s)(--?|--?[A-Za-z0-9][\w.-]*-)$")
_HYPHENATED = re.compile(r"([A-Za-z]+)-$")
_WORD = re.compile(r"[A-Za-z]+")
_COMPOUND = re.compile(r"[A-Za-z]+-[A-Za-z]+")
_LEADING_WORD = re.compile(r"^([a-z]+)")
_BLOCK_START = re.compile(r"^(#{1,6}\s|>|[-+*]\s|[-=_*]{3,}\s*$|\||`{3,}|~{3,})")
_SENTENCE_END = re.compile(r"[.:!?]$")
_NUMBER = re.compile(r"^(\d+(?:\.\d+)*\.?)\s+\S")  # a section number and its title
# A description starts at least this far (in points) right of its term; less is a ragged left edge.
_INDENT = 6.0


@dataclass
class Run:
    """Text in one font, as the visitor reported it."""

    text: str
    mono: bool
    x: float


@dataclass
class Line:
    runs: list[Run]
    x: float
    y: float
    size: float
    page: int

    @property
    def text(self) -> str:
        return " ".join("".join(r.text for r in self.runs).split())

    @property
    def mono(self) -> bool:
        """Set wholly in a monospaced font (spaces aside)."""
        chars = [(c, r.mono) for r in self.runs for c in r.text if not c.isspace()]
        return bool(chars) and all(m for _, m in chars)


@dataclass(frozen=True)
class OutlineEntry:
    level: int  # 0 for a top-level entry
    title: str
    page: int  # 0-based


@dataclass
class PdfContent:
    title: str
    pages: list[list[Line]]
    outline: list[OutlineEntry] = field(default_factory=list)


def read_pdf(raw: bytes) -> PdfContent:
    """The PDF's metadata title ("" when none), each page's lines with where they start, and its outline."""
    from pypdf import PdfReader  # imported here: only PDF ingestion pays for it

    reader = PdfReader(io.BytesIO(raw))
    title = ""
    if reader.metadata is not None and reader.metadata.title:
        title = " ".join(str(reader.metadata.title).split())
    pages = [_page_lines(page, n) for n, page in enumerate(reader.pages)]
    return PdfContent(title, pages, _outline(reader))


def _page_lines(page: Any, number: int) -> list[Line]:
    lines: list[Line] = []
    current: list[Run] = []
    where: list[float] = []

    def close() -> None:
        if any(r.text.strip() for r in current):
            lines.append(Line(list(current), where[0], where[1], where[2], number))
        current.clear()
        where.clear()

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        name = str((font or {}).get("/BaseFont", "")) if hasattr(font, "get") else ""
        scale = abs(cm[3] or 1.0) * abs(tm[3] or 1.0)
        for i, piece in enumerate(text.translate(_LIGATURES).replace("\r", "\n").split("\n")):
            if i:
                close()
            if piece:
                if not where and piece.strip():
                    where.extend([x, y, size * scale])
                if where:
                    current.append(Run(piece, bool(_MONO_FONT.search(name)), x))

    page.extract_text(visitor_text=visit)
    close()
    return lines


def _outline(reader: Any) -> list[OutlineEntry]:
    entries: list[OutlineEntry] = []

    def walk(items: list[Any], level: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, level + 1)
                continue
            try:
                page = reader.get_destination_page_number(item)
            except Exception:  # a damaged or external destination: the entry is skipped, the text is kept
                continue
            title = " ".join(str(getattr(item, "title", "") or "").split())
            if title and page is not None and page >= 0:
                entries.append(OutlineEntry(level, title, page))

    try:
        walk(reader.outline, 0)
    except Exception:  # an outline pypdf cannot read is no outline: the pages are still read
        return []
    return entries


def pdf_to_markdown(pdf: PdfContent) -> str:
    """The PDF as Markdown (module docstring): outline headings with page anchors, or `## Page N` sections."""
    pages = drop_running_lines(pdf.pages, pdf.outline)
    stream = list(_with_headings(pages, pdf.outline))
    lines = [item for item in stream if isinstance(item, Line)]
    layout = _Layout(lines)
    out: list[str] = []
    stack: list[tuple[int, str]] = []
    marked: set[int] = set()  # pages a heading already opens at
    for block in _blocks(stream, layout):
        if isinstance(block, _Heading):
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


def drop_running_lines(pages: list[list[Line]], outline: list[OutlineEntry]) -> list[list[Line]]:
    """Pages without their running headers and footers, and without table-of-contents leader lines.

    A first (last) line is a running header (footer) when it is a bare page number; or, digits aside, the first
    (last) line of at least three pages; or a chapter's title printed atop a page other than the chapter's first;
    or it sits where most pages have their first (last) line, set apart from the text by a wider gap than any
    paragraph's (a header of a chapter too short to repeat it three times)."""
    tops = Counter(_shape(p[0].text) for p in pages if p)
    bottoms = Counter(_shape(p[-1].text) for p in pages if p)
    titles = {_shape(_unnumbered(e.title)): e.page for e in outline}
    spacing = _Layout([line for page in pages for line in page]).spacing
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


def _unnumbered(title: str) -> str:
    return re.sub(r"^(?:[Cc]hapter\s+)?(?:\d+|[A-Z])(?:\.\d+)*\.?\s+", "", title)


@dataclass
class _Heading:
    level: int  # Markdown heading level
    title: str
    page: int


def _with_headings(pages: list[list[Line]], outline: list[OutlineEntry]) -> Iterator[Line | _Heading]:
    """The lines in order with each outline title at its place: the line(s) on its page that read the same
    (replaced by the heading), else the page's start (after the titles placed on it before)."""
    by_page: dict[int, list[OutlineEntry]] = {}
    for entry in outline:
        by_page.setdefault(entry.page, []).append(entry)
    numbered = _Numbering()
    for n, lines in enumerate(pages):
        at: dict[int, list[tuple[_Heading, int]]] = {}
        cursor = 0
        for entry in by_page.get(n, []):
            found = _find_title(lines, cursor, entry.title)
            if found is None:
                at.setdefault(cursor, []).append((_Heading(min(6, entry.level + 1), entry.title, n), 0))
            else:
                start, count, text = found
                at.setdefault(start, []).append((_Heading(min(6, entry.level + 1), text, n), count))
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

    def push(self, heading: _Heading) -> None:
        match = _NUMBER.match(heading.title)
        self._open = [o for o in self._open if o[0] < heading.level]
        if match:
            self._open.append((heading.level, match.group(1).rstrip(".")))

    def subsection(self, line: Line) -> _Heading | None:
        match = _NUMBER.match(line.text)
        number = match.group(1).rstrip(".") if match else ""
        if "." not in number or len(line.text) > 80 or _SENTENCE_END.search(line.text):
            return None  # a numbered list item ("2. Run make") is not a subsection
        parent = number.rsplit(".", 1)[0]
        for level, number in reversed(self._open):
            if number == parent and level < 6:
                heading = _Heading(level + 1, line.text, line.page)
                self.push(heading)
                return heading
        return None


def _find_title(lines: list[Line], start: int, title: str) -> tuple[int, int, str] | None:
    """Where a title is printed on its page, from `start`: (first line, number of lines, the heading's text). The
    section number may be printed and not in the outline (`14.1 History Expansion` for "History Expansion") or the
    other way round; the heading then reads as printed, so numbered lines under it are known as its subsections."""
    wanted = {_key(title), _key(_unnumbered(title))}
    for count in (1, 2):  # a title on one line anywhere on the page before one wrapped over two
        for i in range(start, len(lines) - count + 1):
            printed = " ".join(line.text for line in lines[i : i + count])
            if _key(printed) in wanted:
                return i, count, title
            if _NUMBER.match(printed) and _key(_unnumbered(printed)) in wanted:
                return i, count, printed
    return None


def _key(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


class _Layout:
    """What the document's own lines say is normal: line spacing, line length, vocabulary."""

    def __init__(self, lines: list[Line]) -> None:
        # Line spacing as a multiple of the font size: a low quantile of the gaps between lines, which in running
        # text are mostly line gaps; paragraph and heading gaps are the wider ones.
        gaps = sorted(
            (a.y - b.y) / max(a.size, 1.0)
            for a, b in zip(lines, lines[1:], strict=False)
            if a.page == b.page and 0 < a.y - b.y < 3 * max(a.size, 1.0)
        )
        self.spacing = gaps[len(gaps) // 5] if gaps else 1.2
        lengths = sorted(len(line.text) for line in lines if not line.mono)
        self.width = lengths[int(len(lengths) * 0.9)] if lengths else 80
        text = "\n".join(line.text for line in lines).lower()
        self.words = set(_WORD.findall(text)) | set(_COMPOUND.findall(text))


@dataclass
class _Block:
    page: int
    lines: list[Line]

    def render(self, layout: _Layout) -> str:
        return _paragraph(self.lines, layout)


@dataclass
class _Code(_Block):
    def render(self, layout: _Layout) -> str:
        left = min(line.x for line in self.lines)
        rows: list[str] = []
        for previous, line in zip([None, *self.lines], self.lines, strict=False):
            if previous is not None and previous.y - line.y > 1.8 * max(line.size, 1.0):
                rows.append("")  # the listing's own blank line
            raw = "".join(r.text for r in line.runs).rstrip()
            indent = round((line.x - left) / max(0.6 * line.size, 1.0))
            rows.append(" " * indent + raw)
        return fence("\n".join(rows))


@dataclass
class _Definition(_Block):
    terms: list[str] = field(default_factory=list)
    body: list[_Block] = field(default_factory=list)

    def render(self, layout: _Layout) -> str:
        term = ", ".join(_term(t) for t in self.terms)
        parts = [b.render(layout) for b in self.body]
        first = parts[0] if parts and not isinstance(self.body[0], _Code) else ""
        rest = parts[1:] if first else parts
        item = f"- **{term}**: {first}".rstrip()
        return "\n\n".join([item, *("\n".join("  " + s if s else s for s in p.split("\n")) for p in rest)])


def _term(term: str) -> str:
    """An option-like or code term (`-x`, `--depth <depth>`, `NAME <S>`) is code; `<S>` must not read as a tag."""
    if term.startswith("-") or "<" in term or "*" in term or "_" in term:
        return code_span(term)
    return term


def _blocks(stream: list[Line | _Heading], layout: _Layout) -> Iterator[_Heading | _Block]:
    """Headings as they come; lines grouped into paragraphs, code blocks and definitions."""
    groups: list[_Heading | _Block] = []
    for item in stream:
        if isinstance(item, _Heading):
            groups.append(item)
            continue
        last = groups[-1] if groups else None
        if isinstance(last, _Block) and not _breaks(last.lines[-1], item, layout, len(last.lines)):
            last.lines.append(item)
        else:
            groups.append(_Block(item.page, [item]))
    i = 0
    while i < len(groups):
        group = groups[i]
        if isinstance(group, _Heading):
            yield group
            i += 1
            continue
        definition = _definition(groups, i, layout)
        if definition is not None:
            block, i = definition
            yield block
            continue
        if _is_code(group):
            # A code listing's blank lines part it into groups: one block again, on the page it starts on.
            lines = list(group.lines)
            i += 1
            while i < len(groups) and isinstance(g := groups[i], _Block) and _is_code(g) and g.page == group.page:
                lines.extend(g.lines)
                i += 1
            yield _Code(group.page, lines)
            continue
        yield group
        i += 1


def _breaks(a: Line, b: Line, layout: _Layout, length: int) -> bool:
    """Whether line b starts a new block after line a."""
    if abs(a.x - b.x) > _INDENT / 2:
        return True
    if _gap(a, b, layout):
        return True
    if a.page == b.page and a.y - b.y < 0:
        return True  # a new column or a float: reading order jumped up the page
    if b.mono and not a.mono and a.text.endswith(":"):
        return True  # "Run this:" and the command it announces
    if abs(a.size - b.size) > 0.5:
        return True
    if a.text.endswith("-"):
        return False
    if len(a.text) < 0.6 * layout.width:
        return True  # justified text runs to the margin: a line well short of it ends its paragraph (or is a title)
    # Across a page break there is no gap to go by: a finished sentence ends the paragraph.
    return a.page != b.page and not a.mono and bool(_SENTENCE_END.search(a.text))


def _gap(a: Line, b: Line, layout: _Layout) -> bool:
    """More space between the two lines than between the lines of a paragraph."""
    return a.page == b.page and a.y - b.y > 1.35 * layout.spacing * max(a.size, b.size, 1.0)


def _is_code(block: _Block) -> bool:
    return all(line.mono for line in block.lines)


def _definition(groups: list[_Heading | _Block], i: int, layout: _Layout) -> tuple[_Definition, int] | None:
    """A definition at group i: its term lines (short, at most six, each not a finished sentence) followed by text
    indented further (its description, as many blocks as stay at that indentation), or by a description that starts
    on the last term's line after a gap (`NAME <S>   The number of...`)."""
    group = groups[i]
    if not isinstance(group, _Block):
        return None
    x0 = group.lines[0].x
    term_lines: list[Line] = []
    k = i
    while True:
        current = groups[k]
        if not isinstance(current, _Block) or abs(current.lines[0].x - x0) > _INDENT / 2:
            return None
        if len(term_lines) + len(current.lines) > 6 or not all(_termlike(line, layout) for line in current.lines[:-1]):
            return None
        nxt = groups[k + 1] if k + 1 < len(groups) else None
        inline = _split_term(current.lines[-1], nxt, x0)
        if inline is not None:
            term_lines.extend(current.lines[:-1])
            break
        if not _termlike(current.lines[-1], layout):
            return None
        term_lines.extend(current.lines)
        if isinstance(nxt, _Block) and nxt.lines[0].x >= x0 + _INDENT and not _is_code(nxt):
            break
        if (
            not isinstance(nxt, _Block)
            or abs(nxt.lines[0].x - x0) > _INDENT / 2
            or _gap(current.lines[-1], nxt.lines[0], layout)
        ):
            return None
        k += 1  # another term of the same description, on the very next line (`PROMPT`, `PROMPT2`, ...)
    terms = [line.text for line in term_lines]
    body: list[_Block] = []
    if inline is not None:
        term, rest = inline
        terms.append(term)
        # The description's first line joins the block that follows at its indentation, if any.
        if isinstance(nxt, _Block) and not _is_code(nxt) and abs(nxt.lines[0].x - rest.x) <= _INDENT / 2:
            body.append(_Block(rest.page, [rest, *nxt.lines]))
            j = k + 2
        else:
            body.append(_Block(rest.page, [rest]))
            j = k + 1
        x1 = rest.x
    else:
        assert isinstance(nxt, _Block)
        x1 = nxt.lines[0].x
        j = k + 1
    while j < len(groups):
        following = groups[j]
        if not isinstance(following, _Block) or min(line.x for line in following.lines) < x1 - _INDENT / 2:
            break
        body.append(_Code(following.page, following.lines) if _is_code(following) else following)
        j += 1
    if not body:
        return None
    return _Definition(group.page, group.lines, _joined_terms(terms), body), j


def _termlike(line: Line, layout: _Layout) -> bool:
    """Short, and not a finished sentence (a term set in code may end in anything)."""
    return len(line.text) <= 0.8 * layout.width and (line.mono or not _SENTENCE_END.search(line.text))


def _joined_terms(terms: list[str]) -> list[str]:
    """Term lines: an option broken at its line end (`--unw-stack-` / `frames=<n>`) is one term again."""
    out: list[str] = []
    for term in terms:
        if out and _OPTION_FRAGMENT.search(out[-1]):
            out[-1] += term
        else:
            out.append(term)
    return out


def _split_term(line: Line, nxt: _Heading | _Block | None, x0: float) -> tuple[str, Line] | None:
    """`NAME <S>      The number of lines...`: the term, and the rest of the line as the description's first
    line, when a run starts where the next lines (prose, not code) start, well right of the term, after a gap."""
    if not isinstance(nxt, _Block) or nxt.lines[0].x < x0 + 3 * _INDENT or _is_code(nxt):
        return None
    x1 = nxt.lines[0].x
    for k, run in enumerate(line.runs[1:], start=1):
        before = line.runs[k - 1]
        # Where the run before would end, set in its font (a monospaced glyph is 0.6 em, a proportional one about
        # half an em on average): a space at least before the description's column (TeX sets `HISTFILE` just a
        # space short of it), not a word running into the column's position.
        end = before.x + len(before.text.rstrip()) * line.size * (0.6 if before.mono else 0.5)
        gap = run.x - end > line.size / 5 and (run.text[:1].isspace() or before.text[-1:].isspace())
        if gap and abs(run.x - x1) <= _INDENT / 2 and "".join(r.text for r in line.runs[:k]).strip():
            term = " ".join("".join(r.text for r in line.runs[:k]).split())
            runs = [Run(run.text.lstrip(), run.mono, run.x), *line.runs[k + 1 :]]
            rest = Line(runs, x1, line.y, line.size, line.page)
            return (term, rest) if rest.text else None
    return None


def _paragraph(lines: list[Line], layout: _Layout) -> str:
    """Lines joined into one paragraph: monospaced runs as code spans, line-end breaks mended (module docstring)."""
    pieces: list[tuple[str, bool]] = []  # (text, mono), adjacent pieces of one kind merged
    for n, line in enumerate(lines):
        runs = [(r.text, r.mono) for r in line.runs]
        if n and pieces:
            text, mono = pieces[-1]
            pieces[-1] = (text.rstrip(), mono)
            first = runs[0][0].lstrip()
            runs[0] = (first, runs[0][1])
            glue = _glue(pieces[-1][0], first, mono, layout)
            if glue == "dehyphenate":
                pieces[-1] = (pieces[-1][0][:-1], mono)
            elif glue:
                pieces.append((glue, mono and runs[0][1]))
        for text, mono in runs:
            if pieces and (pieces[-1][1] == mono or not text.strip()):
                pieces[-1] = (pieces[-1][0] + text, pieces[-1][1])
            else:
                pieces.append((text, mono))
    out = "".join(_code_span(t) if m else _escape(t) for t, m in pieces)
    out = " ".join(out.split())
    return "\\" + out if _BLOCK_START.match(out) else out


def _glue(before: str, after: str, mono: bool, layout: _Layout) -> str:
    """What joins a line ending in `before` to the next, starting with `after`: "" (nothing), " ", or
    "dehyphenate" (drop the hyphen, join the word halves)."""
    if not before.endswith("-"):
        return " "
    if mono or _OPTION_FRAGMENT.search(before):
        return ""  # `--` / `--unw-stack-` at a line end: the option goes on at the next line's start
    head = _HYPHENATED.search(before)
    tail = _LEADING_WORD.match(after)
    if head and tail:
        whole = (head.group(1) + tail.group(1)).lower()
        if whole in layout.words and f"{head.group(1)}-{tail.group(1)}".lower() not in layout.words:
            return "dehyphenate"
    return ""


def _code_span(text: str) -> str:
    """A monospaced run as inline code, keeping the space around it that separates it from the prose."""
    if not text.strip():
        return text
    lead = " " if text[:1].isspace() else ""
    trail = " " if text[-1:].isspace() else ""
    return f"{lead}{code_span(text)}{trail}"


def _escape(text: str) -> str:
    """Prose that Markdown must not read as emphasis, code or HTML."""
    return re.sub(r"([\\`*<\[\]])", r"\\\1", text)


def _heading(level: int, title: str, page: int) -> str:
    """A heading that names its page (chunking._url opens a PDF citation there)."""
    return "#" * level + " " + _escape(title) + f" {{#page-{page + 1}}}"
