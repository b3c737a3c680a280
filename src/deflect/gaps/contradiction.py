"""Does a newer resolution say something other than an older source? A simple, explainable test.

A source chunk is contradicted by a resolution when all of these hold:
1. they are about the same thing: cosine(resolution text, chunk text) >= `contradiction_threshold`;
2. the source is older: its `updated` date is before the resolution's resolved_at date (dates compared in UTC);
3. the resolution announces a change: it contains a replacement cue ("no longer", "instead", "deprecated", "now",
   "don't", "superseded", ...);
4. the source does not already say it: fewer than `max_overlap` of the resolution's content words are in the chunk.
No model judges meaning; every flag can be checked by reading the two texts.

Low word overlap alone is not enough: on the sample kb it flagged neighbouring tickets that describe different cases
of one problem in different words (e.g. two double-charge refunds), not disagreements.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from deflect.escalations.stats import words as content_words

# Phrases with which a resolution tells the reader that earlier advice no longer holds.
CUES = (
    "no longer",
    "not anymore",
    "anymore",
    "instead",
    "deprecated",
    "superseded",
    "replaced",
    "replaces",
    "obsolete",
    "outdated",
    "now",
    "don't",
    "do not",
    "stop using",
)
_CUE_PATTERNS = [(cue, re.compile(r"\b" + re.escape(cue).replace("'", "['\u2019]") + r"\b")) for cue in CUES]


def cues_in(text: str) -> list[str]:
    """The replacement cues `text` contains, in CUES order."""
    lowered = text.lower()
    return [cue for cue, pattern in _CUE_PATTERNS if pattern.search(lowered)]


def overlap(resolution: str, chunk: str) -> float:
    """Share of the resolution's content words that also appear in the chunk (1.0 when it has none)."""
    words = content_words(resolution)
    if not words:
        return 1.0
    return len(words & content_words(chunk)) / len(words)


def parse_when(value: str) -> datetime | None:
    """An ISO date or datetime (`2026-09-15`, `2026-07-08T09:15:00Z`) as an aware datetime; None if unreadable."""
    text = value.strip()
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        try:
            day = date.fromisoformat(text[:10])
        except ValueError:
            return None
        when = datetime(day.year, day.month, day.day)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def older(updated: str, resolved_at: datetime) -> bool:
    """Whether a source last updated on `updated` predates the resolution's day (unknown dates never do)."""
    when = parse_when(updated)
    return when is not None and when.astimezone(UTC).date() < resolved_at.astimezone(UTC).date()


def differs(resolution: str, chunk: str, max_overlap: float) -> tuple[bool, list[str], float]:
    """(says something the chunk does not, cues found, overlap): rules 3 and 4 of the module docstring."""
    found = cues_in(resolution)
    share = overlap(resolution, chunk)
    return bool(found) and share < max_overlap, found, share
