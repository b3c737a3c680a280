"""Grounded extractive answers: intact passages of the top sources, each quoted under its heading and marked [n].

An answer is the passage that best answers the question (a section, a paragraph with the procedure, code or table
it introduces, or one option of a definition list), plus at most a second passage when it covers part of the
question the first does not, from the same source or from a second one that retrieval ranked close to the first.
A how-to answer that would show no code at all takes as its second passage the example further into the first
passage's section, read after retrieval (SourceHit.following). Nothing is paraphrased: every passage is, verbatim,
text of the source it cites.

Passages are scored without a model: retrieval already scored their chunks, and what separates the passages of
a few relevant chunks is which of the question's words they (and their headings) contain, weighted by how rare
each word is among those chunks. Embedding the three best candidates as well was measured on the kb golden set
(+0.02 fact recall over all answerable cases, ~100 ms more per answer) and left out. An introduction's table of
contents ("This article explains ...") names topics it does not answer, so its words do not count, and it is not
quoted at the end of a passage; a how-to question prefers, among passages covering it about equally, one that shows
the steps or the command.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import Stemmer

from deflect.answer.confidence import content_words
from deflect.answer.passages import Passage, Section, chunk_sections, opens_mid_sentence, opens_with_fragment
from deflect.answer.units import closing_contents, has_sentence, shows_steps, split_blocks, without_contents
from deflect.domain.models import Answer, Citation, SourceHit, chunk_number
from deflect.domain.text import asks_how
from deflect.retrieval.openings import opens_page

# A second source is cited only when it is nearly as relevant as the first; otherwise it dilutes the answer.
SECOND_SOURCE_RATIO = 0.9
# A second passage must cover this share of the question's (rarity-weighted) words that the first one misses...
SECOND_NEW_COVERAGE = 0.2
# ...and be about the question at least this much as the first passage is.
SECOND_ON_TOPIC = 0.5
# Weight of the chunk's retrieval score (relative to the best chunk) next to word coverage.
CHUNK_WEIGHT = 1.0
# Weight of length (in budgets): between passages covering the question equally, the shorter one is quoted.
LENGTH_WEIGHT = 0.05
# Taken off a passage without a single sentence (a bare synopsis, an options table, a man page's NAME line): it
# names the thing but answers nothing on its own. Half the retrieval score's weight: on the bup manual any value
# from 0.2 to 1 gave the same answers (13 of 20 actionable instead of 10), with no change on borg or the kb.
FRAGMENT_PENALTY = 0.5
# Added to a passage that shows what to do (a numbered procedure from its first step, or a code block, with the
# sentence that introduces it) when the question asks how to do something: between passages covering the question
# about equally it is the answer, not a description of the same thing. The smallest weight reaching the tune split's
# best (session 11, docs/retrieval.md: 0.1, 0.15 and 0.2 alike there; 0.05 won one answer fewer).
STEPS_BONUS = 0.1
# A chunk of a sibling section next to the first source's retrieved ones (SourceHit.nearby) scores this share of the
# source's lowest retrieved chunk score: below every retrieved passage that covers the question as well. On the kb's
# tune half 0.8, 0.9 and 1.0 gave the same answers (docs/retrieval.md, session 12).
NEARBY_SCORE = 0.9
SNIPPET_CHARS = 240
# Shorter common text at a chunk seam is a coincidence, not the overlap of a split paragraph.
MIN_OVERLAP = 20
MAX_OVERLAP = 2000  # far above the chunk overlap setting's few hundred characters; bounds the search
_LOCAL = threading.local()  # a PyStemmer object must not be shared between threads
# The words that frame a question ("How do I *make* pip use a proxy?", "I *want* to ...") say nothing about which
# passage answers it, yet a passage that happens to contain one ("we tried to make sure") covered a rare question
# word and was quoted as a second passage. Stemmed like passage words; not stop words for retrieval or confidence.
_FRAME_WORDS = frozenset(
    Stemmer.Stemmer("english").stemWords(
        ["make", "want", "need", "way", "able", "possible", "know", "tell", "try", "trying", "help", "like"]
        + ["would", "should", "could"]
    )
)
_CODE_SPAN = re.compile(r"`[^`\n]+`")
_INDENTED_CODE = re.compile(r"(?:\A|\n\n)(?: {4}|\t)\S")
_EXAMPLES = re.compile(r"\bexamples?\b", re.IGNORECASE)
# A section that lists other pages ("See also", a man page's "SEE ALSO", fish's "See more") names them and answers
# nothing; under the page's best chunk it was quoted first (fish's alias page: "1. The function command this builds
# on. 2. Functions. ...") or as a second passage that added only the names.
_POINTERS = re.compile(
    r"(?:see also|see more|related (?:articles|pages|topics|links|commands)|further reading)\W*", re.IGNORECASE
)
_OWN_LINE = re.compile(r"^(?:\s{4}|\s{0,3}(?:```|~~~|\||<|>))")


@dataclass
class _Candidate:
    passage: Passage
    source_rank: int
    chunk_rank: int
    chunk_id: str
    chunk_score: float
    # What this passage is part of and could be quoted instead, smallest first: its group, then its section.
    parents: tuple[Passage, ...]
    heading_words: frozenset[str]
    text_words: frozenset[str]
    coverage: float = 0.0
    score: float = 0.0

    @property
    def words(self) -> frozenset[str]:
        return self.heading_words | self.text_words


class ExtractiveGenerator:
    """Quotes the best passage of the top source, and a second one when it adds to the answer."""

    name = "extractive"

    def __init__(self, max_sources: int = 2, max_chars: int = 1000) -> None:
        self._max_sources = max_sources
        self._max_chars = max_chars

    def generate(self, question: str, sources: Sequence[SourceHit]) -> Answer:
        """Compose an answer from `sources` (best first)."""
        chosen = _eligible_sources(sources, self._max_sources, question)
        candidates = _dedupe(self._candidates(chosen))
        # The answer leads with the source retrieval ranked first (the one confidence judged); when nothing of it
        # can be quoted whole, there is no answer, and the service escalates.
        if not any(c.source_rank == 0 for c in candidates):
            return Answer(text="", citations=[])
        weights = _term_weights(_stems(question) - _FRAME_WORDS, [c.words for c in candidates])
        # Sums over sets of words run in an order that depends on the process's string hashing; fsum is exact in any
        # order, so two processes (or two workers) never break a tie between passages differently.
        total = math.fsum(weights.values()) or 1.0
        best_chunk = max(c.chunk_score for c in candidates)
        best_chunk = best_chunk if best_chunk > 0 else 1.0  # a cosine can be negative; the ratio must not flip
        how = asks_how(question)
        for cand in candidates:
            # A question word in the heading counts twice: the heading says what the whole passage is about.
            found = math.fsum(weights.get(w, 0.0) for w in cand.words) + math.fsum(
                weights.get(w, 0.0) for w in cand.heading_words
            )
            cand.coverage = found / (2 * total)
            cand.score = (
                cand.coverage
                + CHUNK_WEIGHT * cand.chunk_score / best_chunk
                - LENGTH_WEIGHT * len(cand.passage.text) / self._max_chars
                # Under a heading that already says every question word (an FAQ's question), all its paragraphs cover
                # the question alike: the one whose own text says them is the answer, not the shortest remark.
                + LENGTH_WEIGHT * math.fsum(weights.get(w, 0.0) for w in cand.text_words) / total
                - (0.0 if has_sentence(cand.passage.text) else FRAGMENT_PENALTY)
                + (STEPS_BONUS if how and shows_steps(cand.passage.text) else 0.0)
            )
        first = _expand(max((c for c in candidates if c.source_rank == 0), key=lambda c: c.score), candidates)
        picked = [first]
        second = _second(first, candidates, weights)
        if second is None and chosen[0] is not sources[0]:
            # The escalation retrieval ranked first gave way to the article the customer named; what it adds (the
            # one case's specifics) is still quoted after it.
            second = max((c for c in candidates if c.source_rank == 1), key=lambda c: c.score, default=None)
        if second is None and asks_how(question) and not _has_code(first.passage.text):
            # A "how do I" answered by a description alone leaves the customer to find the command: the example
            # of the same page is worth more than a second passage of prose.
            second = _example(first, candidates) or second
        if second is None and how and not _has_block(first.passage.text):
            # An option or subcommand's description ("delete: Deletes history items ...") says what it does, not the
            # command line to type: the page's example using the one the question names does.
            second = _item_example(first, candidates, _stems(question) - _FRAME_WORDS)
        opening = self._opening(question, first, second, chosen)
        if opening is not None:
            # The page's opening names the command the whole page is about; a second passage naming a command or
            # option of its own (inline code in its prose) is worth more. A block of program output is not: on
            # valgrind's DHAT chapter it kept `--tool=dhat` out of "How do I find short-lived allocations?".
            second = second if second is not None and _CODE_SPAN.search(second.passage.text) else opening
        if asks_how(question) and not any(_has_code(c.passage.text) for c in (first, second) if c is not None):
            # Nothing quoted shows what to type: the example a few chunks further into the first passage's section
            # (`WITH RECURSIVE ...` in the examples subsection after the prose defining recursive queries) is what
            # the customer needs.
            example = self._following_example(first, chosen, weights)
            # A second passage of prose stays: replacing one that covered more of the question lost answers (session 4).
            if example is not None and second is None:
                second = example
        if second is not None:
            picked.append(second)
        return _compose([_without_closing_contents(c) for c in picked], chosen)

    def _following_example(
        self, first: _Candidate, sources: list[SourceHit], weights: dict[str, float]
    ) -> _Candidate | None:
        """The passage with code about the question in the chunks read after the first passage's chunk, within its
        section (SourceHit.following); the nearest of those covering the question best."""
        source = sources[first.source_rank]
        keys = first.chunk_id.split("+")  # chunks of one section joined again (_texts), neighbours included
        known = {c.chunk.chunk_id: c.chunk for c in source.chunks} | {
            c.chunk_id: c for c in [*source.context, *source.nearby]
        }
        own = next((known[key] for key in keys if key in known), None)
        if own is None:
            return None
        last = max(chunk_number(key) for key in keys)
        total = math.fsum(weights.values()) or 1.0
        best: tuple[float, int, _Candidate] | None = None
        for chunk in source.following:
            distance = chunk_number(chunk.chunk_id) - last
            if distance <= 0 or not _within(chunk.heading_path, own.heading_path):
                continue
            fragment = split_blocks(chunk.quotable)[0].start if opens_mid_sentence(chunk.quotable) else -1
            for section in chunk_sections(chunk.quotable, _heading(source, chunk.heading_path), self._max_chars):
                if _points_elsewhere(section.heading):
                    continue
                heading_words = _stems(section.heading)
                for group in section.groups:
                    p = group.passage
                    if p is None or p.start == fragment or not (_has_code(p.text) and has_sentence(p.text)):
                        continue
                    cand = _Candidate(p, first.source_rank, -1, chunk.chunk_id, 0.0, (), heading_words, _stems(p.text))
                    found = math.fsum(weights.get(w, 0.0) for w in cand.words) + math.fsum(
                        weights.get(w, 0.0) for w in heading_words
                    )
                    cand.coverage = found / (2 * total)
                    # The section's heading says every passage under it is on topic; the example's own words must.
                    if not any(weights.get(w, 0.0) for w in cand.text_words) or _overlaps(first, cand):
                        continue
                    key = (cand.coverage, -distance, cand)
                    if best is None or key[:2] > best[:2]:
                        best = key
        return best[2] if best is not None else None

    def _opening(
        self, question: str, first: _Candidate, second: _Candidate | None, sources: list[SourceHit]
    ) -> _Candidate | None:
        """The opening of the first passage's page, for a how-to answer, when it says in a sentence how to run
        something (`--tool=massif`) that the answer does not show yet."""
        if not asks_how(question):
            return None
        source = sources[first.source_rank]
        chunk = source.opening or next((c.chunk for c in source.chunks if opens_page(c.chunk)), None)
        if chunk is None:
            return None
        sections = chunk_sections(chunk.quotable, "", self._max_chars)
        if not sections:
            return None
        lead = sections[0]
        passage = lead.whole or next((g.passage for g in lead.groups if g.passage), None)
        if passage is None or not (_has_code(passage.text) and has_sentence(passage.text)):
            return None
        said = [first.passage.text] + ([second.passage.text] if second is not None else [])
        cand = _Candidate(passage, first.source_rank, -1, chunk.chunk_id, 0.0, (), frozenset(), _stems(passage.text))
        if any(_overlaps(cand, p) for p in (first, second) if p is not None):
            return None
        # What it names (`--tool=massif`) may already be shown inside a longer command (`valgrind --tool=massif prog`).
        spans = [span.strip("`") for span in _CODE_SPAN.findall(passage.text)]
        if spans and all(any(span in text for text in said) for span in spans):
            return None
        return cand

    def _candidates(self, sources: list[SourceHit]) -> list[_Candidate]:
        out: list[_Candidate] = []
        for s_rank, source in enumerate(sources):
            for c_rank, chunk in enumerate(_texts(source)):
                sections = chunk_sections(chunk.text, _heading(source, chunk.heading), self._max_chars)
                quotes = chunk.may_quote(sections)
                for section in sections:
                    if _points_elsewhere(section.heading):
                        continue
                    heading_words = _stems(section.heading)
                    above = (section.whole,) if section.whole and quotes(section.whole) else ()
                    ranked: list[tuple[Passage, tuple[Passage, ...]]] = [(p, ()) for p in above]
                    for group in section.groups:
                        passage = group.passage if group.passage and quotes(group.passage) else None
                        group_above = ((passage,) if passage else ()) + above
                        ranked.extend((item, group_above) for item in group.items if quotes(item))
                        if passage:
                            ranked.append((passage, above))
                    out.extend(
                        _Candidate(p, s_rank, c_rank, chunk.key, chunk.score, parents, heading_words, _said(p.text))
                        for p, parents in ranked
                    )
        return out


@dataclass(frozen=True)
class _Text:
    """Quotable text of one chunk, or of consecutive chunks of one section joined again."""

    key: str
    heading: str
    text: str
    score: float
    # The ranges of `text` that retrieved chunks hold. A neighbour read for context only completes the groups that
    # cross into it: nothing else of it is quoted.
    own: tuple[tuple[int, int], ...]
    # Where a fragment opens the text (`instead of the usual:`, begun in a chunk that was not read): no passage is
    # quoted from there; -1 when none.
    fragment: int = -1

    def may_quote(self, sections: list[Section]) -> Callable[[Passage], bool]:
        """Whether a passage of `sections` (this text's) may be quoted: it touches a retrieved chunk, reaches into a
        neighbour no further than a group that crosses the seam, and does not start at a fragment."""
        reach = list(self.own)
        for section in sections:
            for group in section.groups:
                if group.passage and _touches(group.passage, self.own):
                    reach.append((group.passage.start, group.passage.end))
        spans = _merged_spans(reach, self.text)

        def quotes(passage: Passage) -> bool:
            return (
                passage.start != self.fragment
                and _touches(passage, self.own)
                and any(s <= passage.start and passage.end <= e for s, e in spans)
            )

        return quotes


def _touches(passage: Passage, spans: Sequence[tuple[int, int]]) -> bool:
    return any(passage.start < e and s < passage.end for s, e in spans)


def _merged_spans(spans: list[tuple[int, int]], text: str) -> list[tuple[int, int]]:
    """Overlapping spans, and spans with only blank space between them, as one."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and not text[out[-1][1] : start].strip():
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


@dataclass(frozen=True)
class _Part:
    key: str
    heading: str
    text: str
    score: float | None  # None for a neighbour read for context


def _texts(source: SourceHit) -> list[_Text]:
    """The source's retrieved chunks, best first; an article's consecutive chunks of one section are joined.

    Ingestion packs whole blocks into chunks, so a long section's intro and the code or list it introduces can
    land in neighbouring chunks; when retrieval returned both, or one and the neighbour read to complete it
    (SourceHit.context), they are quoted together again."""
    parts = [_Part(s.chunk.chunk_id, s.chunk.heading_path, s.chunk.quotable, s.score) for s in source.chunks]
    if source.kind != "article":
        return [_Text(p.key, p.heading, p.text, p.score or 0.0, ((0, len(p.text)),)) for p in parts]
    have = {p.key for p in parts}
    if parts and source.nearby:
        # The section next to a retrieved one often answers where retrieval's top three did not (the steps under "Who
        # to contact" beside the page's introduction); it scores a little below the lowest retrieved chunk, so it is
        # quoted when it covers the question better. A chunk of a retrieved chunk's own section is not: more of the
        # same section changed many manual answers and won none (session 12; sessions 5 and 7 found the same).
        lowest = min(p.score or 0.0 for p in parts)
        near = lowest - (1 - NEARBY_SCORE) * abs(lowest)  # below it, even for a negative score
        sections = {p.heading for p in parts}
        parts += [
            _Part(c.chunk_id, c.heading_path, c.quotable, near)
            for c in source.nearby
            if c.chunk_id not in have and c.heading_path not in sections
        ]
        have = {p.key for p in parts}
    parts += [_Part(c.chunk_id, c.heading_path, c.quotable, None) for c in source.context if c.chunk_id not in have]
    rank = {p.key: i for i, p in enumerate(parts)}
    runs: list[list[_Part]] = []
    for part in sorted(parts, key=lambda p: chunk_number(p.key)):
        prev = runs[-1][-1] if runs else None
        if prev is not None and chunk_number(part.key) == chunk_number(prev.key) + 1 and part.heading == prev.heading:
            runs[-1].append(part)
        else:
            runs.append([part])
    texts = [(min(rank[p.key] for p in run if p.score is not None), _merged(run)) for run in runs if _retrieved(run)]
    return [text for _, text in sorted(texts, key=lambda pair: pair[0])]


def _retrieved(run: list[_Part]) -> bool:
    return any(p.score is not None for p in run)


def _merged(run: list[_Part]) -> _Text:
    text, spans = _join([p.text for p in run])
    own = tuple(span for span, p in zip(spans, run, strict=True) if p.score is not None)
    fragment = -1
    if run[0].score is not None and opens_with_fragment(run[0].text):
        # Its start is in the chunk before, which was not read (or is not of this section): quote from a later unit.
        fragment = split_blocks(run[0].text)[0].start
    return _Text(
        "+".join(p.key for p in run),
        run[0].heading,
        text,
        max(p.score for p in run if p.score is not None),
        own,
        fragment,
    )


def _join(parts: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """Neighbouring chunks as one text, and where each lies in it; a long paragraph split with overlap repeats its
    seam only once."""
    out = parts[0]
    spans = [(0, len(out))]
    for part in parts[1:]:
        longest = min(len(out), len(part), MAX_OVERLAP)
        seam = next((n for n in range(longest, MIN_OVERLAP - 1, -1) if out.endswith(part[:n])), 0)
        start = len(out) - seam if seam else len(out) + 2
        out = out + part[seam:] if seam else f"{out}\n\n{part}"
        spans.append((start, len(out)))
    return out, spans


def _expand(best: _Candidate, candidates: list[_Candidate]) -> _Candidate:
    """The relevant section rather than a piece of it, when it fits: its other paragraphs are the context.

    An option of a definition list stays on its own when the question names it: it covers more of the question
    than any other option of its list."""
    if best.passage.kind == "item":
        siblings = [c for c in candidates if c.passage.kind == "item" and c.parents == best.parents and c is not best]
        if all(c.coverage < best.coverage for c in siblings):
            return best
    if not best.parents:
        return best
    largest = best.parents[-1]
    return replace(best, passage=largest, parents=(), text_words=_said(largest.text))


def _said(text: str) -> frozenset[str]:
    """The words a passage says about its subject. An introduction's table of contents ("This article explains what
    counts as a failure, how retries are scheduled, ...") names the topics of every section after it, so with its
    words counted the introduction covered any question on the page better than the section answering it."""
    return _stems(without_contents(text))


def _without_closing_contents(cand: _Candidate) -> _Candidate:
    """The quoted passage without a closing table of contents: "This article explains ..." tells a customer what
    the page would say, not the answer; the citation links the page. A verbatim prefix of the passage."""
    cut = closing_contents(cand.passage.text)
    if cut is None:
        return cand
    text = cand.passage.text[:cut].rstrip()
    return replace(cand, passage=replace(cand.passage, text=text, end=cand.passage.start + len(text)))


def _second(first: _Candidate, candidates: list[_Candidate], weights: dict[str, float]) -> _Candidate | None:
    """The best passage that covers what the first misses, is about the question and repeats nothing of it.

    Shares are of the question words some candidate contains: words no passage has (`how much`) cannot be added."""
    found = frozenset().union(*(c.words for c in candidates))
    total = math.fsum(v for w, v in weights.items() if w in found) or 1.0
    covered = first.words
    first_coverage = math.fsum(weights.get(w, 0.0) for w in covered) / total
    best: _Candidate | None = None
    for cand in candidates:
        if cand is first or _overlaps(first, cand):
            continue
        new = math.fsum(weights.get(w, 0.0) for w in cand.words - covered) / total
        own = math.fsum(weights.get(w, 0.0) for w in cand.words) / total
        adds = new >= SECOND_NEW_COVERAGE and own >= SECOND_ON_TOPIC * first_coverage
        if adds and (best is None or cand.score > best.score):
            best = cand
    return best


def _example(first: _Candidate, candidates: list[_Candidate]) -> _Candidate | None:
    """The best passage with code of the first passage's source that is about the question, if any."""
    found = [
        c
        for c in candidates
        if c.source_rank == first.source_rank
        and c is not first
        and c.coverage > 0
        and _has_code(c.passage.text)
        and not _overlaps(first, c)
    ]
    # A manual's "Examples" section shows the command in use; its synopsis only states the grammar.
    return max(found, key=lambda c: (bool(_EXAMPLES.search(c.passage.heading)), c.score), default=None)


# The name of a definition list's item: `- **delete**: ...`, `- **--stats**: ...` or `` - `--stats`: ... ``.
_ITEM_NAME = re.compile(r"^\s*[-*+]\s+(?:\*\*([^*\n]+?):?\*\*|`([^`\n]+)`)", re.MULTILINE)


def _item_example(first: _Candidate, candidates: list[_Candidate], question: frozenset[str]) -> _Candidate | None:
    """For options or subcommands quoted by their descriptions, the passage of their page whose code block uses one
    the question names (`history delete ...` for the `delete` item, asked "how do I delete ...")."""
    names = []
    for m in _ITEM_NAME.finditer(first.passage.text):
        name = re.split(r"[=\s\[<]", (m.group(1) or m.group(2)).strip().rstrip(":"), maxsplit=1)[0]
        if name and _stems(name) & question:
            names.append(re.compile(rf"(?<![\w-]){re.escape(name)}(?![\w-])"))
    if not names:
        return None
    found = [
        c
        for c in candidates
        if c.source_rank == first.source_rank
        and c is not first
        and not _overlaps(first, c)
        and any(
            word.search(b.text(c.passage.text))
            for b in split_blocks(c.passage.text)
            if b.kind == "code"
            for word in names
        )
    ]
    return max(found, key=lambda c: c.score, default=None)


def _points_elsewhere(heading: str) -> bool:
    """Whether a section under `heading` (its path) only lists other pages: its own heading is "See also" or alike."""
    return _POINTERS.fullmatch(heading.rsplit(" > ", 1)[-1].strip()) is not None


def _within(heading_path: str, section: str) -> bool:
    """Whether a chunk under `heading_path` is in `section` or one of its subsections."""
    return heading_path == section or heading_path.startswith(section + " > ")


def _has_block(text: str) -> bool:
    """A code block, not only inline code: what a customer can copy as it stands."""
    return any(b.kind == "code" for b in split_blocks(text))


def _has_code(text: str) -> bool:
    """A code block or an inline code span: the command, option or setting a customer types. A regex, not a
    Markdown parse: it runs on every candidate of a how-to answer, at question time."""
    return "`" in text or "~~~" in text or bool(_INDENTED_CODE.search(text))


def _overlaps(a: _Candidate, b: _Candidate) -> bool:
    """Same text twice: one range inside the other in a chunk, or overlapping chunks repeating it."""
    if a.chunk_id == b.chunk_id and a.passage.start < b.passage.end and b.passage.start < a.passage.end:
        return True
    x, y = _fold(a.passage.text), _fold(b.passage.text)
    return x in y or y in x


def _heading(source: SourceHit, heading_path: str) -> str:
    """The section a passage is shown under: its heading path; escalations have no sections worth naming."""
    return heading_path if source.kind == "article" else ""


def _eligible_sources(sources: Sequence[SourceHit], limit: int, question: str) -> list[SourceHit]:
    if not sources:
        return []
    top = sources[0].score
    chosen = [s for i, s in enumerate(sources[:limit]) if i == 0 or s.score >= SECOND_SOURCE_RATIO * top]
    # The customer asked for an article by its title ("E1042: Attachment too large"): that article leads, not the
    # resolved escalation nearly as relevant that tells one customer's case of it.
    if len(chosen) > 1 and chosen[0].kind == "escalation" and chosen[1].kind == "article":
        title = _stems(chosen[1].title)
        if title and title <= _stems(question):
            chosen[0], chosen[1] = chosen[1], chosen[0]
    return chosen


def _dedupe(candidates: list[_Candidate]) -> list[_Candidate]:
    """Overlapping chunks repeat passages; keep the first occurrence (the better chunk)."""
    seen: set[str] = set()
    out = []
    for cand in candidates:
        key = _fold(cand.passage.text)
        if key not in seen:
            seen.add(key)
            out.append(cand)
    return out


def _term_weights(question: frozenset[str], docs: Sequence[frozenset[str]]) -> dict[str, float]:
    """Rarity of each question word among the candidates: a word every passage shares separates none of them."""
    n = len(docs)
    return {w: math.log(1 + (n + 1) / (1 + sum(w in d for d in docs))) for w in question}


@lru_cache(maxsize=8192)
def _stems(text: str) -> frozenset[str]:
    stemmer = getattr(_LOCAL, "stemmer", None)
    if stemmer is None:
        stemmer = _LOCAL.stemmer = Stemmer.Stemmer("english")
    return frozenset(stemmer.stemWords(sorted(content_words(text))))


def _fold(text: str) -> str:
    return " ".join(text.lower().split())


def _compose(picked: list[_Candidate], sources: list[SourceHit]) -> Answer:
    numbers: dict[int, int] = {}
    citations: list[Citation] = []
    parts: list[str] = []
    for cand in picked:
        passage = cand.passage
        if cand.source_rank not in numbers:
            numbers[cand.source_rank] = len(numbers) + 1
            source = sources[cand.source_rank]
            citations.append(
                Citation(
                    n=numbers[cand.source_rank],
                    source_id=source.source_id,
                    title=source.title,
                    url=source.url,
                    snippet=_snippet(passage.text),
                )
            )
        marker = f"[{numbers[cand.source_rank]}]"
        # A marker ending the last line of prose or of a list item reads naturally; after a code fence, a table
        # row, indented code or a quote (whose last line may close a fence) it needs a paragraph of its own, or it
        # would break or join the block.
        last_line = passage.text.rsplit("\n", 1)[-1]
        body = f"{passage.text}\n\n{marker}" if _OWN_LINE.match(last_line) else f"{passage.text} {marker}"
        # A second passage from the same section is not headed again.
        shown = cand is picked[0] or (cand.source_rank, passage.heading) != (
            picked[0].source_rank,
            picked[0].passage.heading,
        )
        label = _label(sources[cand.source_rank], passage.heading)
        parts.append(f"**{label}**\n\n{body}" if shown and label else body)
    return Answer(text="\n\n".join(parts), citations=citations, sentences=[c.passage.text for c in picked])


def _label(source: SourceHit, heading: str) -> str:
    """What a passage is shown under: its page's title, then its heading path (a manual's "Description" says
    nothing without the command it describes). Only shown: passages are scored on their own headings."""
    if source.kind != "article":
        return heading
    title = source.title.strip()
    if not title or title.casefold() in heading.casefold():  # "Why you see E1042: ..." already names the page
        return heading
    return f"{title} > {heading}" if heading else title


def _snippet(text: str) -> str:
    snippet = text[:SNIPPET_CHARS].strip()
    return snippet + ("…" if len(text) > SNIPPET_CHARS else "")
