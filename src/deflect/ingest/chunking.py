"""Split SourceDocs into Chunks.

Articles: sections at their headings, each packed into chunks of whole blocks (paragraph, fenced code block,
table, list item; see blocks.py); only a block larger than a chunk is cut, at line, row, nested-block or sentence
boundaries (LlamaIndex's SentenceSplitter for prose), with a code fence closed and reopened and a table's header
row repeated; a block quote is cut at its own blocks the same way, each piece keeping its `>` markers. Every
chunk keeps its title and heading path.

Escalations: one chunk that embeds the customer's question alone (paraphrases of a problem match the problem,
not the fix) plus chunks that embed question + resolution; all quote only the
resolution. Retrieval scores a source by its best chunk, so this is "best field" matching.
"""

from __future__ import annotations

import re
from dataclasses import replace

from deflect.domain.models import Chunk, SourceDoc, chunk_id
from deflect.ingest.blocks import Block, Section, blocks, heading_key, sections, split_item

RESOLUTION_MARK = "\n\nResolution: "
# The heading of an escalation's question-only chunk (what self-calibration must not match literally).
QUESTION_HEADING = "Problem"
_PAGE = re.compile(r"^Page (\d+)$")
_PAGE_ANCHOR = re.compile(r"^page-(\d+)$")  # a PDF heading's page (ingest/pdf/)
# A chunk before it is built: heading path, text, embedded text, quote offset, section anchor, landing fragments.
_Piece = tuple[str, str, str, int, str, tuple[str, ...]]


