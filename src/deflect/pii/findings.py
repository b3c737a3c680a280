"""What the scrubber reports: kinds of personal data, findings in the original text, and the scrubbed result."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class PiiKind(StrEnum):
    """A kind of personal data or secret; its placeholder in scrubbed text is `[KIND]`."""

    EMAIL = "EMAIL"
    PHONE = "PHONE"
    CARD = "CARD"
    IBAN = "IBAN"
    API_KEY = (
        "API_KEY"  # a credential recognised by its own shape or a key-named field (qv_live_..., AKIA..., api_key=)
    )
    TOKEN = "TOKEN"  # a JWT, a bearer token, or a secret recognised by the word before it (password=, token:)
    IP = "IP"
    NAME = "NAME"

    @property
    def placeholder(self) -> str:
        """The text that replaces a finding of this kind."""
        return f"[{self.value}]"


# When findings of different kinds overlap, the merged finding takes the first kind in this order: the more
# specific and the more harmful to leak wins (a key inside a bearer header is a key; a name inside an email
# address is an email address).
PRIORITY: tuple[PiiKind, ...] = (
    PiiKind.API_KEY,
    PiiKind.TOKEN,
    PiiKind.CARD,
    PiiKind.IBAN,
    PiiKind.EMAIL,
    PiiKind.IP,
    PiiKind.PHONE,
    PiiKind.NAME,
)
_RANK = {kind: rank for rank, kind in enumerate(PRIORITY)}


@dataclass(frozen=True, order=True)
class Finding:
    """One span of personal data in the original text: `text[start:end]`."""

    start: int
    end: int
    kind: PiiKind


@dataclass(frozen=True)
class Scrubbed:
    """The scrubbed text and the findings it replaced, with offsets into the original text."""

    text: str
    findings: tuple[Finding, ...]

    @property
    def changed(self) -> bool:
        """Whether anything was replaced."""
        return bool(self.findings)

    def counts(self) -> dict[str, int]:
        """How many findings of each kind, for logs and audit records that must not hold the data itself."""
        counts: dict[str, int] = {}
        for finding in self.findings:
            counts[finding.kind.value] = counts.get(finding.kind.value, 0) + 1
        return counts


def merge(findings: Iterable[Finding]) -> list[Finding]:
    """Sorted, non-overlapping findings: overlapping ones become their union, with the kind of higher priority."""
    merged: list[Finding] = []
    for f in sorted(findings):
        if merged and f.start < merged[-1].end:
            last = merged[-1]
            kind = last.kind if _RANK[last.kind] <= _RANK[f.kind] else f.kind
            merged[-1] = Finding(last.start, max(last.end, f.end), kind)
        else:
            merged.append(f)
    return merged


def replace(text: str, findings: Iterable[Finding]) -> str:
    """`text` with each of the (merged) findings replaced by its kind's placeholder."""
    parts: list[str] = []
    cursor = 0
    for f in findings:
        parts.append(text[cursor : f.start])
        parts.append(f.kind.placeholder)
        cursor = f.end
    parts.append(text[cursor:])
    return "".join(parts)
