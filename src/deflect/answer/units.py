"""Split quotable text into answer units: sentences of prose, and whole items of lists (steps)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9`\"'(\[])")
_LIST_ITEM = re.compile(r"^\s*(?:\d+[.)]|[-*+])\s+")
_NUMBERED = re.compile(r"^\s*\d+[.)]\s+")


@dataclass(frozen=True)
class Unit:
    text: str
    position: int  # order within its chunk
    list_id: int | None = None  # units of one numbered list share an id
    numbered: bool = False


def split_units(text: str) -> list[Unit]:
    """Prose is cut into sentences; each list item is one unit; headings and code blocks are skipped."""
    units: list[Unit] = []
    in_code = False
    list_id: int | None = None
    lists = 0
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("```"):
            in_code = not in_code
            continue
        if in_code or not line or line.startswith("#") or line.startswith("|") or line.startswith(">"):
            if not line:
                list_id = None
            continue
        if _LIST_ITEM.match(line):
            numbered = bool(_NUMBERED.match(line))
            if list_id is None:
                lists += 1
                list_id = lists
            units.append(Unit(line, len(units), list_id, numbered))
            continue
        list_id = None
        for sentence in _SENTENCE_END.split(line):
            sentence = sentence.strip()
            if len(sentence) > 3:
                units.append(Unit(sentence, len(units)))
    return units