class Chunker:
    """Deterministic chunking; `signature` changes whenever the output for the same input could change."""

    def __init__(self, chunk_size: int, chunk_overlap: int, page_lead: bool = False) -> None:
        self._size = chunk_size
        # Imported here, not at the top: the service and calibration import this module for its constants, and
        # llama-index costs ~0.7 s that `deflect --help` and the model-free commands should not pay.
        from llama_index.core.node_parser import SentenceSplitter
        from llama_index.core.utils import get_tokenizer

        # The token counter SentenceSplitter uses, so "chunk size" means the same for prose and for blocks.
        self._tokenizer = get_tokenizer()
        self._splitter = SentenceSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)
        self._page_lead = page_lead
        self.signature = self.signature_of(chunk_size, chunk_overlap, page_lead)

    @staticmethod
    def signature_of(chunk_size: int, chunk_overlap: int, page_lead: bool = False) -> str:
        """The signature of a chunker of these settings, without building one (no tokenizer is loaded)."""
        # v8: chunks carry the link fragments that land on their section (Chunk.fragments).
        # v9: an item's bold term keeps a code span whole (`f(a, **kw)`): headings of indexed chunks change; a
        # block quote larger than a chunk is cut at its blocks, its code at lines (it was cut as prose).
        return f"chunker-v9:{chunk_size}:{chunk_overlap}" + (":lead" if page_lead else "")

    def chunk(self, doc: SourceDoc) -> list[Chunk]:
        """All chunks of one source, with ids `<source_id>#<n>`."""
        pieces = self._article_pieces(doc) if doc.kind == "article" else self._escalation_pieces(doc)
        return [
            Chunk(
                chunk_id=chunk_id(doc.source_id, i),
                source_id=doc.source_id,
                kind=doc.kind,
                title=doc.title,
                heading_path=heading,
                url=_url(doc, heading, anchor),
                audience=doc.audience,
                product=doc.product,
                tags=doc.tags,
                updated=doc.updated,
                text=text,
                embed_text=embed,
                quote_from=quote_from,
                origin=doc.origin,
                origin_root=doc.origin_root,
                source_hash=doc.content_hash,
                source_chunks=len(pieces),
                fragments=fragments,
            )
            for i, (heading, text, embed, quote_from, anchor, fragments) in enumerate(pieces)
        ]

    def _article_pieces(self, doc: SourceDoc) -> list[_Piece]:
        pieces: list[_Piece] = []
        found = sections(doc.body)
        landing = _landing(doc, found)
        # A long manual page's later chunks (an options table, an example) no longer say what the page is about;
        # its opening sentence does (docs/retrieval.md: helped the borg manual, not bup's man pages or short articles).
        lead = page_lead(found) if self._page_lead else ""
        for section in found:
            if not section.blocks:
                continue  # a heading directly followed by a sub-heading carries no knowledge of its own
            parents = section.parents
            if parents and parents[0] == doc.title:
                parents = parents[1:]  # the H1 usually repeats the title, which every chunk carries anyway
            heading = "" if section.heading == doc.title else section.heading
            path = " > ".join([*parents, heading] if heading else parents)
            for part in self._pack(section.blocks, path):
                # The heading is context for readers and embeddings, never a sentence of an answer.
                prefix = f"{heading}\n\n" if heading else ""
                label = f"{doc.title}: {lead}" if lead and lead[:60] not in " ".join(part.split()) else doc.title
                embed = f"{label}\n{path}\n\n{part}" if path else f"{label}\n\n{part}"
                pieces.append((path, prefix + part, embed, len(prefix), section.anchor, landing.get(id(section), ())))
        return pieces

    def _pack(self, section: list[Block], path: str) -> list[str]:
        """Whole blocks, greedily, up to the chunk size; only a block larger than a chunk is cut (see _fit)."""
        parts: list[str] = []
        current: list[tuple[Block, int]] = []  # blocks of the chunk being filled, with their sizes in tokens
        for block in (unit for b in section for unit in self._fit(b)):
            size = self._tokens(block.text)
            if current and sum(n for _, n in current) + size > self._size:
                # A block ending in a colon announces this one ("Run this:" before its command): it opens the next
                # chunk, with what it introduces, rather than ending this one on a promise.
                keeps = sum(b.kind != "heading" for b, _ in current) > 1  # never a chunk of headings alone
                carried = [current.pop()] if keeps and announces(current[-1][0].text) else []
                parts.append(_render(current))
                current = self._headed(carried, path)
            if not current and block.context:
                current = self._headed([(block, size)], path)
                continue
            opened = current[0][0].context if current and current[0][0].kind == "heading" else ""
            if opened and block.context != opened and path and not any(b.kind == "heading" for b, _ in current[1:]):
                # The item the chunk opened inside has ended: what follows is the section's again, not the item's.
                restore = Block(f"{_HEADING_MARK} {path}", "heading")
                current.append((restore, self._tokens(restore.text)))
            current.append((block, size))
        if current:
            parts.append(_render(current))
        return parts

    def _headed(self, blocks: list[tuple[Block, int]], path: str) -> list[tuple[Block, int]]:
        """A chunk that opens inside a list item (the later paragraphs of a long option description, the rest of a
        step) is headed by the item's term under the section's path: quoted alone, its first paragraph ("When set
        to yes, ...") would not say which option it describes."""
        if not blocks or not blocks[0][0].context:
            return blocks
        context = blocks[0][0].context
        title = f"{path} > {context}" if path else context
        head = Block(f"{_HEADING_MARK} {title}", "heading", context=context)
        return [(head, self._tokens(head.text)), *blocks]

    def _fit(self, block: Block, quote: str = "") -> list[Block]:
        """A block as pieces no larger than a chunk: code at line boundaries with the fence closed and reopened,
        tables at row boundaries under their header row, list items at their nested blocks, block quotes at theirs
        (each piece quoted again), prose at sentences. `quote`: the markers each line will carry, inside a quote."""
        if self._tokens(_quoted(block.text, quote)) <= self._size:
            return [block]
        inner = _unquoted(block.text) if block.kind == "text" else None
        if inner is not None:
            # A quote larger than a chunk (reStructuredText's `.. tab::` becomes one): cut like its blocks would be
            # outside it, so a code block in it is cut at lines with its fences balanced, not mid-line as prose.
            fitted = (piece for b in blocks(inner) for piece in self._fit(b, quote + _QUOTE_MARK))
            return [replace(piece, text=_quoted(piece.text, _QUOTE_MARK)) for piece in fitted]
        if block.kind == "code":
            return self._split_lines(block, head=1, tail=1, quote=quote)
        if block.kind == "table":
            return self._split_lines(block, head=2, tail=0, quote=quote)
        if block.kind == "item":
            head, nested = split_item(block.text)
            if nested:
                first = Block(head, "text", block.continues_list)
                pieces = [*self._fit(first, quote), *(unit for b in nested for unit in self._fit(b, quote))]
            else:
                pieces = self._sentences(block.text)
            # Every piece after the first carries the item's term (a nested item's own term wins): see _headed.
            term = item_term(head)
            return [pieces[0], *(p if p.context or not term else replace(p, context=term) for p in pieces[1:])]
        return self._sentences(block.text)

    def _sentences(self, text: str) -> list[Block]:
        """Prose too large for a chunk, cut at sentences (LlamaIndex's SentenceSplitter, with its overlap)."""
        return [Block(part, "text") for part in self._splitter.split_text(text)]

    def _split_lines(self, block: Block, head: int, tail: int, quote: str = "") -> list[Block]:
        lines = block.text.splitlines()
        top, body = lines[:head], lines[head : len(lines) - tail]
        bottom = lines[len(lines) - tail :] if tail else []
        budget = self._size - self._tokens(_quoted("\n".join(top + bottom), quote))
        out: list[list[str]] = [[]]
        used = 0
        for line in body:
            size = self._tokens(quote + line) + 1
            if out[-1] and used + size > budget:
                out.append([])
                used = 0
            out[-1].append(line)
            used += size
        return [Block("\n".join(top + group + bottom), block.kind) for group in out if group]

    def _tokens(self, text: str) -> int:
        return len(self._tokenizer(text))

    def _escalation_pieces(self, doc: SourceDoc) -> list[_Piece]:
        head = f"{doc.title}\n\n{doc.body}"
        full = head + RESOLUTION_MARK + doc.resolution
        quote_from = len(head) + len(RESOLUTION_MARK)
        pieces: list[_Piece] = [(QUESTION_HEADING, full, head, quote_from, "", ())]
        for part in self._splitter.split_text(doc.resolution):
            text = head + RESOLUTION_MARK + part
            pieces.append(("Resolution", text, text, quote_from, "", ()))
        return pieces


