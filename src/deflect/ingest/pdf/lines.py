"""A PDF's lines as pypdf's text visitor reports them (where each starts, its size, its fonts), its outline, and what
the document's own lines say is normal (line spacing, line length, vocabulary)."""

from __future__ import annotations

import io
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"})
_MONO_FONT = re.compile(r"courier|mono|cmtt|sftt|typewriter|consol|menlo|code|inconsolata", re.I)
# A bold face by its name (after the subset tag, `ABCDEF+`): `Times-Bold`, `NimbusSanL-Bold`, `Arial,Bold`, TeX's
# `CMBX12` / `CMB10` / `CMSSBX10`, the EC fonts' `SFBX1200`, `Roboto-Black`, `SourceSansPro-Semibold`.
_BOLD_FONT = re.compile(r"bold|black|heavy|semibold|demi|^cmb|^cmssbx|^sfbx|^ecbx|-bd$", re.I)
_WORD = re.compile(r"[A-Za-z]+")
_COMPOUND = re.compile(r"[A-Za-z]+-[A-Za-z]+")
SENTENCE_END = re.compile(r"[.:!?]$")
# Points between two left edges that mean another indentation (a description right of its term, a new block); less
# is a ragged left edge.
INDENT = 6.0


@dataclass
class Run:
    """Text in one font, as the visitor reported it."""

    text: str
    mono: bool
    x: float
    bold: bool = False


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

    @property
    def bold(self) -> bool:
        """Its letters and digits set wholly in a bold face (TeX may set a heading's `<`, `>` or `=` in a math font)."""
        chars = [(c, r.bold) for r in self.runs for c in r.text if c.isalnum()]
        return bool(chars) and all(b for _, b in chars)


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
        mono, bold = bool(_MONO_FONT.search(name)), bool(_BOLD_FONT.search(name.lstrip("/").split("+")[-1]))
        scale = abs(cm[3] or 1.0) * abs(tm[3] or 1.0)
        for i, piece in enumerate(text.translate(_LIGATURES).replace("\r", "\n").split("\n")):
            if i:
                close()
            if piece:
                if not where and piece.strip():
                    where.extend([x, y, size * scale])
                if where:
                    current.append(Run(piece, mono, x, bold))

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


class Layout:
    """What the document's own lines say is normal: line spacing, text size, line length, vocabulary."""

    def __init__(self, lines: list[Line]) -> None:
        # Line spacing as a multiple of the font size: a low quantile of the gaps between lines, which in running
        # text are mostly line gaps; paragraph and heading gaps are the wider ones.
        gaps = sorted(
            (a.y - b.y) / max(a.size, 1.0)
            for a, b in zip(lines, lines[1:], strict=False)
            if a.page == b.page and 0 < a.y - b.y < 3 * max(a.size, 1.0)
        )
        self.spacing = gaps[len(gaps) // 5] if gaps else 1.2
        sizes: Counter[float] = Counter()  # the size most of the prose is set in, to the half point
        for line in lines:
            if not line.mono:
                sizes[round(line.size * 2) / 2] += len(line.text)
        self.size = sizes.most_common(1)[0][0] if sizes else 10.0
        lengths = sorted(len(line.text) for line in lines if not line.mono)
        self.width = lengths[int(len(lengths) * 0.9)] if lengths else 80
        text = "\n".join(line.text for line in lines).lower()
        self.words = set(_WORD.findall(text)) | set(_COMPOUND.findall(text))

    def gap(self, upper: Line, lower: Line) -> bool:
        """More space between two lines of one page (`upper` above `lower`) than between the lines of a paragraph."""
        return upper.page == lower.page and upper.y - lower.y > 1.35 * self.spacing * max(upper.size, lower.size, 1.0)
