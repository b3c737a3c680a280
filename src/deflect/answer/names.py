"""Names in a question that the retrieved knowledge never mentions: "connect our GitLab repositories" when the KB
only knows GitHub.

Retrieval and confidence compare meaning, and a question about a product the KB never covers means nearly the same
as one about a product it does ("GitLab" and "GitHub" embed close, and the rest of the question matches the GitHub
article word for word), so such questions were answered from the wrong article with high confidence. A name is
a word written with a capital inside it (GitLab, iPhone) or capitalised in mid-sentence (Jira, Salesforce); it is
unknown when no retrieved source contains it, nor a word one typo away from it (a misspelt name the KB knows is
still known). Retrieval is hybrid, so a KB page naming it would be among the sources; checking only those keeps
this free of any extra index read.

People are not products: "Hi, my name is Peter Novak. How do I ..." named no product, yet escalated a question
answered at 0.99 without the greeting. Words the PII scrubber takes for personal data (the asker's own names as
given, a person the question introduces, an address or a key) are never names here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from deflect.domain.models import SourceHit
from deflect.pii import find_pii

_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-.][A-Za-z0-9]+)*")
_SENTENCE_END = re.compile(r"[.!?:;]\s*$")
_WORD = re.compile(r"[a-z0-9]+(?:[-.][a-z0-9]+)*")
MIN_NAME_CHARS = 3


def question_names(question: str, asker: Sequence[str] = ()) -> list[str]:
    """Words of the question written as names: an inner capital, or capitalised after a sentence's first word;
    not personal data (`asker`: the asker's own names, as the caller gave them)."""
    personal = find_pii(question, asker)
    names = []
    for match in _TOKEN.finditer(question):
        word = match.group()
        if len(word) < MIN_NAME_CHARS or any(f.start < match.end() and match.start() < f.end for f in personal):
            continue
        inner_capital = any(ch.isupper() for ch in word[1:]) and not word.isupper()
        starts_sentence = not question[: match.start()].strip() or bool(_SENTENCE_END.search(question[: match.start()]))
        if inner_capital or (word[0].isupper() and not word.isupper() and not starts_sentence):
            names.append(word)
    return names


def unknown_names(question: str, sources: Sequence[SourceHit], asker: Sequence[str] = ()) -> tuple[str, ...]:
    """The question's names that no retrieved source mentions, even misspelt by one letter."""
    names = question_names(question, asker)
    if not names:
        return ()
    vocabulary: set[str] = set()
    for source in sources:
        vocabulary.update(_WORD.findall(source.title.lower()))
        for scored in source.chunks:
            vocabulary.update(_WORD.findall(scored.chunk.text.lower()))
    return tuple(n for n in names if not _known(n.lower(), vocabulary))


def _known(name: str, vocabulary: set[str]) -> bool:
    if name in vocabulary:
        return True
    near = [w for w in vocabulary if abs(len(w) - len(name)) <= 1 and w[:1] == name[:1]]
    return any(_one_edit(name, w) for w in near)


def _one_edit(a: str, b: str) -> bool:
    """At most one substitution, insertion, deletion or swap of neighbours (Damerau) between a and b."""
    if a == b:
        return True
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    if len(long_) - len(short) != 1:
        return False
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1 :]