def _landing(doc: SourceDoc, found: list[Section]) -> dict[int, tuple[str, ...]]:
    """Per section (by identity), the link fragments that land on it: its heading's id and the ids the page maps to
    it (SourceDoc.fragments: by the heading's id, or by its words when it has none); the first section that has text
    also takes "" (a link without a fragment) and the ids of the page's opening."""
    by_heading: dict[str, list[str]] = {}
    for ident, heading in doc.fragments:
        by_heading.setdefault(heading, []).append(ident)
    first = next((s for s in found if s.blocks), None)
    out: dict[int, tuple[str, ...]] = {}
    carried: list[str] = []  # a heading directly followed by a sub-heading: its links land on what follows
    for section in found:
        lands = [*carried, section.anchor, *by_heading.get(section.anchor, [])] if section.anchor else [*carried]
        if section.heading and not section.anchor:
            lands += by_heading.get(heading_key(section.heading), [])
        if not section.blocks:
            carried = lands
            continue
        carried = []
        if section is first:
            lands = ["", *lands, *by_heading.get("", [])]
        out[id(section)] = tuple(dict.fromkeys(lands))
    return out


def _render(blocks: list[tuple[Block, int]]) -> str:
    """A chunk's blocks as Markdown: list items of one list a line apart, other blocks a blank line apart."""
    text = ""
    previous: Block | None = None
    for block, _ in blocks:
        tight = block.continues_list and previous is not None and previous.kind != "heading"
        joiner = "\n" if tight else "\n\n"
        text = f"{text}{joiner}{block.text}" if text else block.text
        previous = block
    return text


_QUOTE_MARK = "> "
# A block quote's marker on one line: up to three spaces, `>`, and the space after it if any (CommonMark).
_QUOTE_LINE = re.compile(r"^ {0,3}> ?")


def _unquoted(text: str) -> str | None:
    """A block quote's content, one level of markers off (None: the text is no block quote). A line without a
    marker is a lazy continuation of the paragraph above it, and stays as it is."""
    if not _QUOTE_LINE.match(text):
        return None
    return "\n".join(_QUOTE_LINE.sub("", line, count=1) for line in text.splitlines())


def _quoted(text: str, quote: str) -> str:
    """`text` with `quote` before each line (a blank line gets the marker alone)."""
    if not quote:
        return text
    return "\n".join(quote + line if line.strip() else quote.rstrip() for line in text.splitlines())


def announces(text: str) -> bool:
    """Whether a block introduces the one after it: it ends in a colon (closing emphasis aside)."""
    return text.rstrip().rstrip("*_").rstrip().endswith(":")


_HEADING_MARK = "####"
_ITEM_MARKER = re.compile(r"^\s*(?:[-*+]|\d{1,9}[.)])\s+")
# A code span inside the bold is read whole: a signature's `**kw` does not close it (`f(a, **kw)`).
_BOLD_TERM = re.compile(r"^\*\*((?:(`+).+?\2(?!`)|.)+?)\*\*")
_CODE_TERM = re.compile(r"^(`[^`\n]+`)")
_TERM_CHARS = 80


def item_term(head: str) -> str:
    """What a list item is about, in its own words: a definition's bold or code term (`--depth <n>`), else its
    opening words ("3. Create the repository"), without a closing colon and at most ~80 characters."""
    first = head.strip().splitlines()[0] if head.strip() else ""
    text = _ITEM_MARKER.sub("", first, count=1)
    match = _BOLD_TERM.match(text) or _CODE_TERM.match(text)
    if match:
        term = match.group(1)
    else:
        sentence = _SENTENCE.match(text)
        term = sentence.group(1) if sentence else text
        if len(term) > _TERM_CHARS:
            term = term[:_TERM_CHARS].rsplit(" ", 1)[0] + " …"
        marker = _ITEM_MARKER.match(first)
        number = marker.group(0).strip() if marker and marker.group(0).strip()[0].isdigit() else ""
        term = f"{number} {term}".strip()
    return term.strip().rstrip(":").strip()


_SENTENCE = re.compile(r"(.{40,240}?[.!?])(?:\s|$)")


def page_lead(found: list[Section]) -> str:
    """The page's opening sentence: the first prose paragraph's first sentence (at most 240 characters)."""
    for section in found:
        for block in section.blocks:
            if block.kind == "text":
                text = " ".join(block.text.split())
                match = _SENTENCE.match(text)
                return match.group(1) if match else text[:200]
    return ""


def _url(doc: SourceDoc, heading_path: str, anchor: str) -> str:
    """Where a chunk's citation opens: a PDF chunk at its page (`#page=N`, which browsers' PDF viewers follow),
    an HTML section at its heading's id; the page itself when the url already names a fragment."""
    if not doc.url or "#" in doc.url:
        return doc.url
    match = _PAGE.match(heading_path) or _PAGE_ANCHOR.match(anchor)
    if match and doc.origin.lower().endswith(".pdf"):
        return f"{doc.url}#page={match.group(1)}"
    return f"{doc.url}#{anchor}" if anchor else doc.url
