"""Split SourceDocs into Chunks with LlamaIndex node parsers.

Articles: heading-aware (MarkdownNodeParser), long sections split again by SentenceSplitter; every chunk keeps
its title and heading path. Escalations: one chunk that embeds the customer's question alone (paraphrases of a
problem match the problem, not the fix) plus chunks that embed question + resolution; all quote only the
resolution. Retrieval scores a source by its best chunk, so this is "best field" matching.
"""

from __future__ import annotations

from llama_index.core import Document
from llama_index.core.node_parser import MarkdownNodeParser, SentenceSplitter

from deflect.domain.models import Chunk, SourceDoc

RESOLUTION_MARK = "\n\nResolution: "
# Joins headings in LlamaIndex's `header_path`; a heading never spans lines, so "/" in a heading survives.
_PATH_SEP = "\n"


class Chunker:
    """Deterministic chunking; `signature` changes whenever the output for the same input could change."""

    def __init__(self, chunk_size: int, chunk_overlap: int) -> None:
        # `header_path` (the parent headings) is only recorded when metadata is included.
        self._markdown = MarkdownNodeParser(include_metadata=True, header_path_separator=_PATH_SEP)
        self._splitter = SentenceSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)
        self.signature = f"chunker-v3:{chunk_size}:{chunk_overlap}"

    def chunk(self, doc: SourceDoc) -> list[Chunk]:
        """All chunks of one source, with ids `<source_id>#<n>`."""
        pieces = self._article_pieces(doc) if doc.kind == "article" else self._escalation_pieces(doc)
        return [
            Chunk(
                chunk_id=f"{doc.source_id}#{i}",
                source_id=doc.source_id,
                kind=doc.kind,
                title=doc.title,
                heading_path=heading,
                url=doc.url,
                audience=doc.audience,
                product=doc.product,
                tags=doc.tags,
                updated=doc.updated,
                text=text,
                embed_text=embed,
                quote_from=quote_from,
                origin=doc.origin,
                source_hash=doc.content_hash,
                source_chunks=len(pieces),
            )
            for i, (heading, text, embed, quote_from) in enumerate(pieces)
        ]

    def _article_pieces(self, doc: SourceDoc) -> list[tuple[str, str, str, int]]:
        pieces: list[tuple[str, str, str, int]] = []
        for node in self._markdown.get_nodes_from_documents([Document(text=doc.body)]):
            section = node.get_content()
            heading, content = _split_heading(section)
            if not content:
                continue  # a heading directly followed by a sub-heading carries no knowledge of its own
            parents = [p for p in str(node.metadata.get("header_path", "")).split(_PATH_SEP) if p]
            if parents and parents[0] == doc.title:
                parents = parents[1:]  # the H1 usually repeats the title, which every chunk carries anyway
            if heading == doc.title:
                heading = ""
            path = " > ".join([*parents, heading] if heading else parents)
            for part in self._splitter.split_text(content):
                # The heading is context for readers and embeddings, never a sentence of an answer.
                prefix = f"{heading}\n\n" if heading else ""
                embed = f"{doc.title}\n{path}\n\n{part}" if path else f"{doc.title}\n\n{part}"
                pieces.append((path, prefix + part, embed, len(prefix)))
        return pieces

    def _escalation_pieces(self, doc: SourceDoc) -> list[tuple[str, str, str, int]]:
        head = f"{doc.title}\n\n{doc.body}"
        full = head + RESOLUTION_MARK + doc.resolution
        quote_from = len(head) + len(RESOLUTION_MARK)
        pieces = [("Problem", full, head, quote_from)]
        for part in self._splitter.split_text(doc.resolution):
            text = head + RESOLUTION_MARK + part
            pieces.append(("Resolution", text, text, quote_from))
        return pieces


def _split_heading(section: str) -> tuple[str, str]:
    """`## Title\n\nbody` -> ("Title", "body")."""
    first, _, rest = section.strip().partition("\n")
    if first.startswith("#"):
        return first.lstrip("#").strip(), rest.strip()
    return "", section.strip()
