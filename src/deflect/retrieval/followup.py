"""Follow-up questions: a message that names its topic only in the asker's earlier one.

"How do I revoke it later?" after "How do I create an API key?" retrieves nothing useful on its own (on the sample
kb's follow-up set, 1 of 22 such follow-ups was answered; eval/golden/followups.jsonl). A follow-up is searched
again with the earlier message in front of it, and that search is kept only when it is more confident and its
first source is one the follow-up's own words also reached (`keeps`): a topic switch such as "Does it work with
Discord too?" must not be answered from the earlier topic alone.

What marks a follow-up is English wording (an opener such as "and" or "what about", or a word that points back,
such as "it" or "those"), written before any measurement and kept narrow: an existential "is there", an
extraposed "is it possible" and a reported "it says" point nowhere. Other languages are not read as follow-ups.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from deflect.domain.models import SourceHit

# An earlier message longer than this is not read as the asker's question (an answer or a pasted log would bury
# the follow-up's words in its own).
MAX_EARLIER_CHARS = 400
_OPENERS = re.compile(r"^\s*(and|also|but|so|then|ok|okay|what about|how about|what if)\b", re.IGNORECASE)
# Words that point back to something named before, anywhere in the message ("that" and "this" only at its end:
# elsewhere they mostly introduce a clause or a noun of their own: "this error", "I read that ...").
_POINTERS = re.compile(r"\b(it|its|those|these|them|they|there|ones?)\b|\b(that|this)\s*[?.!]*\s*$", re.IGNORECASE)
_NOT_POINTING = re.compile(
    r"\b(is|are|was|were) (there|it) (possible|true|ok|okay|safe|normal|necessary|required|a way|any)\b"
    r"|\b(is|are) there\b|\bit (says|said|shows|showed|seems|looks)\b",
    re.IGNORECASE,
)


def is_follow_up(question: str) -> bool:
    """The question opens as a continuation or points back to something it does not name."""
    if _OPENERS.search(question):
        return True
    return bool(_POINTERS.search(_NOT_POINTING.sub(" ", question)))


def with_earlier(question: str, earlier: Sequence[str]) -> str | None:
    """The follow-up searched with the asker's last earlier message in front of it; None when there is none that
    reads as a question of its own, or the question stands alone."""
    last = next((m.strip() for m in reversed(earlier) if m.strip()), "")
    if not last or len(last) > MAX_EARLIER_CHARS or not is_follow_up(question):
        return None
    return f"{last} {question}"


def keeps(alone: Sequence[SourceHit], alone_confidence: float, joined: Sequence[SourceHit], confidence: float) -> bool:
    """The search with the earlier message replaces the follow-up's own when it is more confident and its first
    source is among those the follow-up alone retrieved: the follow-up's words reach that source too, so the answer
    is about what it asks, not only about what was asked before."""
    if not joined or confidence <= alone_confidence:
        return False
    return joined[0].source_id in {h.source_id for h in alone}
