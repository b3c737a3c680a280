"""A page's lines grouped into blocks: paragraphs, code listings and definitions (a term and its indented
description)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from deflect.ingest.blocks import fence
from deflect.ingest.pdf.headings import Heading
from deflect.ingest.pdf.inline import option_fragment, paragraph, render_term
from deflect.ingest.pdf.lines import INDENT, SENTENCE_END, Layout, Line, Run


@dataclass
class Block:
    page: int
    lines: list[Line]

    def render(self, layout: Layout) -> str:
        return paragraph(self.lines, layout)


@dataclass
class _Code(Block):
    def render(self, layout: Layout) -> str:
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
class _Definition(Block):
    terms: list[str] = field(default_factory=list)
    body: list[Block] = field(default_factory=list)

    def render(self, layout: Layout) -> str:
        label = ", ".join(render_term(t) for t in self.terms)
        parts = [b.render(layout) for b in self.body]
        first = parts[0] if parts and not isinstance(self.body[0], _Code) else ""
        rest = parts[1:] if first else parts
        item = f"- **{label}**: {first}".rstrip()
        return "\n\n".join([item, *("\n".join("  " + s if s else s for s in p.split("\n")) for p in rest)])


def blocks(stream: list[Line | Heading], layout: Layout) -> Iterator[Heading | Block]:
    """Headings as they come; lines grouped into paragraphs, code blocks and definitions."""
    groups: list[Heading | Block] = []
    for item in stream:
        if isinstance(item, Heading):
            groups.append(item)
            continue
        last = groups[-1] if groups else None
        if isinstance(last, Block) and not _breaks(last.lines[-1], item, layout, len(last.lines)):
            last.lines.append(item)
        else:
            groups.append(Block(item.page, [item]))
    i = 0
    while i < len(groups):
        group = groups[i]
        if isinstance(group, Heading):
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
            while i < len(groups) and isinstance(g := groups[i], Block) and _is_code(g) and g.page == group.page:
                lines.extend(g.lines)
                i += 1
            yield _Code(group.page, lines)
            continue
        yield group
        i += 1


def _breaks(a: Line, b: Line, layout: Layout, length: int) -> bool:
    """Whether line b starts a new block after line a."""
    if abs(a.x - b.x) > INDENT / 2:
        return True
    if layout.gap(a, b):
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
    return a.page != b.page and not a.mono and bool(SENTENCE_END.search(a.text))


def _is_code(block: Block) -> bool:
    return all(line.mono for line in block.lines)


def _definition(groups: list[Heading | Block], i: int, layout: Layout) -> tuple[_Definition, int] | None:
    """A definition at group i: its term lines (short, at most six, each not a finished sentence) followed by text
    indented further (its description, as many blocks as stay at that indentation), or by a description that starts
    on the last term's line after a gap (`NAME <S>   The number of...`)."""
    group = groups[i]
    if not isinstance(group, Block):
        return None
    x0 = group.lines[0].x
    term_lines: list[Line] = []
    k = i
    while True:
        current = groups[k]
        if not isinstance(current, Block) or abs(current.lines[0].x - x0) > INDENT / 2:
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
        if isinstance(nxt, Block) and nxt.lines[0].x >= x0 + INDENT and not _is_code(nxt):
            break
        if (
            not isinstance(nxt, Block)
            or abs(nxt.lines[0].x - x0) > INDENT / 2
            or layout.gap(current.lines[-1], nxt.lines[0])
        ):
            return None
        k += 1  # another term of the same description, on the very next line (`PROMPT`, `PROMPT2`, ...)
    terms = [line.text for line in term_lines]
    body: list[Block] = []
    if inline is not None:
        term, rest = inline
        terms.append(term)
        # The description's first line joins the block that follows at its indentation, if any.
        if isinstance(nxt, Block) and not _is_code(nxt) and abs(nxt.lines[0].x - rest.x) <= INDENT / 2:
            body.append(Block(rest.page, [rest, *nxt.lines]))
            j = k + 2
        else:
            body.append(Block(rest.page, [rest]))
            j = k + 1
        x1 = rest.x
    else:
        assert isinstance(nxt, Block)
        x1 = nxt.lines[0].x
        j = k + 1
    while j < len(groups):
        following = groups[j]
        if not isinstance(following, Block) or min(line.x for line in following.lines) < x1 - INDENT / 2:
            break
        body.append(_Code(following.page, following.lines) if _is_code(following) else following)
        j += 1
    if not body:
        return None
    return _Definition(group.page, group.lines, _joined_terms(terms), body), j


def _termlike(line: Line, layout: Layout) -> bool:
    """Short, and not a finished sentence (a term set in code may end in anything)."""
    return len(line.text) <= 0.8 * layout.width and (line.mono or not SENTENCE_END.search(line.text))


def _joined_terms(terms: list[str]) -> list[str]:
    """Term lines: an option broken at its line end (`--unw-stack-` / `frames=<n>`) is one term again."""
    out: list[str] = []
    for term in terms:
        if out and option_fragment(out[-1]):
            out[-1] += term
        else:
            out.append(term)
    return out


def _split_term(line: Line, nxt: Heading | Block | None, x0: float) -> tuple[str, Line] | None:
    """`NAME <S>      The number of lines...`: the term, and the rest of the line as the description's first
    line, when a run starts where the next lines (prose, not code) start, well right of the term, after a gap."""
    if not isinstance(nxt, Block) or nxt.lines[0].x < x0 + 3 * INDENT or _is_code(nxt):
        return None
    x1 = nxt.lines[0].x
    for k, run in enumerate(line.runs[1:], start=1):
        before = line.runs[k - 1]
        # Where the run before would end, set in its font (a monospaced glyph is 0.6 em, a proportional one about
        # half an em on average): a space at least before the description's column (TeX sets `HISTFILE` just a
        # space short of it), not a word running into the column's position.
        end = before.x + len(before.text.rstrip()) * line.size * (0.6 if before.mono else 0.5)
        gap = run.x - end > line.size / 5 and (run.text[:1].isspace() or before.text[-1:].isspace())
        if gap and abs(run.x - x1) <= INDENT / 2 and "".join(r.text for r in line.runs[:k]).strip():
            term = " ".join("".join(r.text for r in line.runs[:k]).split())
            runs = [Run(run.text.lstrip(), run.mono, run.x, run.bold), *line.runs[k + 1 :]]
            rest = Line(runs, x1, line.y, line.size, line.page)
            return (term, rest) if rest.text else None
    return None
