"""Question text as deflect keeps it: Unicode NFC, no control or invisible format characters, no lone surrogates."""

from __future__ import annotations

import re
import unicodedata

from deflect.errors import ValidationFailed

# Line breaks and tabs separate words; every other control (Cc) and format (Cf: zero-width space and joiners,
# BOM, bidi overrides, soft hyphen) character is invisible to a reader and only games matching or the stored text.
_SPACES = {"\t", "\n", "\r", "\v", "\f", "\x85", "\u2028", "\u2029"}


def clean_text(text: str, field: str = "question") -> str:
    """NFC-normalised text with control and zero-width characters removed and whitespace runs collapsed;
    ValidationFailed (422) if it holds a lone surrogate."""
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        raise ValidationFailed(
            f"{field} holds a lone UTF-16 surrogate", [{"field": field, "problem": "lone_surrogate"}]
        )
    out = []
    for ch in unicodedata.normalize("NFC", text):
        if ch in _SPACES:
            out.append(" ")
        elif unicodedata.category(ch) not in ("Cc", "Cf"):
            out.append(ch)
    return " ".join("".join(out).split())


# Questions asking for a way to do something: their answer should show the command, not only describe it. The
# subject may be anyone or anything ("How can the backup server pull..."); "how does" asks how something works.
_HOW = re.compile(
    r"\b(how (do|can|should|would|could|might|shall|to)|what (command|option|setting|flag)s?"
    r"|is (there|it possible)( a way)?( to)?|can (i|we))\b",
    re.IGNORECASE,
)


def asks_how(question: str) -> bool:
    """Whether a question asks for a way to do something (its answer should show the command)."""
    return bool(_HOW.search(question))
