"""Example questions a help page offers its visitors, drawn from the knowledge base being served: its public titles and
headings that are questions (a FAQ's) first, then a few of its public article titles (section headings when it has
too few titles), so a team serving its own manual sees questions its KB can answer, never a sample product's.

Public articles only: a chunk whose audience a customer may not see is skipped before its title or headings are
looked at, so an internal runbook's title can never reach a customer page. A resolved escalation's subject is a
customer's words, not a topic to offer, so escalations are left out whatever their audience.

The pick is deterministic: candidates ranked by a hash of their text, so every load of one index shows the same
examples, spread over the KB rather than its first pages alphabetically, and a new page displaces an example only
when its own hash ranks higher.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterable

from deflect.answer.confidence import content_words
from deflect.bounded import Bounded
from deflect.domain.models import Audience, Chunk
from deflect.domain.ports import Index

EXAMPLES = 3
# A title longer than this is a sentence of a page, not something a visitor would type as a question.
MAX_CHARS = 80
MIN_CONTENT_WORDS = 2
# A manual's chapter number ("4. Memcheck: a memory error detector", "2.3 Options"): the page's place, not words a
# visitor would type.
SECTION_NUMBER = re.compile(r"^\d+(\.\d+)*\.\s+|^\d+(\.\d+)+\s+")  # a dot in it: "1984 Olympics" keeps its year


def example_questions(chunks: Iterable[Chunk], n: int = EXAMPLES) -> list[str]:
    """Up to `n` public article titles of `chunks`, topped up with section headings when there are too few."""
    visible = Audience.CUSTOMER.visible()
    titles: dict[str, str] = {}
    headings: dict[str, str] = {}
    for chunk in chunks:
        if chunk.audience not in visible or chunk.kind != "article":
            continue
        _add(titles, chunk.title)
        if chunk.heading_path:
            _add(headings, chunk.heading_path.split(" > ")[-1])
    # A title or heading that is a question ("How do I restore a single file?", a FAQ's) is what a visitor would
    # type; on a manual the titles are command names ("borg serve"), topics rather than questions: they come after.
    asked = {k: v for found in (titles, headings) for k, v in found.items() if v.endswith("?")}
    picked = _ranked(asked)[:n]
    for found in (titles, headings):
        taken = {p.lower() for p in picked}
        picked += [t for t in _ranked(found) if t.lower() not in taken][: n - len(picked)]
    return picked


def _add(found: dict[str, str], text: str) -> None:
    text = SECTION_NUMBER.sub("", " ".join(text.split()))
    # "|" separates the widget's examples (its data-examples attribute): such a title would be cut in two.
    if not text or len(text) > MAX_CHARS or "|" in text:
        return
    # One word ("Overview", "Index") says nothing a visitor could ask about, unless it is a question.
    if len(content_words(text)) < MIN_CONTENT_WORDS and not text.endswith("?"):
        return
    found.setdefault(text.lower(), text)


def _ranked(found: dict[str, str]) -> list[str]:
    return [found[key] for key in sorted(found, key=lambda key: hashlib.sha256(key.encode()).hexdigest())]


class ExampleQuestions:
    """The served index's example questions, kept until the index changes. Finding them reads every chunk (1.7 s
    for an 8,749-chunk manual), so the pick is cached under the index's chunk count (a cheap, bounded read on every
    call) and dropped by `invalidate` after this process's own ingest. Another process's ingest shows once it adds
    or removes chunks; one that only rewrites pages in place shows after a restart."""

    def __init__(self, index: Index, calls: Bounded, scan: Bounded) -> None:
        self._index = index
        self._calls = calls  # the bounded calls every index read while serving goes through
        self._scan = scan  # the whole read, bounded apart: a slow scan of a large index is no outage of asks
        self._lock = threading.Lock()
        self._cached: tuple[tuple[int, int], list[str]] | None = None  # ((chunk count, n), pick)

    def get(self, n: int = EXAMPLES) -> list[str]:
        """Up to `n` examples ([] when nothing public is indexed); IndexUnavailable when the index cannot be read."""
        key = (self._calls.call(self._index.count), n)
        with self._lock:
            cached = self._cached
        if cached is None or cached[0] != key:
            cached = (key, self._scan.call(self._read, n) if key[0] else [])
            with self._lock:
                self._cached = cached
        return cached[1]

    def invalidate(self) -> None:
        """Forget the pick (the index was written)."""
        with self._lock:
            self._cached = None

    def _read(self, n: int) -> list[str]:
        # Page by page: one unpaged read of a large collection fails (deflect.index.chroma.ChromaIndex.pages).
        return example_questions((chunk for page in self._index.pages() for chunk in page), n)
