"""Blocks a folder's pages all repeat (a man-page suite's footer, a site's notice), kept out of chunks.

A block (blocks.py: a paragraph or one list item) is boilerplate in a folder when its text, whitespace collapsed and
dates and times masked (a footer stamped with each page's own date is one block), is on at least MIN_PAGES of the
folder's article pages and on at least MIN_SHARE of them. Measured on three real manuals (docs/retrieval.md): bup's
"Part of the bup(1) suite." is on 38 of its 39 man pages; the most repeated block of the borg manual ("Note", an
admonition label) is on 18 of 46 pages, and the rest repeat on a handful of pages that share a section (an include),
which is content each of those pages needs. Half the folder separates the two with room on either side. A list of
three or more one- or two-word items (a site's menu outside `<nav>`: SQLite's pages all open with the same eight
links) is counted as one block, though each item alone is a label. Code blocks, tables and definition entries
(`- **--verbose**: ...`, a man page's option) are never boilerplate: a suite's man pages may all list the same
option, and each page's copy is what a question about that command needs; dropping it everywhere would drop it from
the index.

A page keeps everything when the boilerplate is all it has (it would otherwise never be indexed). The folder is
the page's own directory (by its name under the ingest root), so one manual's footer is not counted against
another's pages. Stripping is a function of the page's own parse and of the folder's census, both of which the
ingest knows without parsing an unchanged file again (memo.py stores each page's block fingerprints); a page's
content hash covers what was stripped, so a page whose stripping changes is re-chunked and no other is.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from deflect.ingest.blocks import Block, sections

MIN_PAGES = 3
MIN_SHARE = 0.5
# A block of one or two words is a label ("Note", "Warning", "Example:"): what it means is the block after it,
# which it introduces, so it stays however often it repeats (borg's deployment pages all carry "Note").
MIN_WORDS = 3
# A list of this many items or more, each a label, is a menu (menus()): SQLite's pages all open with the same
# eight-link list, which would otherwise be the first chunk of every page.
MIN_MENU_ITEMS = 3
# A definition entry as html.py and text.py write it: `- **TERM**: description`.
_DEFINITION = re.compile(r"^(?:[-*+]|\d{1,9}[.)])[ \t]+\*\*.+?\*\*")
NOTHING: frozenset[str] = frozenset()
# Dates and times, masked before a block is fingerprinted: a footer that stamps each page with its own date ("This
# page last modified on 2020-09-25 17:27:11 UTC", on 202 of SQLite's 214 top-level pages; "Last updated: Nov 30,
# 2026") is the same block on every page. Version numbers are not masked: "Added in version 3.8" is content.
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b\.?"
)
_DATES = re.compile(
    r"\b\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?\b"  # 2020-09-25, 2020-09-25 17:27:11
    r"|\b\d{1,2}:\d{2}(?::\d{2})?\b"  # 17:27, 17:27:11
    rf"|\b{_MONTH} \d{{1,2}},? \d{{4}}\b"  # Nov 30, 2026
    rf"|\b\d{{1,2}} {_MONTH},? \d{{4}}\b",  # 30 November 2026
    re.IGNORECASE,
)


@dataclass(frozen=True)
class PageBlocks:
    """What the census needs of a page: fingerprints of its blocks that may be boilerplate, and whether it has a
    block that never is (so that stripping all the others still leaves it something to chunk)."""

    fingerprints: frozenset[str]
    solid: bool
    # Its links' (target, text) pairs, hashed (deflect.ingest.links.link_keys): the navigation census, kept here so
    # that the memo and a single-file ingest's siblings carry it the way they carry the blocks.
    links: frozenset[str] = frozenset()


def fingerprint(text: str) -> str:
    """A block's text with whitespace collapsed and dates and times masked, hashed (16 hex digits: the memo stores
    one per block)."""
    return hashlib.sha256(_DATES.sub("#", " ".join(text.split())).encode("utf-8")).hexdigest()[:16]


def candidate(block: Block) -> bool:
    """Prose paragraphs and plain list items may be boilerplate; code, tables, definitions and labels never are."""
    if len(block.text.split()) < MIN_WORDS:
        return False
    return block.kind == "text" or (block.kind == "item" and _DEFINITION.match(block.text) is None)


def menus(blocks: list[Block]) -> list[list[Block]]:
    """The lists of `blocks` that are menus: MIN_MENU_ITEMS or more items, each too short to be a candidate itself
    ("Home", "Download", "Support"). A site's menu is a list of one-word links that every page repeats; each item
    alone is a label, but the whole list, repeated on most pages of a folder, is chrome."""
    lists: list[list[Block]] = []
    for block in blocks:
        if block.kind != "item":
            continue
        if block.continues_list and lists:  # the item right after the last one, of the same list
            lists[-1].append(block)
        else:
            lists.append([block])
    return [items for items in lists if len(items) >= MIN_MENU_ITEMS and all(map(_short_item, items))]


def _menu_fingerprint(menu: list[Block]) -> str:
    return fingerprint("\n".join(b.text for b in menu))


def _short_item(block: Block) -> bool:
    return not candidate(block) and _DEFINITION.match(block.text) is None


@lru_cache(maxsize=32)
def page_blocks(body: str) -> PageBlocks:
    """The census entry of an article body (cached: the memo and the census ask for the same body in turn)."""
    parts = sections(body)
    found = [b for s in parts for b in s.blocks]
    listed = [m for s in parts for m in menus(s.blocks)]
    in_menus = {id(b) for m in listed for b in m}
    return PageBlocks(
        fingerprints=frozenset(fingerprint(b.text) for b in found if candidate(b))
        | frozenset(_menu_fingerprint(m) for m in listed),
        solid=any(not candidate(b) and id(b) not in in_menus for b in found),
    )


def folder(origin: str) -> str:
    """The folder a page is counted in: its directory under the ingest root ("" at the root)."""
    return origin.rpartition("/")[0]


def repeated(pages: Mapping[str, PageBlocks]) -> dict[str, frozenset[str]]:
    """Per folder, the fingerprints that are boilerplate there; `pages` maps each page's origin to its blocks."""
    return on_most_pages({origin: page.fingerprints for origin, page in pages.items()})


