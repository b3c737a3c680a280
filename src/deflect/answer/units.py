"""Split a chunk's Markdown into blocks an answer can quote whole: headings, paragraphs, lists, code, tables.

Every block is a character range of the text it came from, so whatever an answer quotes is verbatim source text.
Blocks also record where they may be cut: between the sentences of a paragraph and between the items of a list;
a code block, a table or a quote is never cut. markdown-it (CommonMark plus GFM tables) finds the blocks, so a
fence, a list item's indented continuation lines or a table's header row are read the way a renderer reads them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from markdown_it import MarkdownIt

BlockKind = Literal["heading", "paragraph", "list", "code", "table", "quote", "rule", "html"]
_KINDS: dict[str, BlockKind] = {
    "heading_open": "heading",
    "paragraph_open": "paragraph",
    "bullet_list_open": "list",
    "ordered_list_open": "list",
    "fence": "code",
    "code_block": "code",
    "table_open": "table",
    "blockquote_open": "quote",
    "hr": "rule",
    "html_block": "html",
}
# A sentence ends at . ! or ? followed by space and something that starts a sentence.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9`\"'(\[*])")
_INLINE_CODE = re.compile(r"`[^`\n]*`")
# A definition-list item as the parser writes it, `- **TERM**: description` (also `**TERM:**` or `TERM` in
# backticks); a bold lead-in without the colon (`- **Collapse columns** you are not using`) is a plain item.
_DEFINITION = re.compile(r"^\s*[-*+]\s+(?:\*\*[^*\n]+:\*\*|(?:\*\*[^*\n]+\*\*|`[^`\n]+`)(?:\s+\*[^*\n]+\*)?\s*:)")
# A titled entry: an item whose first line is only its bold title, its text in the paragraphs under it (SQLite's
# limits page numbers its sections this way: `14. **Maximum Database Size**`). Each entry stands alone, as a
# definition does; a numbered procedure's steps say what to do on their first line and do not match.
_TITLED_ITEM = re.compile(r"^\s*(?:\d+[.)]|[-*+])\s+\*\*[^*\n]+\*\*\s*$")
_FENCE_CLOSE = re.compile(r"^\s{0,3}(`{3,}|~{3,})\s*$")

# Block rules only: blocks are read from the block tokens (type, level, line map, a heading's raw content), never
# from inline children, and skipping the inline pass halves the parse (0.48 -> 0.26 ms a chunk, the same blocks for
# all 8,749 chunks of SQLite's manual); answers parse the chunks of every question this way.
_PARSER = MarkdownIt("commonmark").enable("table").disable("inline")


@dataclass(frozen=True)
class Block:
    """One top-level Markdown block, as offsets into the text it was split from."""

    kind: BlockKind
    start: int
    end: int
    # Where the block may be cut: sentences of a paragraph, items of a list; one part for a block kept whole.
    parts: tuple[tuple[int, int], ...]
    ordered: bool = False  # a numbered list: a procedure, kept whole
    definitions: bool = False  # a list of `TERM: description` items or titled entries, each self-contained
    closed: bool = True  # False for a code fence the chunk boundary cut off
    title: str = ""  # heading text, for heading blocks

    def text(self, source: str) -> str:
        """The block's verbatim text."""
        return source[self.start : self.end]


@lru_cache(maxsize=4096)
def split_blocks(text: str) -> tuple[Block, ...]:
    """Top-level blocks of `text` in order; blank lines between them belong to none."""
    offsets = _line_offsets(text)
    blocks: list[Block] = []
    tokens = _PARSER.parse(text)
    for i, tok in enumerate(tokens):
        kind = _KINDS.get(tok.type)
        if kind is None or tok.level != 0 or tok.map is None:
            continue
        start, end = _span(text, offsets, tok.map[0], tok.map[1])
        if start >= end:
            continue
        if kind == "paragraph":
            blocks.append(Block(kind, start, end, _sentences(text, start, end)))
        elif kind == "list":
            items = [
                _span(text, offsets, t.map[0], t.map[1])
                for t in tokens[i + 1 :]
                if t.type == "list_item_open" and t.level == 1 and t.map is not None and t.map[0] < tok.map[1]
            ]
            items = [(s, e) for s, e in items if s < e] or [(start, end)]
            lines = [text[s:e] for s, e in items]
            firsts = [line.split("\n", 1)[0] for line in lines]
            definitions = sum(bool(_DEFINITION.match(line)) for line in lines) * 2 >= len(lines) or (
                sum(bool(_TITLED_ITEM.match(first)) for first in firsts) * 2 >= len(lines)
            )
            blocks.append(
                Block(kind, start, end, tuple(items), ordered=tok.type == "ordered_list_open", definitions=definitions)
            )
        elif kind == "heading":
            title = tokens[i + 1].content if i + 1 < len(tokens) else ""
            blocks.append(Block(kind, start, end, ((start, end),), title=title))
        elif kind == "code":
            lines = text[start:end].split("\n")
            closed = tok.type == "code_block" or (len(lines) > 1 and bool(_FENCE_CLOSE.match(lines[-1])))
            blocks.append(Block(kind, start, end, ((start, end),), closed=closed))
        else:
            blocks.append(Block(kind, start, end, ((start, end),)))
    return tuple(blocks)


