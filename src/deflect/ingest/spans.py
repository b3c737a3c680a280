"""Where a link's sentence sits in a chunk's text, so its vector can be pooled from the chunk's own pass.

A link's sentence is read from the page as plain text (links shown as their text, whitespace collapsed; links.py),
while a chunk holds the page as Markdown (inline code in backticks, emphasis, a Markdown KB's `[text](url)`). The
two agree on their letters and digits, in order: the sentence is found by those alone, and its span runs from its
first letter or digit to its last in the chunk's text. A Markdown link's target is left out of the chunk's letters,
as the sentence never holds it: the link is read with links.py's own pattern, the one that made the sentence.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Mapping, Sequence
from itertools import accumulate

from deflect.domain.ports import Embedder, Span, SpanEmbedder
from deflect.ingest.links import MARKDOWN_LINK

_ALNUM = re.compile(r"[^\W_]+")


class Letters:
    """A text's letters and digits in order, and where each run of them starts in the text."""

    def __init__(self, text: str) -> None:
        # Each link's "(target)" blanked, same length, so positions stay those of the text.
        masked = MARKDOWN_LINK.sub(lambda m: text[m.start() : m.end(1) + 1] + " " * (m.end() - m.end(1) - 1), text)
        runs = [(m.start(), m.end()) for m in _ALNUM.finditer(masked)]
        self.joined = "".join(text[a:b] for a, b in runs)
        self._runs = runs
        self._starts: list[int] = []  # position in `joined` where each run begins
        at = 0
        for a, b in runs:
            self._starts.append(at)
            at += b - a

    def find(self, sentence: str) -> Span | None:
        """The sentence's span in the text, or None when its letters and digits do not occur there in order."""
        needle = "".join(_ALNUM.findall(sentence))
        at = self.joined.find(needle) if needle else -1
        if at < 0:
            return None
        return self._char(at), self._char(at + len(needle) - 1) + 1

    def _char(self, joined_at: int) -> int:
        run = bisect_right(self._starts, joined_at) - 1
        return self._runs[run][0] + joined_at - self._starts[run]


def locate(sentence: str, texts: Sequence[Letters]) -> tuple[int, Span] | None:
    """The first of the texts that holds the sentence, and its span there."""
    for i, letters in enumerate(texts):
        span = letters.find(sentence)
        if span is not None:
            return i, span
    return None


def embed_with_sentences(
    embedder: Embedder, sources: Sequence[Sequence[str]], wanted: Mapping[str, int], texts_wanted: bool = True
) -> tuple[list[list[float]], dict[str, list[float]]]:
    """The vectors of the sources' texts (all sources' texts in order; none when not `texts_wanted`) and of each
    wanted sentence, which maps to the index of the source that brings it: pooled from the first of that source's
    texts that holds it, when the embedder can pool parts (one pass of the model for both), else embedded alone in
    the same call. Without `texts_wanted` only the texts that hold a sentence go through the model."""
    flat = [text for texts in sources for text in texts]
    if not isinstance(embedder, SpanEmbedder):
        alone = list(wanted)
        vectors = embedder.embed([*(flat if texts_wanted else []), *alone])
        cut = len(flat) if texts_wanted else 0
        return vectors[:cut], dict(zip(alone, vectors[cut:], strict=True))
    starts = list(accumulate((len(texts) for texts in sources), initial=0))
    letters: dict[int, list[Letters]] = {}
    spans: dict[int, list[Span]] = defaultdict(list)
    placed: list[tuple[str, int, int]] = []  # sentence, text, which of the text's spans
    alone = []
    for sentence, k in wanted.items():
        if k not in letters:
            letters[k] = [Letters(text) for text in sources[k]]
        found = locate(sentence, letters[k])
        if found is None:
            alone.append(sentence)
            continue
        at = starts[k] + found[0]
        spans[at].append(found[1])
        placed.append((sentence, at, len(spans[at]) - 1))
    chosen = list(range(len(flat))) if texts_wanted else sorted(spans)
    vectors, pooled = embedder.embed_spans(
        [*(flat[i] for i in chosen), *alone], [*(spans.get(i, []) for i in chosen), *([] for _ in alone)]
    )
    row = {i: n for n, i in enumerate(chosen)}
    said = dict(zip(alone, vectors[len(chosen) :], strict=True))
    late = []  # past what the model reads of their text: embedded alone
    for sentence, at, n in placed:
        vector = pooled[row[at]][n]
        if vector is None:
            late.append(sentence)
        else:
            said[sentence] = vector
    if late:
        said.update(zip(late, embedder.embed(late), strict=True))
    return (vectors[: len(chosen)] if texts_wanted else []), said