def on_most_pages(pages: Mapping[str, frozenset[str]]) -> dict[str, frozenset[str]]:
    """Per folder, the keys found on at least MIN_PAGES of its pages and on at least MIN_SHARE of them; `pages` maps
    each page's origin to its keys (block fingerprints here, link pairs in links.py)."""
    by_folder: dict[str, list[frozenset[str]]] = defaultdict(list)
    for origin, keys in pages.items():
        by_folder[folder(origin)].append(keys)
    out: dict[str, frozenset[str]] = {}
    for name, members in by_folder.items():
        need = max(MIN_PAGES, math.ceil(MIN_SHARE * len(members)))
        if len(members) < need:
            continue
        counts = Counter(key for keys in members for key in keys)
        found = frozenset(key for key, n in counts.items() if n >= need)
        if found:
            out[name] = found
    return out


def applied(page: PageBlocks, boilerplate: frozenset[str]) -> frozenset[str]:
    """The fingerprints stripped from this page: its boilerplate, unless that is all the page has."""
    found = page.fingerprints & boilerplate
    if found and found == page.fingerprints and not page.solid:
        return NOTHING
    return found


def strip(body: str, stripped: frozenset[str]) -> str:
    """The body without the blocks whose fingerprint is in `stripped`; every other line as it was."""
    if not stripped:
        return body
    lines = body.splitlines()
    drop: dict[int, bool] = {}  # first line of a dropped block -> whether it was a list item
    gone: set[int] = set()
    for section in sections(body):
        for block in section.blocks:
            if candidate(block) and fingerprint(block.text) in stripped:
                start, end = block.lines
                drop[start] = block.kind == "item"
                gone.update(range(start, end))
        for menu in menus(section.blocks):
            if _menu_fingerprint(menu) in stripped:
                for block in menu:
                    drop[block.lines[0]] = True
                    gone.update(range(*block.lines))
    out: list[str] = []
    for i, line in enumerate(lines):
        if i in drop and not drop[i] and out and out[-1].strip():
            out.append("")  # a dropped paragraph still separates what was before it from what was after it
        if i not in gone:
            out.append(line)
    return "\n".join(out) + ("\n" if body.endswith("\n") else "")


def stripped_hash(content_hash: str, stripped: frozenset[str]) -> str:
    """A page's content hash once `stripped` is taken out (unchanged when nothing is): its chunks depend on both."""
    if not stripped:
        return content_hash
    blob = json.dumps([content_hash, sorted(stripped)])
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]
