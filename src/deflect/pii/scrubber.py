"""scrub(): find personal data and secrets in text and replace each with a placeholder such as `[EMAIL]`."""

from __future__ import annotations

import re
from collections.abc import Iterable

from deflect.pii.detectors import DETECTORS, name_detector
from deflect.pii.findings import Finding, PiiKind, Scrubbed, merge, replace
from deflect.pii.people import find_people

# Text that is never personal data, and what may not be found inside it: a placeholder from an earlier scrub
# (so scrubbing twice changes nothing), and, for digit-only kinds, URLs and UUIDs, whose numbers are ids.
_PLACEHOLDER = re.compile(r"\[(?:" + "|".join(k.value for k in PiiKind) + r")\]")
_URL = re.compile(r"\b(?:https?|ftp)://[^\s<>\"'`]+")
_UUID = re.compile(r"\b[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\b")
_DIGIT_KINDS = frozenset({PiiKind.PHONE, PiiKind.CARD})


def _spans(pattern: re.Pattern[str], text: str) -> list[tuple[int, int]]:
    return [m.span() for m in pattern.finditer(text)]


def find_pii(text: str, names: Iterable[str] = ()) -> list[Finding]:
    """Sorted, non-overlapping findings in `text`; `names` are the customer's names (from the escalation packet),
    found with the people the text itself names (deflect.pii.people)."""
    if not text:
        return []
    found = [f for detector in (*DETECTORS, name_detector(names), find_people) for f in detector(text)]
    placeholders = _spans(_PLACEHOLDER, text)
    id_like = _spans(_URL, text) + _spans(_UUID, text)

    def kept(f: Finding) -> bool:
        if any(f.start < end and start < f.end for start, end in placeholders):
            return False
        return f.kind not in _DIGIT_KINDS or not any(start <= f.start and f.end <= end for start, end in id_like)

    return merge(f for f in found if kept(f))


def scrub(text: str, names: Iterable[str] = ()) -> Scrubbed:
    """`text` with every finding replaced by its placeholder, and the findings (offsets into `text`)."""
    findings = find_pii(text, names)
    return Scrubbed(replace(text, findings), tuple(findings))


def scrub_text(text: str, names: Iterable[str] = ()) -> str:
    """The scrubbed text alone: what is stored in place of `text`."""
    return scrub(text, names).text
