"""The pre-escalation checklist: what deflect can fill from the customer's own words, and what is missing.

Honest by construction: a value is only ever text the customer wrote (a sentence, a code, a version) or a KB
article deflect itself showed. Nothing is inferred; when no cue is found the item stays None (missing).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Literal

from deflect.domain.escalation import ChecklistItem, SearchedSource

ChecklistKey = Literal[
    "error_message", "steps_to_reproduce", "environment", "already_tried", "impact", "previous_contact"
]
LABELS: dict[ChecklistKey, str] = {
    "error_message": "Error message",
    "steps_to_reproduce": "Steps to reproduce",
    "environment": "Environment / version",
    "already_tried": "Already tried",
    "impact": "Impact and urgency",
    "previous_contact": "Previous communication",
}
MAX_SNIPPET = 240
SEPARATOR = " | "

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")

# --- error message -------------------------------------------------------------------------------------------
_ERROR_CODE = re.compile(r"\b(?:[A-Z]{1,6}[-_]?\d{2,6}|ERR_[A-Z_]{3,})\b")
_REFERENCE_BEFORE = re.compile(
    r"\b(?:ticket|case|ref|reference|request|incident|order|invoice)\s*(?:no\.?|number|id|#)?\s*:?\s*#?$", re.I
)
_HTTP_STATUS = re.compile(
    r"\bHTTP\s*(?:status\s*)?[45]\d\d\b"
    r"|\b(?:error|status|code)\s*:?\s*[45]\d\d\b"
    r"|\b[45]\d\d\s+(?:error|bad request|unauthori[sz]ed|forbidden|not found|conflict|too many requests"
    r"|internal server error|bad gateway|service unavailable|gateway time-?out)\b",
    re.I,
)
_EXCEPTION = re.compile(r"\b[A-Z][A-Za-z0-9]*(?:Error|Exception)\b")
_QUOTED = re.compile(r"\"([^\"\n]{3,200})\"|“([^”\n]{3,200})”|`([^`\n]{3,200})`|(?<!\w)'([^'\n]{3,200})'(?!\w)")
_ERROR_CUE = re.compile(
    r"\b(?:error|errors|message|says|said|saying|shows|showed|showing|displays|displayed|get|gets|got|getting"
    r"|see|seeing|returns|returned|fails?|failed|failing|warning|pop-?up|alert|reads)\b",
    re.I,
)

# --- steps to reproduce --------------------------------------------------------------------------------------
_NUMBERED_LINE = re.compile(r"^\s*(?:step\s*)?\d{1,2}\s*[.):]\s+\S.*$", re.I | re.M)
_INLINE_NUMBERED = re.compile(r"(?:^|\s)1[.)]\s+\S.*?\s2[.)]\s+\S", re.S)
_NARRATIVE_STEP = re.compile(
    r"\b(?:when(?:ever)?|every time|each time|as soon as|once|after)\s+I\s+\w+.*?(?:,|\bthen\b|\bit\b|\bI (?:get|see)\b"
    r"|\bnothing\b)"
    r"|\bfirst\b.*\bthen\b"
    r"|\bsteps to reproduce\b",
    re.I,
)

# --- environment ---------------------------------------------------------------------------------------------
_VERSION_NUMBER = r"\d+(?:\.\d+)*"
_ENVIRONMENT = [
    re.compile(
        rf"\b(?:Chrome|Chromium|Firefox|Safari|Edge|Opera|Brave|Internet Explorer)(?:\s+v?{_VERSION_NUMBER})?\b"
    ),
    re.compile(
        rf"\b(?:Windows(?:\s+(?:\d+|XP|Vista|Server\s+\d+))?|macOS(?:\s+(?:{_VERSION_NUMBER}|Sonoma|Ventura|Monterey"
        rf"|Sequoia|Big Sur))?|Mac\s?OS(?:\s?X)?|OS X|Linux|Ubuntu(?:\s+{_VERSION_NUMBER})?|Debian|Fedora"
        rf"|iOS(?:\s+{_VERSION_NUMBER})?|iPadOS(?:\s+{_VERSION_NUMBER})?|Android(?:\s+{_VERSION_NUMBER})?|ChromeOS"
        r"|iPhone|iPad|Chromebook|MacBook)\b"
    ),
    re.compile(rf"\b(?:(?:app|client|desktop app|mobile app)\s+)?(?:version|ver\.?)\s*v?{_VERSION_NUMBER}\b", re.I),
    re.compile(r"(?<![\w.])v\d+\.\d+(?:\.\d+)*\b"),
    re.compile(
        rf"\b(?:(?:Python|Node(?:\.js)?|JavaScript|TypeScript|Java|Ruby|Go|PHP|\.NET|C#|Swift|Kotlin|iOS|Android)\s+)?"
        rf"SDK(?:\s+v?{_VERSION_NUMBER})?",
        re.I,
    ),
    re.compile(
        r"\b(?:Free|Starter|Basic|Pro|Professional|Team|Teams|Business|Premium|Enterprise|Growth|Scale)\s+"
        r"(?:plan|tier|subscription|edition)\b",
        re.I,
    ),
]

# --- already tried -------------------------------------------------------------------------------------------
_TRIED = re.compile(
    r"\b(?:I|we)(?:'ve|\s+have)?\s+(?:already\s+|also\s+)?(?:tried|attempted|restarted|rebooted|reinstalled"
    r"|re-installed|updated|upgraded|reset|cleared|followed|checked|switched|disabled|re-?enabled|logged out"
    r"|signed out)\b"
    r"|\balready\b|\bincognito\b|\bprivate window\b|\b(?:a\s+)?different\s+(?:browser|device|computer|network)\b"
    r"|\bcleared?\s+(?:the\s+|my\s+)?(?:cache|cookies)\b",
    re.I,
)

# --- impact and urgency --------------------------------------------------------------------------------------
_IMPACT = re.compile(
    r"\b\d+\s+(?:users|people|customers|employees|seats|agents|accounts|team members)\b"
    r"|\b(?:all|most|many|several|multiple|some)\s+(?:of\s+)?(?:our\s+|my\s+|the\s+)?(?:users|customers|employees"
    r"|staff|agents|accounts)\b"
    r"|\b(?:everyone|everybody|nobody|no one|whole team|entire team|whole company|entire company)\b"
    r"|\bblock(?:ed|ing|er)\b|\b(?:can't|cannot|can not|unable to)\s+work\b"
    r"|\b(?:urgent|urgently|asap|emergency)\b|\bdeadline\b"
    r"|\bby\s+(?:today|tonight|tomorrow|monday|tuesday|wednesday|thursday|friday|saturday|sunday|end of (?:the )?"
    r"(?:day|week)|eod|eow|noon|\d{1,2}(?::\d\d)?\s*(?:am|pm))\b"
    r"|\b(?:go-live|go live|launch(?:ing)?)\b|\b(?:production|prod|site|service|app)\s+(?:is\s+)?down\b"
    r"|\blosing\s+(?:money|revenue|sales|customers)\b",
    re.I,
)

# --- previous communication ----------------------------------------------------------------------------------
_PREVIOUS = re.compile(
    r"\b(?:ticket|case)\s*(?:no\.?|number|id)?\s*[:#]?\s*#?[A-Z]{0,5}-?\d{3,}\b"
    r"|(?<!\w)#\d{3,}\b|\b(?:INC|CS|SR|REQ|TKT|CASE)-?\d{3,}\b"
    r"|\b(?:I|we)(?:'ve|\s+have)?\s+(?:already\s+)?e-?mailed\b"
    r"|\b(?:I|we)(?:'ve|\s+have)?\s+(?:already\s+)?(?:called|phoned|contacted|messaged|wrote to|written to"
    r"|reached out to|spoke (?:to|with)|spoken (?:to|with)|talked to|chatted with)\s+(?:you|your|support|the support"
    r"|someone|an? (?:agent|rep)|sales|customer service|our account manager)\b"
    r"|\b(?:opened|raised|submitted|filed|logged)\s+(?:a|an|the|another)\s+(?:ticket|case|request|support request)\b"
    r"|\b(?:your|the)\s+(?:support|agent|team|rep|representative)\s+(?:said|told|promised|replied)\b"
    r"|\b(?:second|third|fourth|fifth|\d+(?:st|nd|rd|th))\s+time\b"
    r"|\basked\s+(?:this\s+|about\s+this\s+)?before\b|\bstill\s+(?:waiting|no\s+(?:reply|response|answer))\b",
    re.I,
)


def _messages(question: str, conversation: Sequence[str]) -> list[str]:
    return [m for m in [*conversation, question] if m and m.strip()]


def _sentences(messages: Iterable[str]) -> list[str]:
    return [s.strip() for m in messages for s in _SENTENCE_END.split(m) if s and s.strip()]


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_SNIPPET else text[: MAX_SNIPPET - 1].rstrip() + "…"


def _join(parts: Iterable[str]) -> str | None:
    seen: list[str] = []
    for part in parts:
        clipped = _clip(part)
        if clipped and clipped not in seen:
            seen.append(clipped)
    return SEPARATOR.join(seen) or None


def _matching_sentences(sentences: Sequence[str], pattern: re.Pattern[str]) -> list[str]:
    return [s for s in sentences if pattern.search(s)]


def _error_message(sentences: Sequence[str]) -> str | None:
    found: list[str] = []
    for sentence in sentences:
        spans: list[tuple[int, str]] = []
        if _ERROR_CUE.search(sentence):
            spans += [(m.start(), next(g for g in m.groups() if g)) for m in _QUOTED.finditer(sentence)]
        spans += [
            (m.start(), m.group())
            for m in _ERROR_CODE.finditer(sentence)
            if not _REFERENCE_BEFORE.search(sentence[: m.start()])
        ]
        for pattern in (_HTTP_STATUS, _EXCEPTION):
            spans += [(m.start(), m.group()) for m in pattern.finditer(sentence)]
        found += [text for _, text in sorted(spans)]
    return _join(found)


def _steps(messages: Sequence[str], sentences: Sequence[str]) -> str | None:
    found: list[str] = []
    for message in messages:
        numbered = [m.group().strip() for m in _NUMBERED_LINE.finditer(message)]
        if len(numbered) >= 2:
            found.append(" ".join(numbered))
        elif _INLINE_NUMBERED.search(message):
            found.append(message)
    if not found:
        found = _matching_sentences(sentences, _NARRATIVE_STEP)
    return _join(found)


def _environment(text: str) -> str | None:
    found = [m.group().strip() for pattern in _ENVIRONMENT for m in pattern.finditer(text)]
    return _join(f for f in found if f.lower() != "sdk")


def _already_tried(sentences: Sequence[str], searched_sources: Sequence[SearchedSource]) -> str | None:
    found = _matching_sentences(sentences, _TRIED)
    # A page quoted to the asker (its excerpt is in the packet) says so: the customer has read that passage.
    shown = [
        (f"{s.title} ({s.url})" if s.url else s.title) + (", with a quoted excerpt" if s.excerpt else "")
        for s in searched_sources
        if s.shown
    ]
    if shown:
        found.append("KB articles deflect already showed: " + "; ".join(shown))
    return _join(found)


def build_checklist(
    question: str, conversation: Sequence[str], searched_sources: Sequence[SearchedSource]
) -> list[ChecklistItem]:
    """The six checklist items, in a fixed order; value None where the conversation gives no evidence."""
    messages = _messages(question, conversation)
    sentences = _sentences(messages)
    values: dict[ChecklistKey, str | None] = {
        "error_message": _error_message(sentences),
        "steps_to_reproduce": _steps(messages, sentences),
        "environment": _environment("\n".join(messages)),
        "already_tried": _already_tried(sentences, searched_sources),
        "impact": _join(_matching_sentences(sentences, _IMPACT)),
        "previous_contact": _join(_matching_sentences(sentences, _PREVIOUS)),
    }
    return [ChecklistItem(key=key, label=LABELS[key], value=values[key]) for key in LABELS]