_SAYS = re.compile(r"[A-Za-z].*[.!?:)]$")
SENTENCE_MIN_WORDS = 4


def has_sentence(text: str) -> bool:
    """Whether `text` has a line of prose that is a sentence (words ending in . ! ? : or a closing parenthesis),
    outside code, tables and headings: a bare synopsis, an options table or a man page's NAME fragment has none."""
    for block in split_blocks(text):
        if block.kind not in ("paragraph", "list", "quote"):
            continue
        for line in block.text(text).splitlines():
            line = line.strip()
            if len(line.split()) >= SENTENCE_MIN_WORDS and _SAYS.search(line):
                return True
    return False


# A sentence saying what a page or section goes on to tell ("This article explains what counts as a failure, how
# retries are scheduled, and how to ...") is its table of contents: it names every topic the sections after it
# answer, and answers none of them.
_CONTENTS = re.compile(
    r"\b(?:This|The following) (?:article|page|guide|section|chapter|document|tutorial|topic|FAQ|manual)\b"
    r"[^.!?]{0,120}?\b(?:explains?|describes?|covers?|shows?|summari[sz]es|lists?|walks|tells|introduces?"
    r"|discusses|gives|goes through|outlines?)\b"
    r"|\bIn this (?:article|page|guide|section|chapter|document|tutorial)\b"
)
# A numbered list that starts at its first step is a procedure; one starting further on is the tail of a list
# whose start is elsewhere (a chunk boundary cut it, or it numbers alternatives an option describes).
_FIRST_STEP = re.compile(r"\s*1[.)]\s")


def contents_sentences(text: str) -> list[tuple[int, int]]:
    """The ranges of `text`'s prose sentences that are a table of contents (`_CONTENTS`)."""
    return [
        (start, end)
        for block in split_blocks(text)
        if block.kind == "paragraph"
        for start, end in block.parts
        if _CONTENTS.search(text, start, end)
    ]


def without_contents(text: str) -> str:
    """`text` less its table-of-contents sentences: the words a passage itself says about its subject."""
    out: list[str] = []
    pos = 0
    for start, end in contents_sentences(text):
        out.append(text[pos:start])
        pos = end
    return "".join(out) + text[pos:] if out else text


def closing_contents(text: str) -> int | None:
    """Where a table-of-contents sentence that ends `text` starts, when the sentences before it in its paragraph
    still say something (an introduction that answers, then lists the article's topics); None otherwise."""
    blocks = split_blocks(text)
    if not blocks or blocks[-1].kind != "paragraph" or len(blocks[-1].parts) < 2:
        return None
    start, end = blocks[-1].parts[-1]
    if not _CONTENTS.search(text, start, end) or not has_sentence(text[:start]):
        return None
    return start


def shows_steps(text: str) -> bool:
    """Whether `text` shows what to do: a numbered procedure from its first step or a code block, with a sentence
    saying what it is for (a bare block of program output or a release note set as code has none)."""
    steps = any(
        block.kind == "code" or (block.kind == "list" and block.ordered and _FIRST_STEP.match(block.text(text)))
        for block in split_blocks(text)
    )
    return steps and has_sentence(text)


def ends_with_colon(text: str) -> bool:
    """Whether text introduces what follows it (`Do this:`), ignoring closing emphasis."""
    return text.rstrip().rstrip("*_").rstrip().endswith(":")


def _line_offsets(text: str) -> list[int]:
    offsets = [0]
    for line in text.split("\n"):
        offsets.append(offsets[-1] + len(line) + 1)
    return offsets


def _span(text: str, offsets: list[int], first: int, last: int) -> tuple[int, int]:
    """Character range of lines [first, last), without surrounding blank space."""
    start = offsets[min(first, len(offsets) - 1)]
    end = min(offsets[min(last, len(offsets) - 1)], len(text))
    while end > start and text[end - 1].isspace():
        end -= 1
    while start < end and text[start] == "\n":  # leading spaces may matter (indented code)
        start += 1
    return start, end


def _sentences(text: str, start: int, end: int) -> tuple[tuple[int, int], ...]:
    """Sentence ranges of a paragraph; a full stop inside `inline code` never ends a sentence."""
    chunk = text[start:end]
    masked = _INLINE_CODE.sub(lambda m: "x" * len(m.group()), chunk)
    spans = []
    pos = 0
    for m in _SENTENCE_END.finditer(masked):
        spans.append((start + pos, start + m.start()))
        pos = m.end()
    spans.append((start + pos, end))
    return tuple((s, e) for s, e in spans if e > s)
