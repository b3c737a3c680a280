"""Candidate passages of a chunk: its section, its self-contained groups of blocks, its definition items.

A group is the smallest piece that stands on its own: a paragraph together with the lists, code blocks and
tables that follow it (the sentence that introduces a command or a procedure is quoted with it), and any block
ending in a colon together with the block it announces, and a paragraph that goes on in lower case after the code or
list its intro announced (`... each snapshot says:` code `instead of the usual:` code) together with them, and a
paragraph that opens by continuing the one before (`Or ask an external program ...`, `Also, ...`) together with it. A
numbered
procedure, a code block and a table are never cut; a longer passage is trimmed at a sentence or list-item boundary
and never ends on a colon whose content was dropped.

A chunk boundary can cut such a group too: a chunk may open inside it (`instead of the usual:`) or end on the intro
of what the next chunk holds. `neighbours_wanted` names the chunks that would make those groups whole again; the
answer quotes a group from where it starts, never from a fragment (deflect.answer.extractive).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from deflect.answer.units import Block, BlockKind, ends_with_colon, split_blocks
from deflect.domain.models import SourceHit, chunk_id, chunk_number

PassageKind = Literal["section", "group", "item"]
_CONSTRUCTS: frozenset[BlockKind] = frozenset({"list", "code", "table", "quote", "html"})
# A block that is never cut may take this many budgets; beyond that it is not quoted at all.
ATOMIC_LIMIT = 2
# A paragraph opening with one of these goes on from the one before it (another way, an addition, a contrast): quoted
# alone it reads as a fragment ("Or you can use fish_config from the commandline:", borg's third way to give a
# passphrase without the first two). Sentence-initial and capitalised, so "Order" or "Also-ran" do not match;
# demonstratives ("This", "It") were measured too and left out: they changed more answers and none for the better
# (docs/retrieval.md, session 10).
_CONTINUES = re.compile(
    r"(?:Or|Alternatively|Also|Otherwise|However|But|Instead|Similarly|Likewise|Additionally|Furthermore|Moreover"
    r"|In addition|In that case|In this case)\b(?!-)"
)


@dataclass(frozen=True)
class Passage:
    """A verbatim range of one chunk's quotable text, with the heading it is shown under."""

    text: str
    heading: str
    kind: PassageKind
    start: int
    end: int


@dataclass(frozen=True)
class Group:
    """A self-contained group of blocks (trimmed to the budget), and the options of its definition lists."""

    passage: Passage | None
    items: tuple[Passage, ...]


@dataclass(frozen=True)
class Section:
    """The passages of one section of a chunk: the whole section when it fits the budget, and its groups."""

    heading: str
    whole: Passage | None
    groups: tuple[Group, ...]


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    kind: BlockKind
    atomic: bool


def chunk_sections(text: str, heading: str, max_chars: int) -> list[Section]:
    """The candidate passages of one chunk's quotable Markdown `text`, by section; `heading` is the chunk's."""
    out: list[Section] = []
    for label, blocks in _sections(split_blocks(text), heading):
        groups = [g for g in (_usable(text, g) for g in _groups(text, blocks)) if g]
        if not groups:
            continue
        parts: list[Group] = []
        for group in groups:
            units = _trim(text, _units(group), max_chars)
            items = tuple(
                _passage(text, label, "item", start, end)
                for block in group
                if block.kind == "list" and block.definitions and len(block.parts) > 1
                for start, end in block.parts
                if end - start <= max_chars
            )
            trimmed = _passage(text, label, "group", units[0].start, units[-1].end) if units else None
            parts.append(Group(trimmed, items))
        start, end = groups[0][0].start, groups[-1][-1].end
        whole = _passage(text, label, "section", start, end) if end - start <= max_chars else None
        out.append(Section(label, whole, tuple(parts)))
    return out


def _passage(text: str, label: str, kind: PassageKind, start: int, end: int) -> Passage:
    return Passage(text[start:end], label, kind, start, end)


def _sections(blocks: tuple[Block, ...], heading: str) -> list[tuple[str, list[Block]]]:
    """Blocks split at the chunk's own headings; each part is shown under its heading."""
    sections: list[tuple[str, list[Block]]] = [(heading, [])]
    for block in blocks:
        if block.kind == "heading":
            sections.append((block.title, []))
        elif block.kind != "rule":
            sections[-1][1].append(block)
    return [s for s in sections if s[1]]


