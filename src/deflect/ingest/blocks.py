"""Markdown bodies as sections of whole blocks, parsed with markdown-it-py (CommonMark + GFM tables).

A block is what a chunk may never cut in the middle: a paragraph, a fenced code block, a table, one list item
(with everything nested in it), a block quote. Headings open sections; every section knows its heading path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from markdown_it import MarkdownIt
from markdown_it.token import Token

BlockKind = Literal["code", "table", "item", "text", "heading"]

_MD = MarkdownIt("commonmark").enable("table")
_MARKER = re.compile(r"^(\s*)([-*+]|\d{1,9}[.)])(?:( {1,4})|$)")
_FENCE_RUN = re.compile(r"`{3,}")
_ANCHOR = re.compile(r"\s*\{#([A-Za-z][\w.:-]*)\}\s*$")


@dataclass(frozen=True)
class Block:
    text: str
    kind: BlockKind
    # A list item right after an item of the same list: joined to it by a newline, not a blank line.
    continues_list: bool = False
    # For a piece of a list item too large for one chunk, after its first: the item's term (an option's name, a
    # step's opening words), which a chunk opening with this piece is headed by.
    context: str = ""
    # The block's lines [start, end) in the Markdown it was read from (boilerplate.py removes blocks by them).
    lines: tuple[int, int] = field(default=(0, 0), compare=False)


@dataclass
class Section:
    level: int  # 0 for text before the first heading
    heading: str
    parents: list[str]  # headings above this one, outermost first
    blocks: list[Block] = field(default_factory=list)
    anchor: str = ""  # from a trailing `{#id}` on the heading (HTML section ids are written so)


def fence(code: str, info: str = "") -> str:
    """A fenced code block around `code`, with a fence longer than any backtick run inside it."""
    longest = max((len(run) for run in _FENCE_RUN.findall(code)), default=2)
    ticks = "`" * (longest + 1)
    return f"{ticks}{info}\n{code}\n{ticks}"


def tidy(lines: list[str]) -> str:
    """Trailing spaces off and at most one blank line in a row, except inside fenced code, which stays verbatim."""
    out: list[str] = []
    fence_open = ""
    for line in lines:
        stripped = line.strip()
        if fence_open:
            out.append(line)
            if stripped == fence_open:
                fence_open = ""
            continue
        if stripped.startswith("```"):
            fence_open = stripped[: len(stripped) - len(stripped.lstrip("`"))]
        if not stripped and out and not out[-1].strip():
            continue
        out.append(line.rstrip())
    return "\n".join(out).strip("\n") + "\n"


@lru_cache(maxsize=32)
def _tokens(markdown: str) -> tuple[Token, ...]:
    """A body's markdown-it tokens, kept for the next few bodies: a page's body is split into sections three times
    while it is read (whether it has text, its boilerplate census, its links), and the parse is nearly all the cost.
    Read only: nothing here changes a token."""
    return tuple(_MD.parse(markdown))


def sections(markdown: str) -> list[Section]:
    """Split a Markdown body at its headings (outside code and lists) into sections of blocks."""
    lines = markdown.splitlines()
    tokens = _tokens(markdown)
    out = [Section(0, "", [])]
    stack: list[tuple[int, str]] = []
    for i, token in enumerate(tokens):
        if token.level != 0 or token.map is None or token.type.endswith("_close") or token.type == "inline":
            continue
        if token.type == "heading_open":
            level = int(token.tag[1])
            heading, anchor = split_anchor(tokens[i + 1].content)
            stack = [(lv, h) for lv, h in stack if lv < level]
            out.append(Section(level, heading, [h for _, h in stack], anchor=anchor))
            stack.append((level, heading))
            continue
        out[-1].blocks.extend(_blocks_of(token, tokens, i, lines))
    return out


def split_anchor(heading: str) -> tuple[str, str]:
    """`Options {#cmd-options}` -> ("Options", "cmd-options"); a heading without one keeps all its text."""
    match = _ANCHOR.search(heading)
    # Whitespace collapsed, no-break spaces included: DocBook writes "9.&nbsp;Massif" in headings and "9. Massif"
    # in <title>, and the chunker drops a top heading only when it equals the page title.
    if match is None:
        return " ".join(heading.split()), ""
    return " ".join(heading[: match.start()].split()), match.group(1)


_HEADING_WORD = re.compile(r"\w+")
# Marks a section named by its heading's words rather than an id (html.page_fragments, chunking._landing).
HEADING_KEY = "\x00"


def heading_key(text: str) -> str:
    """A heading without an id, named by its words (lower case): the same for its HTML text and its Markdown
    (`(5) SQLITE_BUSY`, "3.  Platform Configuration" / "3. Platform Configuration", code spans and emphasis aside)."""
    return HEADING_KEY + " ".join(_HEADING_WORD.findall(text.lower()))


def blocks(markdown: str) -> list[Block]:
    """The blocks of a heading-free piece of Markdown (a list item's content, say)."""
    return [b for s in sections(markdown) for b in ([Block(s.heading, "text")] if s.heading else []) + s.blocks]


def _blocks_of(token: Token, tokens: Sequence[Token], i: int, lines: list[str]) -> list[Block]:
    assert token.map is not None
    start, end = token.map
    text = "\n".join(lines[start:end]).strip("\n")
    if token.type == "code_block":
        return [Block(fence(token.content.rstrip("\n")), "code", lines=(start, end))]
    if token.type == "fence":
        return [Block(text, "code", lines=(start, end))]
    if token.type == "table_open":
        return [Block(text, "table", lines=(start, end))]
    if token.type in {"bullet_list_open", "ordered_list_open"}:
        items: list[Block] = []
        for child in tokens[i + 1 :]:
            if child.level == 0:
                break
            if child.type == "list_item_open" and child.level == 1 and child.map is not None:
                item = "\n".join(lines[child.map[0] : child.map[1]]).strip("\n")
                items.append(Block(item, "item", continues_list=bool(items), lines=(child.map[0], child.map[1])))
        return items
    if token.type == "hr" or not text.strip():
        return []
    return [Block(text, "text", lines=(start, end))]


def split_item(item: str) -> tuple[str, list[Block]]:
    """A list item as its first block (with the marker) and the blocks nested under it, dedented."""
    lines = item.splitlines()
    match = _MARKER.match(lines[0])
    if match is None:
        return item, []
    width = len(match.group(0)) if match.group(3) else len(match.group(1)) + len(match.group(2)) + 1
    content = [lines[0][width:]] + [line[width:] if not line[:width].strip() else line.lstrip() for line in lines[1:]]
    inner = blocks("\n".join(content))
    if not inner:
        return item, []
    marker = lines[0][:width]
    head_lines = inner[0].text.splitlines()
    head = "\n".join([marker + head_lines[0], *((" " * width + h) if h else "" for h in head_lines[1:])])
    return head, inner[1:]


def normalise(markdown: str, html_block: Callable[[str], str] | None = None) -> str:
    """Indented code blocks become fenced ones (same text, same line breaks); top-level raw HTML blocks go through
    `html_block` (HTML to Markdown) when given; nothing else changes."""
    tokens = _MD.parse(markdown)
    lines = markdown.splitlines()
    replacements: list[tuple[int, int, str]] = []
    for token in tokens:
        if token.map is None:
            continue
        start, end = token.map
        if token.type == "code_block":
            indent = re.match(r"\s*", lines[start]).group(0)  # type: ignore[union-attr]
            outer = indent[:-4] if indent.endswith("    ") else indent.replace("\t", "", 1)
            code = token.content.rstrip("\n")
            fenced = "\n".join((outer + line) if line else "" for line in fence(code).splitlines())
            replacements.append((start, end, fenced))
        elif token.type == "html_block" and token.level == 0 and html_block is not None:
            # A table or list written in HTML inside Markdown; an HTML comment converts to nothing.
            replacements.append((start, end, html_block(token.content).strip()))
    for start, end, text in reversed(replacements):
        # Keep a blank line after the block: an indented block may be followed by a paragraph directly.
        lines[start:end] = [*text.splitlines(), ""] if end < len(lines) else text.splitlines()
    return "\n".join(lines) + ("\n" if markdown.endswith("\n") else "")
