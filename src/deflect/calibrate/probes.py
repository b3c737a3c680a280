"""Calibration questions made from the knowledge base itself: no hand-written golden set needed.

Each source contributes the questions its own text poses: a resolved escalation its subject and the customer's
question; an article its title and its section headings (a heading of two or more content words, or one that is
a question). Generic headings ("Overview", "Examples") say nothing about which page answers them and are left out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import resources

from deflect.answer.confidence import content_words
from deflect.domain.models import Chunk
from deflect.ingest.chunking import RESOLUTION_MARK

# An escalation question longer than this is a ticket body, not the kind of question a customer types.
MAX_PROBE_CHARS = 300
MIN_CONTENT_WORDS = 2


@dataclass(frozen=True)
class Probe:
    text: str
    source_id: str  # "" for an out-of-domain question
    kind: str  # "escalation" | "title" | "heading" | "out_of_domain"
    audience: str  # the audience of the source; probes are asked by someone who may see it
    # Every other source that poses the very same text (a manual and its man page repeat whole sections under the
    # same heading): each of them answers the probe as well as `source_id` does.
    also: frozenset[str] = frozenset()


def probes_from_chunks(chunks: Iterable[Chunk]) -> list[Probe]:
    """Every candidate probe of the indexed sources, deduplicated by text, in a stable order."""
    out: dict[str, Probe] = {}
    posers: dict[str, set[str]] = {}

    def add(text: str, chunk: Chunk, kind: str) -> None:
        text = " ".join(text.split())
        if not text or len(text) > MAX_PROBE_CHARS:
            return
        if len(content_words(text)) < MIN_CONTENT_WORDS and not text.endswith("?"):
            return
        out.setdefault(text.lower(), Probe(text, chunk.source_id, kind, chunk.audience))
        posers.setdefault(text.lower(), set()).add(chunk.source_id)

    for chunk in sorted(chunks, key=lambda c: c.chunk_id):
        if chunk.kind == "escalation":
            add(chunk.title, chunk, "escalation")
            question = chunk.text[: chunk.quote_from].removesuffix(RESOLUTION_MARK).split("\n\n", 1)[-1]
            add(question, chunk, "escalation")
        else:
            add(chunk.title, chunk, "title")
            if chunk.heading_path:
                add(chunk.heading_path.split(" > ")[-1], chunk, "heading")
    probes = (replace(p, also=frozenset(posers[key] - {p.source_id})) for key, p in out.items())
    return sorted(probes, key=lambda p: (p.source_id, p.kind, p.text))


# The content words of one title and heading path a source files text under ("URI Filenames In SQLite > See Also").
Signpost = frozenset[str]


def signposts(chunks: Iterable[Chunk]) -> dict[str, set[Signpost]]:
    """source id -> the content words of each title + heading path its chunks sit under."""
    out: dict[str, set[Signpost]] = {}
    for chunk in chunks:
        path = chunk.heading_path.replace(" > ", " ")
        out.setdefault(chunk.source_id, set()).add(frozenset(content_words(f"{chunk.title} {path}")))
    return out


def carried_by(texts: Iterable[str], posts: Mapping[str, Iterable[Signpost]]) -> dict[str, set[str]]:
    """For each text, the sources whose title and one heading path together hold every one of its content words.

    Such a source poses the probe as much as its own source does: a customer asking "URI Filenames" is served by an
    API page's section of that name and by the page titled "URI Filenames In SQLite" alike, so either answering it
    in the index is right (and, the probe's own source left out, the other answering is undecidable). Comparing
    what the two would quote (`selfcal.SAME_ANSWER_COSINE`) misses this: the section and the page say it in other
    words. Decided from the KB's own headings, one path at a time (words scattered over a long page's headings do
    not count)."""
    owner: list[str] = []
    postings: dict[str, set[int]] = {}
    for source, paths in posts.items():
        for path in paths:
            for word in path:
                postings.setdefault(word, set()).add(len(owner))
            owner.append(source)
    out: dict[str, set[str]] = {}
    for text in texts:
        words = sorted(content_words(text), key=lambda w: len(postings.get(w, ())))
        ids = set(postings.get(words[0], ())) if words else set()
        for word in words[1:]:
            ids &= postings.get(word, set())
        out[text] = {owner[i] for i in ids}
    return out


def sample(probes: Sequence[Probe], limit: int, salt: str = "deflect-probes") -> list[Probe]:
    """A stable sample of at most `limit` probes, spread over sources (one probe per source before a second)."""
    by_source: dict[str, list[Probe]] = {}
    for probe in sorted(probes, key=lambda p: _digest(salt + p.text)):
        by_source.setdefault(probe.source_id, []).append(probe)
    order = sorted(by_source, key=lambda s: _digest(salt + s))
    picked: list[Probe] = []
    depth = 0
    while len(picked) < limit and any(len(v) > depth for v in by_source.values()):
        for sid in order:
            if len(by_source[sid]) > depth and len(picked) < limit:
                picked.append(by_source[sid][depth])
        depth += 1
    return picked


def out_of_domain() -> list[Probe]:
    """Questions no product knowledge base should answer (written by us; shipped with the package)."""
    text = resources.files("deflect.calibrate").joinpath("out_of_domain.txt").read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return [Probe(line, "", "out_of_domain", "public") for line in lines]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