def _groups(text: str, blocks: list[Block]) -> list[list[Block]]:
    groups: list[list[Block]] = []
    for block in blocks:
        prev = groups[-1][-1] if groups else None
        if prev is not None and (
            block.kind in _CONSTRUCTS
            or _announces(text, prev)
            or _goes_on(text, groups[-1], block)
            or (block.kind == "paragraph" and _CONTINUES.match(text, block.start) is not None)
        ):
            groups[-1].append(block)
        else:
            groups.append([block])
    return groups


def _goes_on(text: str, group: list[Block], block: Block) -> bool:
    """A paragraph in lower case after the code or list that the group's intro announced continues that sentence."""
    return _lower_start(text, block) and group[-1].kind in _CONSTRUCTS and any(_announces(text, b) for b in group[:-1])


def _lower_start(text: str, block: Block) -> bool:
    return block.kind == "paragraph" and text[block.start : block.start + 1].islower()


def opens_mid_sentence(text: str) -> bool:
    """Whether a chunk's text opens with a paragraph in lower case: maybe a sentence its previous chunk began
    (`instead of the usual:`), maybe a command's name (`cg_merge is a simple program`); only the previous chunk
    tells which."""
    blocks = split_blocks(text)
    return bool(blocks) and _lower_start(text, blocks[0])


def opens_with_fragment(text: str) -> bool:
    """Whether a chunk's text opens with a lower-case intro ending in a colon: the end of a sentence its previous
    chunk began, announcing what follows. Quoted from there, the answer would start mid-sentence."""
    blocks = split_blocks(text)
    return bool(blocks) and _lower_start(text, blocks[0]) and _announces(text, blocks[0])


def ends_announcing(text: str) -> bool:
    """Whether a chunk's text ends on an intro (a block ending in a colon): what it introduces is in the next chunk,
    and without it the intro is not quoted at all. (A fence left open is no such sign: ingestion closes the code
    blocks it splits, and plain text underlined with `~~~` only looks like a fence.)"""
    blocks = split_blocks(text)
    return bool(blocks) and _announces(text, blocks[-1])


def _announces(text: str, block: Block) -> bool:
    """A prose block ending in a colon announces the block after it."""
    return block.kind in ("paragraph", "list") and ends_with_colon(block.text(text))


def _usable(text: str, group: list[Block]) -> list[Block]:
    """Without a code fence the chunk boundary cut off (and what follows it), and no intro left dangling."""
    kept: list[Block] = []
    for block in group:
        if block.kind == "code" and not block.closed:
            break
        kept.append(block)
    while kept and _announces(text, kept[-1]):
        kept.pop()
    return kept


def _units(group: list[Block]) -> list[_Unit]:
    """Where a group may be cut: between sentences and bullet items; procedures, code and tables stay whole."""
    units: list[_Unit] = []
    for block in group:
        if block.kind == "paragraph" or (block.kind == "list" and not block.ordered):
            units.extend(_Unit(s, e, block.kind, False) for s, e in block.parts)
        else:
            units.append(_Unit(block.start, block.end, block.kind, True))
    return units


def _trim(text: str, units: list[_Unit], max_chars: int) -> list[_Unit]:
    """The longest prefix within budget that ends on a whole unit and does not end announcing what was cut."""
    if not units:
        return []
    start = units[0].start
    kept: list[_Unit] = []
    for unit in units:
        if unit.end - start <= max_chars:
            kept.append(unit)
            continue
        # A procedure, code block or table is never cut: it comes whole, with its intro, or not at all.
        if unit.atomic and unit.end - start <= ATOMIC_LIMIT * max_chars:
            kept.append(unit)
        break
    while kept and ends_with_colon(text[kept[-1].start : kept[-1].end]):
        kept.pop()
    return kept


def neighbours_wanted(sources: Sequence[SourceHit]) -> set[str]:
    """Ids of the chunks that would make whole a group the retrieved chunks of `sources` cut: the previous chunk of
    one that opens mid-sentence, the next chunk of one that ends announcing. Retrieved chunks are not asked again.
    Only articles: an escalation's chunks are not one text read in order."""
    wanted: set[str] = set()
    for source in sources:
        if source.kind != "article":
            continue
        for scored in source.chunks:
            chunk = scored.chunk
            n = chunk_number(chunk.chunk_id)
            if n > 0 and opens_mid_sentence(chunk.quotable):
                wanted.add(chunk_id(source.source_id, n - 1))
            if 0 <= n < chunk.source_chunks - 1 and ends_announcing(chunk.quotable):
                wanted.add(chunk_id(source.source_id, n + 1))
        wanted -= {c.chunk.chunk_id for c in source.chunks}
    return wanted
